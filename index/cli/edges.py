"""What every `newsdesk` command shares at the edge: domain errors become one line on stderr and
an exit code (2 for configuration, 1 for the rest), and JSON output is written one way."""

from __future__ import annotations

import functools
import json
import sys

import click

from ..errors import ConfigError, NewsdeskError


def handle_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except NewsdeskError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def dense_json(desk) -> dict:
    """Whether the search just made (this process's last) used dense retrieval, and why not when
    it failed: a search that fell back to keywords alone says so in JSON too."""
    state = desk.retriever.dense_state
    return {"dense": bool(state and state.ran), "dense_error": state.error if state else None}
