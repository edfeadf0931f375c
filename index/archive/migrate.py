"""Copying a SQLite archive into a PostgreSQL database: ``newsdesk migrate-archive``.

Every table of the SQLite file that holds data is copied as it is — ids, the ``rowid`` columns the
PostgreSQL schema has (article_feeds, passages, watch_notices: cursors and watermarks read them),
neighbour lists, claims, meta (the embedding model's identity and the index generation), so the
Chroma index beside the archive stays valid and nothing is embedded again:

- The source is opened read-only (``?mode=ro``) in one read transaction: the copy is a snapshot of
  the moment it started. ``PRAGMA data_version`` read again at the end tells whether anything
  wrote to the file meanwhile (a bot or worker still running); that is reported, and a rerun
  copies what was added.
- The target gets its schema from the PostgreSQL migrations (``Archive(url)`` applies them under
  their advisory lock). Tables are copied in foreign-key order, in batches ordered by SQLite's
  rowid, with ``COPY`` (which writes identity columns as given: ``GENERATED ALWAYS`` included).
- Resumable: each batch and its progress row in ``archive_migration`` (last rowid copied, rows)
  commit in one transaction, so a kill at any point loses or duplicates nothing; a rerun goes on
  after the last committed batch. The progress rows also name the source (its path and the moment
  its first migration ran): a target holding an archive of another origin is refused.
- Identity sequences are set past the largest id copied, so new rows get new ids.
- Verified: per table, the row count and a sha256 over the rows in primary-key order, each value
  normalised (:func:`row_bytes`), computed the same way on both sides.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ArchiveError, ConfigError, NotFound
from . import Archive
from .migrations import MIGRATIONS
from .pg import is_postgres_url, redact
from .sql import now_iso

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg is a declared dependency
    psycopg = None  # type: ignore[assignment]

BATCH_ROWS = 5000
PROGRESS_TABLE = "archive_migration"
LOCK_KEY = 0x6D696772  # pg_advisory_lock key of a running migration ("migr")
SKIPPED = {"migrations", "sqlite_sequence", "sqlite_stat1", "sqlite_stat4"}  # the target keeps its own
FTS_SHADOWS = ("_data", "_idx", "_content", "_docsize", "_config")
WRITERS_WARNING = (
    "Stop the bot and the worker while this runs: the copy is a snapshot of the source as it starts, "
    "and what they write meanwhile is not in it."
)

Progress = Callable[[str], None]


@dataclass
class TableCopy:
    table: str
    rows: int  # in the source
    copied: int  # by this run
    seconds: float


@dataclass
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_sha256: str
    target_sha256: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sha256 == self.target_sha256


@dataclass
class MigrationReport:
    source: str
    target: str  # without its password
    source_migrations: list[str]
    resumed: bool  # rows of this source were already in the target
    copied: list[TableCopy] = field(default_factory=list)
    copy_seconds: float = 0.0
    sequences_set: list[str] = field(default_factory=list)
    checks: list[TableCheck] = field(default_factory=list)
    sequences_behind: list[str] = field(default_factory=list)  # identity columns whose next value is taken
    verify_seconds: float = 0.0
    source_changed: bool = False  # something wrote to the source while it was read

    @property
    def rows_copied(self) -> int:
        return sum(c.copied for c in self.copied)

    @property
    def rows_per_second(self) -> float:
        return self.rows_copied / self.copy_seconds if self.copy_seconds > 0 else 0.0

    @property
    def mismatched(self) -> list[str]:
        return [c.table for c in self.checks if not c.ok] + self.sequences_behind

    def as_dict(self) -> dict:
        out = asdict(self)
        out.update(rows_copied=self.rows_copied, rows_per_second=round(self.rows_per_second, 1))
        out["mismatched"] = self.mismatched
        for check, row in zip(self.checks, out["checks"], strict=True):
            row["ok"] = check.ok
        return out


# -- checksums ------------------------------------------------------------------------
def value_bytes(value: Any) -> bytes:
    """One value, normalised the same way whichever database it came from: NULL, an integer, a
    float (``repr``, exact), text (UTF-8, length-prefixed) or bytes (length-prefixed)."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return b"i%d" % value
    if isinstance(value, float):
        return b"f" + repr(value).encode()
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        return b"s%d:" % len(data) + data
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return b"b%d:" % len(data) + data
    raise ArchiveError(f"cannot checksum a value of type {type(value).__name__}")


