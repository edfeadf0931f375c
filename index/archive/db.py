"""The archive's database: one SQLite file (via sqlite-utils), a connection per thread,
write transactions, migrations and the meta table. The table modules beside this one
(feeds, articles, passages, posts, scope, checks) add their queries to this base."""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from pathlib import Path

import sqlite_utils

from ..errors import ArchiveError
from .migrations import MIGRATIONS
from .pg import PgBackend, is_postgres_url, postgres_variant
from .sql import now_iso

log = logging.getLogger(__name__)


class Database:
    """Thread-safe access to the archive: one SQLite connection per thread."""

    _pg: PgBackend | None = None  # the archive on PostgreSQL; None: the SQLite file

    def __init__(self, path: str | Path):
        if is_postgres_url(path):
            self._open_postgres(str(path))
            return
        self.path = Path(path)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArchiveError(f"cannot create archive directory {self.path.parent}: {exc.strerror}") from None
        try:
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"cannot open archive {self.path}: {exc}") from None
        except OSError as exc:
            raise ArchiveError(f"cannot open archive {self.path}: {exc.strerror} ({exc.filename})") from None

    # -- connections -------------------------------------------------------
    def _open_postgres(self, url: str) -> None:
        """The archive in a PostgreSQL database: pooled connections, the PostgreSQL form of every
        migration; the methods not yet ported raise ConfigError (:func:`.pg.postgres_variant`)."""
        self.__class__ = postgres_variant(type(self))
        self.path = Path("postgresql")
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._pg = PgBackend(url)
        self.migrate()

    @property
    def backend(self) -> str:
        return "sqlite" if self._pg is None else "postgresql"

    @property
    def db(self) -> sqlite_utils.Database:
        if self._pg is not None:
            return self._pg.db  # type: ignore[return-value]  # the part of sqlite-utils' Database in use
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA recursive_triggers = ON")
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    def close(self) -> None:
        if self._pg is not None:
            self._pg.release()
            return
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def transaction(self):
        """A write transaction (BEGIN IMMEDIATE), serialised within this process."""
        return _Transaction(self)

    def migrate(self) -> list[str]:
        """Apply pending migrations once, even when several processes open the archive together:
        an exclusive file lock beside the archive serialises them, and the list of applied
        migrations is read again under the lock."""
        if self._pg is not None:
            with self._write_lock:
                return self._pg.migrate(MIGRATIONS, now_iso())
        db = self.db
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._write_lock, open(lock_path, "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
                done = {r[0] for r in db.execute("SELECT name FROM migrations").fetchall()}
                applied = []
                for fn in MIGRATIONS:
                    if fn.__name__ in done:
                        continue
                    fn(db)  # idempotent: sqlite-utils DDL commits as it goes
                    with self.transaction():
                        db.execute("INSERT OR IGNORE INTO migrations VALUES (?, ?)", [fn.__name__, now_iso()])
                    applied.append(fn.__name__)
                    log.info("applied migration %s", fn.__name__)
                return applied
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    # -- meta --------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])

    def delete_meta(self, key: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM meta WHERE key = ?", [key])

    def meta_like(self, prefix: str) -> dict[str, str]:
        """Every meta key starting with ``prefix``, with its value."""
        rows = self.db.execute("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", [len(prefix), prefix])
        return dict(rows.fetchall())

    def bump_generation(self) -> str:
        """Tell every process that the vector index changed (the dense mirror reloads, an embedded
        Chroma client opens the directory anew); returns the new generation."""
        generation = f"{time.time():.6f}"
        self.set_meta("index_generation", generation)
        return generation

    # -- stats ---------------------------------------------------------------
    def counts(self) -> dict:
        q = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "feeds": q("SELECT count(*) FROM feeds"),
            "articles": q("SELECT count(*) FROM articles"),
            "passages": q("SELECT count(*) FROM passages"),
            "embedded_passages": q("SELECT count(*) FROM passages WHERE embedded = 1"),
        }

    def size_bytes(self) -> int:
        """What the archive takes on disk: the SQLite file and its write-ahead log, or the
        PostgreSQL database's own size (``pg_database_size``)."""
        if self._pg is not None:
            return int(self.db.execute("SELECT pg_database_size(current_database())").fetchone()[0])
        paths = [self.path, self.path.with_name(self.path.name + "-wal")]
        return sum(p.stat().st_size for p in paths if p.exists())


class _Transaction:
    def __init__(self, archive: Database):
        self.archive = archive
        self.outer = False

    def __enter__(self):
        self.archive._write_lock.acquire()
        conn = self.archive.db.conn
        self.outer = not conn.in_transaction
        if self.outer:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                self.archive._write_lock.release()
                raise ArchiveError(f"archive is busy or read-only: {exc}") from None
        return self.archive.db

    def __exit__(self, exc_type, exc, tb):
        conn = self.archive.db.conn
        try:
            if self.outer:
                if not conn.in_transaction:
                    pass
                elif exc_type is None:
                    try:
                        conn.execute("COMMIT")
                    except sqlite3.OperationalError as err:
                        if conn.in_transaction:  # SQLITE_FULL and I/O errors roll back by themselves
                            conn.execute("ROLLBACK")
                        raise ArchiveError(f"archive write failed: {err}") from None
                else:
                    conn.execute("ROLLBACK")
        finally:
            self.archive._write_lock.release()
        if exc_type is not None and issubclass(exc_type, sqlite3.OperationalError):
            raise ArchiveError(f"archive write failed: {exc}") from exc
        return False
