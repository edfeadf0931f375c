"""The README, docs/*.md and config.example.toml agree with the code: the commands and options they
show exist, the config keys they name exist, every page of docs/ is linked from the README and
every relative link resolves, and docs/architecture.md's package map matches the tree."""

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
DOCS = REPO / "docs"
ARCHITECTURE = DOCS / "architecture.md"
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


def _resolve(words: list[str], where: str = "README") -> tuple[click.Command, list[str]]:
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
            raise AssertionError(f"{where} mentions `newsdesk ... {word}` but there is no such command")
        command = command.commands[word]
        rest = rest[1:]
    return command, rest


def _options(command: click.Command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", []))
        names.update(getattr(param, "secondary_opts", []))
    return names


def _docs_pages() -> list[Path]:
    return sorted(DOCS.glob("*.md")) if DOCS.is_dir() else []


def _check_commands(text: str, where: str) -> None:
    for words in (w for w in _invocations(text) if w):
        command, rest = _resolve(words, where)
        for word in rest:
            word = word.strip("[]")  # "[--fix]": an optional option
            if word.startswith("--"):
                option = word.split("=", 1)[0]
                assert option in _options(command) | _options(cli), (
                    f"{where}: `newsdesk {' '.join(words)}`: {option} is not an option of {command.name}"
                )


def test_every_command_in_the_readme_exists(readme):
    assert [w for w in _invocations(readme) if w], "the README shows no newsdesk command"
    _check_commands(readme, "README")


@pytest.mark.parametrize("page", _docs_pages(), ids=lambda p: p.name)
def test_every_command_in_the_docs_exists(page):
    _check_commands(page.read_text(encoding="utf-8"), f"docs/{page.name}")


def _make_targets(text: str) -> list[str]:
    """`make X` in code (blocks and inline), not the word "make" in prose ("make it")."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    code = fenced + re.findall(r"^(?: {4}|\t)(.+)$", outside, re.M) + re.findall(r"`([^`\n]+)`", outside)
    return [t for snippet in code for t in re.findall(r"(?:^|[\s;&|(])make ([a-z][\w-]*)", snippet, re.M)]


def test_make_targets_in_the_readme_and_docs_exist(readme):
    named = {
        (name, target)
        for name, text in [("README", readme)]
        + [(f"docs/{p.name}", p.read_text(encoding="utf-8")) for p in _docs_pages()]
        for target in _make_targets(text)
    }
    if not named:
        pytest.skip("the README names no make target")
    assert MAKEFILE.exists()
    defined = set(re.findall(r"^([a-z][\w-]*):", MAKEFILE.read_text(encoding="utf-8"), re.M))
    unknown = sorted(f"{where}: make {target}" for where, target in named if target not in defined)
    assert not unknown, f"make targets named but not in the Makefile: {unknown}"


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


# -- config keys named in the prose -----------------------------------------------------------------
def _config_keys() -> dict[str, set[str]]:
    return {
        f.name: {g.name for g in dataclasses.fields(f.default_factory())}
        for f in dataclasses.fields(Config)
        if f.name != "source"
    }


def _named_keys(text: str) -> list[tuple[str, str]]:
    """Config keys written as `[section] key` or `section.key` in inline code."""
    sections = "|".join(_config_keys())
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    found = []
    for code in re.findall(r"`([^`\n]+)`", outside):
        match = re.match(rf"\[({sections})\]\s+(\w+)", code) or re.fullmatch(rf"({sections})\.(\w+)(?:\s*=.*)?", code)
        if match and not _is_module(*match.groups()):
            found.append((match.group(1), match.group(2)))
    return found


def _is_module(section: str, key: str) -> bool:
    """`index.service` is a module, not the key `service` of the [index] section."""
    return (REPO / section / f"{key}.py").exists() or (REPO / section / key).is_dir()


@pytest.mark.parametrize("page", [README, *_docs_pages()], ids=lambda p: p.name)
def test_config_keys_named_in_the_docs_exist(page):
    keys = _config_keys()
    named = _named_keys(page.read_text(encoding="utf-8"))
    unknown = [f"{section}.{key}" for section, key in named if key not in keys[section]]
    assert not unknown, f"{page.name} names config keys that do not exist: {unknown}"


def test_config_key_check_sees_a_wrong_key():
    """The check above reads both spellings (guards against a pattern that matches nothing)."""
    named = _named_keys('set `[index] dense` and `embedding.backend = "onnx"`, not `[index] densest`')
    assert named == [("index", "dense"), ("embedding", "backend"), ("index", "densest")]
    assert "densest" not in _config_keys()["index"]


# -- links ------------------------------------------------------------------------------------------
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def _links(text: str) -> list[str]:
    return LINK.findall(re.sub(r"```.*?```", "", text, flags=re.S))


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_docs_page_is_linked_from_the_readme(readme):
    linked = {(README.parent / link.split("#")[0]).resolve() for link in _links(readme)}
    unlinked = [f"docs/{p.name}" for p in _docs_pages() if p.resolve() not in linked]
    assert not unlinked, f"pages of docs/ the README does not link to: {unlinked}"


@pytest.mark.parametrize("page", [README, *_docs_pages()], ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    broken = []
    for link in _links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z+.-]*:", link):  # http:, https:, mailto:: not followed
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            broken.append(link)
        elif anchor and target.suffix == ".md":
            headings = re.findall(r"^#+\s+(.+)$", target.read_text(encoding="utf-8"), re.M)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(link)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


# -- the package map --------------------------------------------------------------------------------
PACKAGES = ("index", "bot")


def _modules_on_disk() -> set[str]:
    """Every package (as 'index/archive/') and module (as 'index/archive/db.py') of index/ and bot/;
    a package stands for its __init__.py."""
    out = set()
    for root in PACKAGES:
        for path in (REPO / root).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(REPO)
            out.add(f"{rel.parent.as_posix()}/" if path.name == "__init__.py" else rel.as_posix())
    return out


def _modules_in_map(text: str) -> set[str]:
    """The tree in architecture.md's "package map" section: two spaces of indent a level, a
    package's line ends its name with '/', a module's with '.py'; what follows is its description."""
    section = text.split("## The package map", 1)[-1]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, "docs/architecture.md has no ```text block under '## The package map'"
    out, stack = set(), []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, f"package map: odd indent in {line!r}"
        name = line.split()[0]
        depth = indent // 2
        assert depth <= len(stack), f"package map: {name} is indented under no package"
        del stack[depth:]
        if name.endswith("/"):
            stack.append(name)
            out.add("".join(stack))
        else:
            assert name.endswith(".py"), f"package map: {name!r} is neither a package/ nor a module.py"
            assert len(line.split()) > 1, f"package map: {name} has no description"
            out.add("".join(stack) + name if not name == "__init__.py" else "".join(stack))
    return out


def test_the_package_map_matches_the_tree():
    if not ARCHITECTURE.exists():
        pytest.skip("docs/architecture.md is not written yet")
    in_map = _modules_in_map(ARCHITECTURE.read_text(encoding="utf-8"))
    on_disk = _modules_on_disk()
    missing, extra = sorted(on_disk - in_map), sorted(in_map - on_disk)
    assert not missing and not extra, (
        "docs/architecture.md's package map and the tree differ:\n"
        + (f"  on disk, not in the map (add a line each): {', '.join(missing)}\n" if missing else "")
        + (f"  in the map, not on disk (remove or rename): {', '.join(extra)}\n" if extra else "")
    )
