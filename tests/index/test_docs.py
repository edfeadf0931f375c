"""The README and config.example.toml agree with the code."""

from __future__ import annotations

import dataclasses
import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest

from index.cli.commands import cli
from index.config import Config

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
EXAMPLE = REPO / "config.example.toml"
MAKEFILE = REPO / "Makefile"


@pytest.fixture(scope="module")
def readme() -> str:
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    if not re.search(r"^## Set up", text, re.M):
        pytest.skip("README.md has no '## Set up' section yet")
    return text


def _invocations(text: str) -> list[list[str]]:
    """Every `newsdesk ...` command line in the README (code blocks and inline code)."""
    found = []
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    indented = re.findall(r"^(?: {4}|\t)(.+)$", outside, re.M)  # Markdown's indented code blocks
    snippets = fenced + indented + re.findall(r"`([^`\n]+)`", outside)
    for snippet in snippets:
        for line in snippet.splitlines():
            line = line.strip().lstrip("$ ").strip()
            for match in re.finditer(r"(?:^|[\s;&|(])(?:\S*/)?newsdesk((?:\s+[^\s#|;&)]+)*)", line):
                try:
                    words = shlex.split(match.group(1))
                except ValueError:
                    words = match.group(1).split()
                found.append(words)
    return found


def _resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    rest = list(words)
    while rest and isinstance(command, click.Group):
        word = rest[0]
        if word.startswith("-"):
            if word in ("--config",) and len(rest) > 1:
                rest = rest[2:]
                continue
            rest = rest[1:]
            continue
        if word not in command.commands:
            if command is cli and not re.fullmatch(r"[a-z][a-z-]*", word):
                return command, []  # `newsdesk` followed by prose or a placeholder
            raise AssertionError(f"README mentions `newsdesk ... {word}` but there is no such command")
        command = command.commands[word]
        rest = rest[1:]
    return command, rest


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def test_every_command_in_the_readme_exists(readme):
    invocations = [w for w in _invocations(readme) if w]
    assert invocations, "the README shows no newsdesk command"
    for words in invocations:
        command, rest = _resolve(words)
        for word in rest:
            word = word.strip("[]")  # "[--fix]": an optional option
            if word.startswith("--"):
                option = word.split("=", 1)[0]
                assert option in _options(command) | _options(cli), (
                    f"README: `newsdesk {' '.join(words)}`: {option} is not an option of {command.name}"
                )


def test_make_targets_in_the_readme_exist(readme):
    targets = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    if not targets:
        pytest.skip("the README names no make target")
    assert MAKEFILE.exists()
    defined = set(re.findall(r"^([a-z][\w-]*):", MAKEFILE.read_text(encoding="utf-8"), re.M))
    assert targets <= defined


def test_readme_mentions_the_config_example(readme):
    if EXAMPLE.exists():
        assert "config.example.toml" in readme


def test_config_example_keys_equal_the_config_fields():
    if not EXAMPLE.exists():
        pytest.skip("config.example.toml is not written yet")
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    expected = {
        f.name: {g.name for g in dataclasses.fields(f.default_factory())}
        for f in dataclasses.fields(Config)
        if f.name != "source"
    }
    assert set(raw) == set(expected)
    for section, keys in expected.items():
        assert set(raw[section]) == keys, section


def test_every_command_has_help():
    def walk(command, prefix):
        yield prefix, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{prefix} {name}")

    for name, command in walk(cli, "newsdesk"):
        assert (command.help or command.short_help or "").strip(), f"{name} has no help text"
