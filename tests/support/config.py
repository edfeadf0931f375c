"""Test configurations (the hash embedder, private networks allowed, short timeouts) and the
`newsdesk` command run as a user runs it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from index.config import Config

REPO = Path(__file__).resolve().parents[2]


SHARED = REPO / ".." / "shared"


def make_config(data_dir: Path | str, **feeds) -> Config:
    """Test configuration: hash embedder, private networks allowed, short timeouts, few retries."""
    base = Config()
    feed_cfg = dataclasses.replace(
        base.feeds, allow_private_networks=True, retries=0, timeout_seconds=2.0, workers=4, **feeds
    )
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, dir=str(data_dir)),
        embedding=dataclasses.replace(base.embedding, model="hash-embedder-256"),
        feeds=feed_cfg,
    )


def with_index(config: Config, **index) -> Config:
    return dataclasses.replace(config, index=dataclasses.replace(config.index, **index))


def with_embedding(config: Config, **embedding) -> Config:
    return dataclasses.replace(config, embedding=dataclasses.replace(config.embedding, **embedding))


# -- the command line ------------------------------------------------------------------
NEWSDESK = Path(sys.executable).with_name("newsdesk")


def write_toml(path: Path, **sections: dict) -> Path:
    """A config file as a user writes one: each section (``feeds={"retries": 0}``) as a TOML table.
    Values are written as JSON, whose strings, numbers and booleans are TOML's too."""
    lines = []
    for name, values in sections.items():
        lines += [f"[{name}]", *(f"{key} = {json.dumps(value)}" for key, value in values.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_config(path: Path, **feeds) -> Path:
    """A config file for `newsdesk --config`: the hash embedder, short timeouts. The data dir and
    private networks come from NEWSDESK_DATA_DIR / NEWSDESK_ALLOW_PRIVATE_NETWORKS."""
    return write_toml(
        path,
        embedding={"model": "hash-embedder-256"},
        feeds={"timeout_seconds": 2.0, "retries": 0, "workers": 4, **feeds},
    )


def cli_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSDESK_")}
    env.update(NEWSDESK_DATA_DIR=str(data_dir), NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", HF_HUB_OFFLINE="1")
    return env


def newsdesk(args: list[str], data_dir: Path, config_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NEWSDESK), "--config", str(config_path), *args],
        env=cli_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_newsdesk(args: list[str], data_dir: Path, config_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(NEWSDESK), "--config", str(config_path), *args],
        env=cli_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
