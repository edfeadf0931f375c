"""The layering docs/architecture.md promises, read from the code itself (so a change that breaks a rule fails):

- ``bot/`` imports only ``index.service`` (the composition root), the feature services it holds,
  ``index.models``, ``index.errors`` and ``index.config``;
- the archive (``index/archive/``) imports nothing of delivery, following, search, answers, vectors or
  ingest: what it stores are plain data classes of ``index.models``;
- storage never words a message for users: no ``BadQuery``/``LimitReached`` in the archive, and every
  per-server or per-member limit is stated once, in ``index/policy.py``;
- no module in ``index/`` or ``bot/`` is much over 600 lines (migrations excepted);
- no SQL outside ``index/archive/``;
- nothing in ``index/`` imports ``bot``, except the one lazy import that starts the bot
  (``index/cli/commands.py``, the ``run`` command);
- no import cycles between modules, and internal imports at module top (lazy ones are only for
  heavy optional libraries, never for newsdesk's own modules).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "index.feeds.service",
    "index.ingest.service",
    "index.search.service",
    "index.delivery.service",
    "index.delivery.settings",
    "index.health",
    "index.following.watch_service",
    "index.following.feedback_service",
    "index.following.alerts",
    "index.following.digest_service",
    "index.following.stories",
}
BOT_MAY_IMPORT = {"index.service", "index.models", "index.errors", "index.config"} | SERVICES
ARCHIVE_MAY_NOT_IMPORT = (
    "index.delivery",
    "index.following",
    "index.search",
    "index.answers",
    "index.vectors",
    "index.ingest",
)
USER_WORDING = ("BadQuery", "LimitReached")  # errors whose message is a refusal worded for the user
# a limit's name as policy states it; anywhere else, a module-level constant like this restates it
LIMIT_NAME = re.compile(r"^(MAX_)?\w*(WATCHES|FOLLOWS|SCHEDULES)(_PER_(GUILD|MEMBER))?$")
MAX_LINES = 620  # about 600
LONG_ALLOWED = {
    "index/archive/migrations.py",
    "index/archive/pg_migrations.py",
}
LAZY_BOT_IMPORT = ("index/cli/commands.py", "bot")
# SQL as this project writes it: keywords in capitals
SQL = re.compile(
    r"\b(SELECT\b.*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\[?\w+\]?\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|VIRTUAL)|PRAGMA\s+\w+)",
    re.S,
)


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


ALL = modules("index") | modules("bot")


def resolve(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """Absolute module names an ``from … import …`` statement loads (a name may be a submodule)."""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = package[: len(package) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = [target]
    for alias in node.names:
        if f"{target}.{alias.name}" in ALL:
            found.append(f"{target}.{alias.name}")
    return found


def imports(module: str, path: Path, top_only: bool) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module top) for every import of the file."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body}
    for n in tree.body:  # `if TYPE_CHECKING:` blocks are for annotations only, never executed
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
            top.discard(id(n))
            for inner in ast.walk(n):
                top.add(-id(inner))  # marked: ignored below
    out = []
    for node in ast.walk(tree):
        if -id(node) in top:
            continue
        at_top = id(node) in top
        if top_only and not at_top:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, at_top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out += [(m, node.lineno, at_top) for m in resolve(module, path, node)]
    return out


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def internal(name: str) -> bool:
    return name.split(".")[0] in ("index", "bot")


def test_the_bot_imports_only_the_service_models_errors_and_config():
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in ALL.items()
        if module.split(".")[0] == "bot"
        for name, line, _ in imports(module, path, top_only=False)
        if name.split(".")[0] == "index" and name not in BOT_MAY_IMPORT
    ]
    assert bad == []


def test_the_services_the_bot_may_import_exist():
    assert SERVICES <= set(ALL), SERVICES - set(ALL)


def test_the_archive_imports_no_feature_above_it():
    bad = [
        f"{rel(path)}:{line} imports {name}"
        for module, path in ALL.items()
        if module.startswith("index.archive")
        for name, line, _ in imports(module, path, top_only=False)
        if name.startswith(ARCHIVE_MAY_NOT_IMPORT)
    ]
    assert bad == []


def test_storage_words_no_refusal_for_users():
    bad = []
    for module, path in ALL.items():
        if not module.startswith("index.archive"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id in USER_WORDING:
                bad.append(f"{rel(path)}:{node.lineno}: {node.id}")
    assert bad == []


def test_each_limit_is_stated_once_in_the_policy_module():
    policy = [
        t.id
        for n in ast.parse((ROOT / "index/policy.py").read_text()).body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    ]
    assert policy and all(LIMIT_NAME.match(name) for name in policy)
    bad = []
    for module, path in ALL.items():
        if module == "index.policy":
            continue
        for n in ast.parse(path.read_text()).body:
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, int):
                bad += [
                    f"{rel(path)}:{n.lineno}: {t.id}"
                    for t in n.targets
                    if isinstance(t, ast.Name) and LIMIT_NAME.match(t.id)
                ]
    assert bad == []


def test_no_module_is_much_over_600_lines():
    long = [
        f"{rel(path)}: {count} lines"
        for path in ALL.values()
        if (count := len(path.read_text().splitlines())) > MAX_LINES and str(rel(path)) not in LONG_ALLOWED
    ]
    assert long == []


def test_nothing_in_index_imports_the_bot_but_the_command_that_starts_it():
    found = [
        (str(path.relative_to(ROOT)), name, at_top)
        for module, path in ALL.items()
        if module.split(".")[0] == "index"
        for name, line, at_top in imports(module, path, top_only=False)
        if name.split(".")[0] == "bot"
    ]
    assert [(p, n) for p, n, _ in found] == [LAZY_BOT_IMPORT]
    assert not found[0][2], "the bot is imported lazily, inside the command that runs it"


def test_no_sql_outside_the_archive():
    bad = []
    for module, path in ALL.items():
        if module.startswith("index.archive"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert bad == []


def test_internal_imports_are_at_module_top():
    lazy = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in ALL.items()
        for name, line, at_top in imports(module, path, top_only=False)
        if internal(name) and not at_top and (str(path.relative_to(ROOT)), name) != LAZY_BOT_IMPORT
    ]
    assert lazy == []


def test_no_import_cycles():
    graph = {m: sorted({n for n, _, _ in imports(m, p, top_only=True) if n in ALL and n != m}) for m, p in ALL.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if node.startswith(nxt + ".") or nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert cycles == []


@pytest.mark.parametrize("rule", ["bot", "sql", "cycle", "archive", "wording", "limit", "length"])
def test_the_rules_catch_what_they_name(tmp_path, rule):
    """Each checker flags a hand-written offender (so the tests above can fail)."""
    global ALL
    saved = ALL
    try:
        if rule == "bot":
            f = tmp_path / "cog.py"
            f.write_text("from index.search.retriever import Retriever\n")
            assert imports("bot.cog", f, top_only=False)[0][0] == "index.search.retriever"
            assert "index.search.retriever" not in BOT_MAY_IMPORT
        elif rule == "sql":
            assert SQL.search("SELECT id FROM passages") and SQL.search("DELETE FROM posts WHERE 1")
            assert SQL.search("UPDATE articles SET x = 1") and SQL.search("PRAGMA integrity_check")
            assert not SQL.search("select the best sentence") and not SQL.search("cannot delete from the index")
        elif rule == "archive":
            f = tmp_path / "store.py"
            f.write_text("from ..delivery.filters import FilterRule\n")
            ALL = {"index.archive.store": f, "index.delivery.filters": f}
            with pytest.raises(AssertionError):
                test_the_archive_imports_no_feature_above_it()
        elif rule == "wording":
            f = tmp_path / "store.py"
            f.write_text("from ..errors import BadQuery\n\ndef add():\n    raise BadQuery('too many')\n")
            ALL = {"index.archive.store": f}
            with pytest.raises(AssertionError):
                test_storage_words_no_refusal_for_users()
        elif rule == "limit":
            f = tmp_path / "alerts.py"
            f.write_text("MAX_DM_FOLLOWS = 10\n")
            ALL = {"index.following.alerts": f}
            with pytest.raises(AssertionError):
                test_each_limit_is_stated_once_in_the_policy_module()
        elif rule == "length":
            f = tmp_path / "big.py"
            f.write_text("x = 1\n" * (MAX_LINES + 1))
            ALL = {"index.big": f}
            with pytest.raises(AssertionError):
                test_no_module_is_much_over_600_lines()
        else:
            a, b = tmp_path / "a.py", tmp_path / "b.py"
            a.write_text("from index import b\n")
            b.write_text("from index import a\n")
            ALL = {"index.a": a, "index.b": b}
            with pytest.raises(AssertionError):
                test_no_import_cycles()
    finally:
        ALL = saved