def row_bytes(row: Sequence[Any]) -> bytes:
    return b"\x1f".join(value_bytes(v) for v in row) + b"\x1e"


def checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """(row count, sha256 hex) of rows in the order given."""
    digest = hashlib.sha256()
    n = 0
    for row in rows:
        digest.update(row_bytes(row))
        n += 1
    return n, digest.hexdigest()


# -- the plan: which tables, which columns, in which order ----------------------------------
@dataclass
class TablePlan:
    name: str
    columns: list[str]  # the source's, in its order
    with_rowid: bool  # the target has a `rowid` column: SQLite's rowid goes into it
    order: list[str]  # the primary key (or rowid): the checksum's order
    text_keys: set[str]  # order columns of a text type in the target (compared as bytes there)
    identities: list[str]  # identity columns of the target table (their sequences are set)

    @property
    def target_columns(self) -> list[str]:
        return self.columns + (["rowid"] if self.with_rowid else [])


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _topological(tables: list[str], parents: dict[str, set[str]]) -> list[str]:
    """Tables with every table they reference first; ties keep the given order."""
    done: list[str] = []
    seen: set[str] = set()
    visiting: set[str] = set()

    def visit(t: str) -> None:
        if t in seen or t in visiting:  # a cycle: keep the given order for the rest of it
            return
        visiting.add(t)
        for p in sorted(parents.get(t, ()), key=tables.index):
            if p in tables and p != t:
                visit(p)
        visiting.discard(t)
        seen.add(t)
        done.append(t)

    for t in tables:
        visit(t)
    return done


# -- the source: a read-only snapshot of the SQLite file ------------------------------------
class _Source:
    def __init__(self, path: Path):
        if not path.is_file():
            raise NotFound(f"no SQLite archive at {path}")
        self.path = path.resolve()
        try:
            self.conn = sqlite3.connect(
                f"file:{quote(str(self.path))}?mode=ro", uri=True, isolation_level=None, timeout=60
            )
            self.conn.execute("PRAGMA busy_timeout = 60000")
            self.conn.execute("BEGIN")  # one read transaction: every read below sees the same snapshot
            self.tables_sql = self.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
            ).fetchall()
            self.version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"cannot read the SQLite archive {path}: {exc}") from None

    def tables(self) -> list[str]:
        """Tables holding the archive's data: not SQLite's own, not the migrations record, not the
        full-text index (virtual tables and their shadow tables; PostgreSQL has passages.fts)."""
        virtual = [n for n, sql in self.tables_sql if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
        shadows = {v + s for v in virtual for s in FTS_SHADOWS}
        return [
            n
            for n, _ in self.tables_sql
            if n not in SKIPPED and n not in virtual and n not in shadows and not n.startswith("sqlite_")
        ]

    def migrations(self) -> list[tuple[str, str]]:
        try:
            return self.conn.execute("SELECT name, applied_at FROM migrations ORDER BY name").fetchall()
        except sqlite3.OperationalError:
            raise ArchiveError(f"{self.path} is not a newsdesk archive (no migrations table)") from None

    def columns(self, table: str) -> tuple[list[str], list[str]]:
        """(columns, primary key columns in key order)."""
        info = self.conn.execute(f"PRAGMA table_info({_q(table)})").fetchall()
        cols = [r[1] for r in info]
        pk = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        return cols, pk

    def parents(self, table: str) -> set[str]:
        return {r[2] for r in self.conn.execute(f"PRAGMA foreign_key_list({_q(table)})").fetchall()}

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0]

    def batch(self, plan: TablePlan, after: int, limit: int) -> list[tuple]:
        """Up to ``limit`` rows past rowid ``after``, in rowid order: (rowid, *columns)."""
        cols = ", ".join(_q(c) for c in plan.columns)
        sql = f"SELECT rowid, {cols} FROM {_q(plan.name)} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        return self.conn.execute(sql, [after, limit]).fetchall()

    def ordered(self, plan: TablePlan) -> Iterator[tuple]:
        cols = ", ".join(_q(c) for c in plan.target_columns)
        order = ", ".join(f"{_q(c)} COLLATE BINARY" if c != "rowid" else "rowid" for c in plan.order)
        yield from self.conn.execute(f"SELECT {cols} FROM {_q(plan.name)} ORDER BY {order}")

    def changed(self) -> bool:
        """Ends the snapshot; whether another connection committed to the file since it began."""
        self.conn.execute("COMMIT")
        return self.conn.execute("PRAGMA data_version").fetchone()[0] != self.version

    def close(self) -> None:
        self.conn.close()


