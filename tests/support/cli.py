"""The `newsdesk` command driven in-process (click's runner) with a config file of its own."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from index.cli.commands import cli

from .config import write_toml


def write_config(directory: Path, **sections: dict) -> Path:
    """A config file for the answers tests' archive: its own data dir, the hash embedder, no page
    fetches; ``sections`` are more tables (``answers={"max_sentences": 1}``)."""
    directory.mkdir(parents=True, exist_ok=True)
    return write_toml(
        directory / "newsdesk.toml",
        data={"dir": str(directory / "data")},
        embedding={"model": "hash-embedder-256"},
        feeds={"allow_private_networks": True, "fetch_full_text": "never", "retries": 0, "timeout_seconds": 5.0},
        **sections,
    )


class Cli:
    """`newsdesk --config …` run in-process by click's runner; fails on a traceback or another exit code."""

    def __init__(self, config: Path):
        self.config = config
        self.runner = CliRunner()

    def __call__(self, *args, code: int = 0):
        result = self.runner.invoke(cli, ["--config", str(self.config), *map(str, args)])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, (args, result.output)
        assert "Traceback" not in result.output
        return result

    def json(self, *args, code: int = 0):
        return json.loads(self(*args, code=code).stdout)

    def lines(self, *args):
        return [json.loads(line) for line in self(*args).stdout.splitlines() if line.strip()]
