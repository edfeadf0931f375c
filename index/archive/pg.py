"""The archive on PostgreSQL: psycopg 3 connections from a psycopg_pool pool, one per
thread, behind the small part of sqlite-utils' ``Database`` the table modules use — ``execute``
(a cursor with ``fetchone``/``fetchall``/iteration, ``lastrowid`` and ``rowcount``), ``query``
(dict rows) and ``conn`` (``execute``, ``executemany``, ``in_transaction``) — translating the
few SQLite forms the modules write (:func:`translate`). The design is in :mod:`index.archive`."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..errors import ArchiveError, ConfigError
from ..logsafety import redact_passwords
from .pg_migrations import POSTGRES, PRIMARY_KEYS, TABLES_WITH_ID, TABLES_WITH_ROWID, missing

try:  # optional until the archive is configured on PostgreSQL
    import psycopg
    from psycopg.rows import dict_row
    from psycopg.types.numeric import FloatLoader
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - psycopg is a declared dependency
    psycopg = None  # type: ignore[assignment]

POOL_SIZE = 16  # connections per process (each thread holds one while the archive is open in it)
MIGRATION_LOCK = 0x6E657773  # pg_advisory_lock key for migrations ("news")


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


# -- SQL translation ------------------------------------------------------------
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_INSERT_OR = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+", re.IGNORECASE)
_INSERT_TARGET = re.compile(r"^\s*INSERT\s+INTO\s+\"?(\w+)\"?\s*\(([^)]*)\)", re.IGNORECASE)
_BRACKETED = re.compile(r"\[(\w+)\]")
_BEGIN = re.compile(r"^\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)\s*$", re.IGNORECASE)
_IS_PARAMETER = re.compile(r"\bIS\s+(NOT\s+)?\?", re.IGNORECASE)
_SCALAR_MAX_MIN = re.compile(r"\b(max|min)\(\s*([\w.]+|\?)\s*,\s*([\w.]+|\?)\s*\)", re.IGNORECASE)

_cache: dict[str, tuple[str, str | None]] = {}


def translate(sql: str) -> tuple[str, str | None]:
    """SQLite SQL as the table modules write it, in PostgreSQL's dialect, and the table whose new
    ``id`` the statement returns (``lastrowid``), if any:

    - ``?`` placeholders become ``%s`` (outside string literals; a literal ``%`` is doubled);
    - ``[name]`` identifiers become ``"name"``;
    - ``BEGIN IMMEDIATE`` becomes ``BEGIN``;
    - ``x IS ?`` (``IS NOT ?``), SQLite's NULL-safe comparison with a parameter, becomes ``x IS NOT
      DISTINCT FROM %s`` (``IS DISTINCT FROM``);
    - SQLite's two-argument scalar ``max(a, b)``/``min(a, b)`` (plain columns, numbers or ``?``)
      becomes ``greatest(a, b)``/``least(a, b)`` (the aggregates take one argument and stay; unlike
      SQLite's, these skip a NULL argument: the columns they are used on are NOT NULL);
    - ``INSERT OR IGNORE`` becomes ``INSERT … ON CONFLICT DO NOTHING``;
    - ``INSERT OR REPLACE INTO t (cols)`` becomes ``INSERT … ON CONFLICT (t's primary key) DO UPDATE
      SET`` every other column (SQLite's REPLACE also drops rows clashing on another UNIQUE
      index; none of the tables written so rely on that);
    - an ``INSERT INTO t (cols)`` of a table with an identity ``id`` (or ``rowid``) gets
      ``RETURNING id`` (``rowid``): the cursor's ``lastrowid``. Other tables' inserts give
      ``lastrowid`` 0 (SQLite's rowid of them is never read).
    Everything else (functions, ``rowid`` of the tables that have one, ``total()``) is left as it
    is: the PostgreSQL schema provides it (:mod:`.pg_migrations`)."""
    hit = _cache.get(sql)
    if hit is not None:
        return hit
    out = _translate(sql)
    if len(_cache) < 4096:
        _cache[sql] = out
    return out


def _translate(sql: str) -> tuple[str, str | None]:
    if _BEGIN.match(sql):
        return "BEGIN", None
    parts: list[str] = []
    pos = 0
    for m in _LITERAL.finditer(sql):
        parts.append(_code(sql[pos : m.start()]))
        parts.append(m.group(0).replace("%", "%%"))
        pos = m.end()
    parts.append(_code(sql[pos:]))
    text = "".join(parts).rstrip().rstrip(";")
    returning = None
    conflict = ""
    verb = _INSERT_OR.match(text)
    if verb:
        text = "INSERT INTO " + text[verb.end() :]
        if verb.group(1).upper() == "IGNORE":
            conflict = " ON CONFLICT DO NOTHING"
        else:
            target = _INSERT_TARGET.match(text)
            if target is None or target.group(1) not in PRIMARY_KEYS:
                raise ArchiveError(f"INSERT OR REPLACE without a known table and column list: {sql[:80]!r}")
            table = target.group(1)
            pk = PRIMARY_KEYS[table]
            cols = [c.strip().strip('"') for c in target.group(2).split(",")]
            rest = [c for c in cols if c not in pk]
            action = "DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in rest) if rest else "DO NOTHING"
            conflict = f" ON CONFLICT ({', '.join(pk)}) {action}"
    ret = re.search(r"\s+RETURNING\b", text, re.IGNORECASE)
    if ret:
        return text[: ret.start()] + conflict + text[ret.start() :], None
    text += conflict
    target = _INSERT_TARGET.match(text)
    if target and target.group(1) in TABLES_WITH_ID:
        returning = "id"
    elif target and target.group(1) in TABLES_WITH_ROWID:
        returning = "rowid"
    if returning:
        text += f" RETURNING {returning}"
    return text, returning


def _code(chunk: str) -> str:
    """SQL outside string literals: placeholders, bracketed identifiers, ``IS ?``, scalar max/min."""
    chunk = _SCALAR_MAX_MIN.sub(lambda m: f"{'greatest' if m[1].lower() == 'max' else 'least'}({m[2]}, {m[3]})", chunk)
    chunk = _IS_PARAMETER.sub(lambda m: "IS DISTINCT FROM ?" if m[1] else "IS NOT DISTINCT FROM ?", chunk)
    chunk = chunk.replace("%", "%%").replace("?", "%s")
    return _BRACKETED.sub(r'"\1"', chunk)


# -- connections ----------------------------------------------------------------
class PgCursor:
    """What the table modules use of a sqlite3 cursor."""

    def __init__(self, cur: Any, lastrowid: int | None = None):
        self._cur = cur
        self.lastrowid = lastrowid
        self.rowcount = cur.rowcount

    def fetchone(self) -> Any:
        return self._cur.fetchone() if self._cur.description else None

    def fetchall(self) -> list:
        return self._cur.fetchall() if self._cur.description else []

    def __iter__(self) -> Iterator:
        return iter(self.fetchall())


class PgConnection:
    """One pooled psycopg connection in autocommit mode: each statement commits by itself, and
    ``BEGIN``/``COMMIT``/``ROLLBACK`` (from :class:`~index.archive.db._Transaction`) group them."""

    def __init__(self, raw: Any):
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence | None = None, *, rows: str = "tuple") -> PgCursor:
        text, returning = translate(sql)
        cur = self.raw.cursor(row_factory=dict_row) if rows == "dict" else self.raw.cursor()
        try:
            cur.execute(text, list(params) if params is not None else None, prepare=False)
        except psycopg.OperationalError as exc:
            raise ArchiveError(f"archive on PostgreSQL failed: {exc}") from None
        lastrowid: int | None = 0 if text.startswith("INSERT") else None
        if returning and cur.description:
            row = cur.fetchone()
            lastrowid = None if row is None else (row[returning] if rows == "dict" else row[0])
        return PgCursor(cur, lastrowid)

    def executemany(self, sql: str, seq: Iterable[Sequence]) -> None:
        text, _ = translate(sql)
        with self.raw.cursor() as cur:
            cur.executemany(text, [list(p) for p in seq])

    def close(self) -> None:
        self.raw.close()


class PgDatabase:
    """The part of ``sqlite_utils.Database`` the table modules call."""

    def __init__(self, conn: PgConnection):
        self.conn = conn

    def execute(self, sql: str, params: Sequence | None = None) -> PgCursor:
        return self.conn.execute(sql, params)

    def query(self, sql: str, params: Sequence | None = None) -> Iterator[dict]:
        yield from self.conn.execute(sql, params, rows="dict").fetchall()

    def table(self, name: str) -> Any:
        raise ArchiveError("sqlite-utils table helpers are not available on PostgreSQL")


def _configure(conn: Any) -> None:
    # numeric (sum() of integers, avg()) as float, as SQLite would give it; never Decimal
    conn.adapters.register_loader("numeric", FloatLoader)


class PgBackend:
    """The pool of one archive URL and this process's connection per thread."""

    def __init__(self, url: str):
        if psycopg is None:
            raise ArchiveError("the archive on PostgreSQL needs psycopg (pip install 'psycopg[binary]' psycopg-pool)")
        self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._held = 0  # connections held by threads; the pool closes when the last is given back
        self.pool: Any = None
        self._ensure_pool()

    def _ensure_pool(self) -> Any:
        with self._lock:
            if self.pool is None:
                try:
                    pool = ConnectionPool(
                        self.url,
                        min_size=1,
                        max_size=POOL_SIZE,
                        kwargs={"autocommit": True},
                        configure=_configure,
                        open=True,
                        timeout=30,
                        name="newsdesk-archive",
                    )
                    pool.wait(timeout=30)
                except Exception as exc:  # psycopg_pool.PoolTimeout, psycopg.OperationalError
                    raise ArchiveError(f"cannot open the archive at {redact(self.url)}: {redact(str(exc))}") from None
                self.pool = pool
            return self.pool

    @property
    def db(self) -> PgDatabase:
        db = getattr(self._local, "db", None)
        if db is None or db.conn.raw.closed:
            pool = self._ensure_pool()
            try:
                raw = pool.getconn()
            except Exception as exc:
                raise ArchiveError(f"no archive connection free ({POOL_SIZE} in use): {exc}") from None
            with self._lock:
                self._held += 1
            db = PgDatabase(PgConnection(raw))
            db.pool = pool  # type: ignore[attr-defined]
            self._local.db = db
        return db

    def release(self) -> None:
        """Give this thread's connection back to the pool; the last one given back closes the pool
        (it opens again on the next use), so a closed archive holds no server connection."""
        db = getattr(self._local, "db", None)
        if db is None:
            return
        self._local.db = None
        if not db.conn.raw.closed and db.conn.in_transaction:
            db.conn.raw.execute("ROLLBACK")
        db.pool.putconn(db.conn.raw)
        with self._lock:
            self._held -= 1
            if self._held <= 0 and self.pool is db.pool:
                self._held = 0
                self.pool = None
            else:
                return
        db.pool.close()

    def migrate(self, migrations: list, now: str) -> list[str]:
        """Apply the pending migrations' PostgreSQL forms, each in one transaction, under an
        advisory lock so processes starting together apply each once; recorded in ``migrations``."""
        names = [fn.__name__ for fn in migrations]
        absent = missing(names)
        if absent:
            raise ArchiveError(f"migrations without a PostgreSQL form: {', '.join(absent)}")
        with self._ensure_pool().connection() as raw:
            raw.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
            try:
                raw.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
                done = {r[0] for r in raw.execute("SELECT name FROM migrations").fetchall()}
                applied = []
                for name in names:
                    if name in done:
                        continue
                    with raw.transaction():
                        for statement in POSTGRES[name]:
                            raw.execute(statement, prepare=False)
                        raw.execute("INSERT INTO migrations VALUES (%s, %s) ON CONFLICT DO NOTHING", [name, now])
                    applied.append(name)
                return applied
            finally:
                raw.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])

    def close(self) -> None:
        """Give back this thread's connection and close the pool (other threads' connections too)."""
        self.release()
        with self._lock:
            pool, self.pool, self._held = self.pool, None, 0
        if pool is not None:
            pool.close()


def redact(url: str) -> str:
    """The URL (or any text) without a password in any form (userinfo, ``?password=``,
    ``password=`` keywords), for messages."""
    return redact_passwords(url)


# -- what is ported -------------------------------------------------------------
# The archive's mixins whose SQL runs on PostgreSQL and is tested there (tests/index/archive/
# test_backends.py): "*" for every method, else the names still missing. Any other mixin's methods
# raise ConfigError on a PostgreSQL archive, naming what is missing: never half-working silently.
PORTED: dict[str, str | set[str]] = {
    "Database": "*",
    "FeedStore": "*",
    "ArticleStore": "*",
    "ScopeQueries": "*",
    "PassageStore": "*",  # keyword search: tsvector + ts_rank (index.archive.pg_search)
    "PostStore": "*",  # auto-post and feed-notice claims
    "ConsistencyChecks": "*",  # integrity: no invalid index; FTS: passages.fts is generated
    "DeliveryStore": "*",  # filters, limits, the delivery log and its claims (tests/.../test_backends_delivery.py)
    "VectorScaleQueries": "*",  # the engine path's lookups (passages.rowid is an identity column)
    "FollowStore": "*",  # topic alerts and their claims (tests/index/archive/test_backends_following.py)
    "DigestStore": "*",  # digest schedules, run claims, the topic match on passages.fts
    "WatchStore": "*",  # watches, notice claims, answers and votes
}
_variants: dict[type, type] = {}


def not_ported(cls: type) -> list[str]:
    """``Mixin.method`` of every method of ``cls`` not yet available on PostgreSQL."""
    out = []
    for klass in cls.__mro__:
        if klass in _variants.values() or klass.__module__.split(".")[:2] != ["index", "archive"]:
            continue
        done = PORTED.get(klass.__name__, set())
        for name, value in vars(klass).items():
            if callable(value) and not name.startswith("__") and (done != "*" and (not done or name in done)):
                out.append(f"{klass.__name__}.{name}")
    return out


def postgres_variant(cls: type) -> type:
    """``cls`` with every method not yet ported replaced by one raising ConfigError."""
    if cls in _variants or cls in _variants.values():
        return _variants.get(cls, cls)

    def stub(qualname: str):
        def missing(self, *args, **kwargs):
            raise ConfigError(
                f"the archive on PostgreSQL does not support {qualname} yet; "
                "use the SQLite archive (leave [archive] url unset)"
            )

        missing.__name__ = qualname.rsplit(".", 1)[1]
        return missing

    namespace = {q.rsplit(".", 1)[1]: stub(q) for q in reversed(not_ported(cls))}
    variant = type(cls.__name__, (cls,), namespace)
    variant.__module__ = cls.__module__
    _variants[cls] = variant
    return variant