# -- the target: the PostgreSQL database ----------------------------------------------------
class _Target:
    def __init__(self, url: str):
        self.url = url
        self.archive = Archive(url)  # applies the PostgreSQL migrations under their advisory lock
        self.raw = self.archive.db.conn.raw  # type: ignore[attr-defined]  # psycopg connection, autocommit
        self.locked = False

    def lock(self, wait: float = 20.0) -> None:
        """One migration at a time into a database (a killed run's lock goes with its connection)."""
        deadline = time.monotonic() + wait
        while not self.raw.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
            if time.monotonic() > deadline:
                raise ArchiveError(f"another migrate-archive is copying into {redact(self.url)}")
            time.sleep(0.5)
        self.locked = True

    def close(self) -> None:
        try:
            if self.locked and not self.raw.closed:
                self.raw.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        finally:
            self.archive.close()

    def tables(self) -> set[str]:
        rows = self.raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
        return {r[0] for r in rows}

    def columns(self, table: str) -> dict[str, tuple[str, bool, bool]]:
        """name → (data type, identity, generated)."""
        rows = self.raw.execute(
            "SELECT column_name, data_type, is_identity, is_generated FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return {r[0]: (r[1], r[2] == "YES", r[3] == "ALWAYS") for r in rows}

    def parents(self) -> dict[str, set[str]]:
        rows = self.raw.execute(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema()"
        ).fetchall()
        out: dict[str, set[str]] = defaultdict(set)
        for child, parent in rows:
            out[child.strip('"')].add(parent.strip('"'))
        return out

    def has_rows(self, table: str) -> bool:
        return bool(self.raw.execute(f"SELECT EXISTS (SELECT 1 FROM {_q(table)})").fetchone()[0])

    # progress ---------------------------------------------------------------------------
    def ensure_progress_table(self) -> None:
        self.raw.execute(
            f"""CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (
                table_name TEXT PRIMARY KEY, source TEXT NOT NULL, source_created TEXT NOT NULL,
                last_rowid BIGINT NOT NULL DEFAULT 0, rows_copied BIGINT NOT NULL DEFAULT 0,
                started_at TEXT, updated_at TEXT)"""
        )

    def origins(self) -> list[tuple[str, str]]:
        return self.raw.execute(f"SELECT DISTINCT source, source_created FROM {PROGRESS_TABLE}").fetchall()

    def progress(self) -> dict[str, tuple[int, int]]:
        rows = self.raw.execute(f"SELECT table_name, last_rowid, rows_copied FROM {PROGRESS_TABLE}").fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def claim(self, tables: list[str], source: str, created: str) -> None:
        """A progress row for every table, naming the source, before anything is copied."""
        now = now_iso()
        with self.raw.transaction(), self.raw.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {PROGRESS_TABLE} (table_name, source, source_created, started_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (table_name) DO NOTHING",
                [(t, source, created, now, now) for t in tables],
            )

    def copy_batch(self, plan: TablePlan, rows: list[tuple]) -> None:
        """The rows and the table's progress, in one transaction."""
        cols = ", ".join(_q(c) for c in plan.target_columns)
        with self.raw.transaction(), self.raw.cursor() as cur:
            with cur.copy(f"COPY {_q(plan.name)} ({cols}) FROM STDIN") as copy:
                if plan.with_rowid:
                    for r in rows:
                        copy.write_row((*r[1:], r[0]))
                else:
                    for r in rows:
                        copy.write_row(r[1:])
            cur.execute(
                f"UPDATE {PROGRESS_TABLE} SET last_rowid = %s, rows_copied = rows_copied + %s, updated_at = %s "
                "WHERE table_name = %s",
                [rows[-1][0], len(rows), now_iso(), plan.name],
            )

    # sequences --------------------------------------------------------------------------
    def sequences(self, plan: TablePlan) -> Iterator[tuple[str, str, int, int]]:
        """(column, sequence, largest value in the column, the sequence's next value)."""
        for col in plan.identities:
            seq = self.raw.execute("SELECT pg_get_serial_sequence(%s, %s)", [_q(plan.name), col]).fetchone()[0]
            if seq is None:
                continue
            top = self.raw.execute(f"SELECT coalesce(max({_q(col)}), 0) FROM {_q(plan.name)}").fetchone()[0]
            last, called = self.raw.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
            yield col, seq, int(top), int(last) + 1 if called else int(last)

    def set_sequences(self, plan: TablePlan) -> list[str]:
        changed = []
        for col, seq, top, nxt in self.sequences(plan):
            if nxt <= top:
                self.raw.execute("SELECT setval(%s, %s, false)", [seq, top + 1])
                changed.append(f"{plan.name}.{col}")
        return changed

    # verification -----------------------------------------------------------------------
    def ordered(self, plan: TablePlan, batch: int) -> Iterator[tuple]:
        """The rows in the source's key order: text compared as bytes (COLLATE "C", as SQLite's
        BINARY), NULLs first (as SQLite sorts them). Read through a server-side cursor."""
        cols = ", ".join(_q(c) for c in plan.target_columns)
        collate = ' COLLATE "C"'
        order = ", ".join(f"{_q(c)}{collate if c in plan.text_keys else ''} NULLS FIRST" for c in plan.order)
        with self.raw.cursor(name=f"verify_{plan.name}") as cur:
            cur.itersize = batch
            cur.execute(f"SELECT {cols} FROM {_q(plan.name)} ORDER BY {order}")
            yield from cur


# -- the migration --------------------------------------------------------------------------
def check_target_url(url: str, *, typed: bool) -> None:
    """A PostgreSQL URL; one typed on the command line must not hold the password (it would be in
    the shell's history and the process list): PGPASSWORD, ~/.pgpass or NEWSDESK_ARCHIVE_URL."""
    if not is_postgres_url(url):
        raise ConfigError(f"the target must be a postgresql:// URL, not {redact(url)!r}")
    if typed and _has_password(url):
        raise ConfigError(
            "--to must not hold the password: set PGPASSWORD (or ~/.pgpass), or give the whole URL in "
            "NEWSDESK_ARCHIVE_URL and leave --to out"
        )


def _has_password(url: str) -> bool:
    netloc = url.split("//", 1)[1].split("/", 1)[0]
    return "@" in netloc and ":" in netloc.rsplit("@", 1)[0]


def migrate_archive(
    source: Path | str,
    url: str,
    *,
    batch_size: int = BATCH_ROWS,
    verify_only: bool = False,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy the SQLite archive at ``source`` into the PostgreSQL database at ``url`` (or, with
    ``verify_only``, only compare them), going on where an interrupted run stopped; then verify
    every table's count and checksum. Raises ConfigError for a target holding another archive."""
    say = progress or (lambda _msg: None)
    if not is_postgres_url(url):
        raise ConfigError(f"the target must be a postgresql:// URL, not {redact(url)!r}")
    if batch_size < 1:
        raise ConfigError("batch size must be at least 1")
    src = _Source(Path(source))
    try:
        applied = src.migrations()
        names = [n for n, _ in applied]
        unknown = sorted(set(names) - {fn.__name__ for fn in MIGRATIONS})
        if unknown:
            raise ConfigError(
                f"{src.path} has migrations this newsdesk does not know ({', '.join(unknown)}): "
                "migrate it with the newsdesk that wrote it"
            )
        created = dict(applied).get("m001_initial") or ""
        target = _Target(url)
        try:
            target.lock()
            return _run(src, target, names, created, batch_size, verify_only, say)
        finally:
            target.close()
    finally:
        src.close()


def _plans(src: _Source, target: _Target) -> list[TablePlan]:
    tables = src.tables()
    present = target.tables()
    absent = [t for t in tables if t not in present]
    if absent:
        raise ArchiveError(f"the target has no table for {', '.join(absent)} (its PostgreSQL migrations lack them)")
    parents = target.parents()
    for t in tables:
        parents.setdefault(t, set()).update(src.parents(t))
    plans = []
    for t in _topological(tables, parents):
        cols, pk = src.columns(t)
        tcols = target.columns(t)
        missing = [c for c in cols if c not in tcols or tcols[c][2]]
        if missing:
            raise ArchiveError(f"the target's table {t} has no column {', '.join(missing)}")
        with_rowid = "rowid" in tcols and "rowid" not in cols
        order = pk or (["rowid"] if with_rowid else cols)
        text_keys = {c for c in order if c in tcols and tcols[c][0] in ("text", "character varying")}
        identities = [c for c, (_, ident, _) in tcols.items() if ident]
        plans.append(TablePlan(t, cols, with_rowid, order, text_keys, identities))
    return plans


def _refuse_foreign(target: _Target, plans: list[TablePlan], source: str, created: str, verify_only: bool) -> bool:
    """Whether this source's migration is already in the target (resumed); ConfigError when the
    target holds an archive that did not come from it."""
    origins = target.origins()
    here = redact(target.url)
    for path, stamp in origins:
        if (path, stamp) != (source, created):
            raise ConfigError(
                f"{here} holds a migration of another archive ({path}, created {stamp}), not of {source} "
                f"(created {created}): use a new, empty database, or --from that archive"
            )
    if origins:
        return True
    if verify_only:
        raise ConfigError(f"{here} holds no migration of {source} to verify: run migrate-archive without --verify-only")
    populated = [p.name for p in plans if target.has_rows(p.name)]
    if populated:
        raise ConfigError(
            f"{here} already holds an archive that did not come from {source} (rows in {', '.join(populated)}): "
            "refusing to copy into it; use a new, empty database"
        )
    return False


def _run(
    src: _Source,
    target: _Target,
    names: list[str],
    created: str,
    batch_size: int,
    verify_only: bool,
    say: Progress,
) -> MigrationReport:
    target.ensure_progress_table()
    plans = _plans(src, target)
    source = str(src.path)
    resumed = _refuse_foreign(target, plans, source, created, verify_only)
    report = MigrationReport(source, redact(target.url), names, resumed)
    if not verify_only:
        say(WRITERS_WARNING)
        if not resumed:
            target.claim([p.name for p in plans], source, created)
        done = target.progress()
        started = time.monotonic()
        for plan in plans:
            report.copied.append(_copy_table(src, target, plan, done.get(plan.name, (0, 0)), batch_size, say))
        for plan in plans:
            report.sequences_set += target.set_sequences(plan)
        report.copy_seconds = time.monotonic() - started
    started = time.monotonic()
    report.checks, report.sequences_behind = _verify(src, target, plans, batch_size, say)
    report.verify_seconds = time.monotonic() - started
    report.source_changed = src.changed()
    return report


def _copy_table(
    src: _Source, target: _Target, plan: TablePlan, done: tuple[int, int], batch_size: int, say: Progress
) -> TableCopy:
    last, before = done
    total = src.count(plan.name)
    started = time.monotonic()
    shown = started
    copied = 0
    while True:
        rows = src.batch(plan, last, batch_size)
        if not rows:
            break
        try:
            target.copy_batch(plan, rows)
        except psycopg.Error as exc:
            raise ArchiveError(f"copying {plan.name} (rows after rowid {last}) failed: {exc}") from None
        last = rows[-1][0]
        copied += len(rows)
        if time.monotonic() - shown > 5:
            shown = time.monotonic()
            say(f"  {plan.name}: {before + copied:,} / {total:,} rows")
    seconds = time.monotonic() - started
    state = f"copied {copied:,}" if copied else "nothing to copy"
    say(f"  {plan.name:<26} {total:>9,} rows  {state}{'' if not copied else f' in {seconds:.2f}s'}")
    return TableCopy(plan.name, total, copied, seconds)


def _verify(
    src: _Source, target: _Target, plans: list[TablePlan], batch_size: int, say: Progress
) -> tuple[list[TableCheck], list[str]]:
    checks = []
    behind = []
    with target.raw.transaction():
        target.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for plan in plans:
            n_src, sha_src = checksum(src.ordered(plan))
            n_dst, sha_dst = checksum(target.ordered(plan, batch_size))
            check = TableCheck(plan.name, n_src, n_dst, sha_src, sha_dst)
            checks.append(check)
            if not check.ok:
                say(f"  {plan.name}: DIFFERS (source {n_src:,} rows, target {n_dst:,})")
            behind += [f"{plan.name}.{col} (sequence)" for col, _, top, nxt in target.sequences(plan) if nxt <= top]
    return checks, behind
