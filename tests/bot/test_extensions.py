"""The bot's extensions are found by walking ``bot/exts``; this checks the walk against the tree."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import bot
from bot import EXTENSIONS, walk_extensions

EXTS = Path(bot.__file__).resolve().parent / "exts"


def module_name(path: Path) -> str:
    parts = path.relative_to(EXTS.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def defines_a_cog(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    return any(
        isinstance(node, ast.ClassDef) and any("Cog" in ast.unparse(base) for base in node.bases) for node in tree.body
    )


def test_every_extension_has_a_setup():
    assert EXTENSIONS == walk_extensions()
    missing = [
        name
        for name in EXTENSIONS
        if not inspect.iscoroutinefunction(getattr(importlib.import_module(name), "setup", None))
    ]
    assert missing == [], f"not extensions (a helper module's name should start with _): {missing}"


def test_every_cog_in_the_tree_is_loaded_by_an_extension():
    unloaded = [
        module_name(path)
        for path in sorted(EXTS.rglob("*.py"))
        if defines_a_cog(path)
        and not any(module_name(path) == e or module_name(path).startswith(e + ".") for e in EXTENSIONS)
    ]
    assert unloaded == []


def test_the_areas_and_their_features_are_found():
    areas = {name.split(".")[2] for name in EXTENSIONS}
    assert areas == {p.name for p in EXTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert "bot.exts.admin.feeds" in EXTENSIONS  # a package extension
    assert not any(part.startswith("_") for name in EXTENSIONS for part in name.split("."))
