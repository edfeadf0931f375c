"""The archive: one SQLite file (via sqlite-utils) holding feeds, articles and passages.

The file is an ordinary SQLite database, browsable with Datasette as it is.
Schema changes are ``m00N_…`` migration functions applied in order, once.
"""
from __future__ import annotations

import fcntl
import json
import logging
import re
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

from .errors import ArchiveError, NotFound

log = logging.getLogger(__name__)

MIGRATIONS = []


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: sqlite_utils.Database):
    db["feeds"].create(
        {
            "id": int, "url": str, "name": str, "title": str, "site_url": str,
            "guild_id": int, "channel_id": int, "added_by": int, "added_at": str,
            "status": str, "last_fetch_at": str, "last_ok_at": str, "last_error": str,
            "warning": str, "etag": str, "last_modified": str, "failures": int,
            "next_poll_at": float, "posting_since": float,
        },
        pk="id", not_null={"url"}, defaults={"status": "new", "failures": 0}, if_not_exists=True,
    )
    db["feeds"].create_index(["url"], unique=True, if_not_exists=True)
    db["articles"].create(
        {
            "id": int, "guid": str, "url": str, "title": str, "outlet": str, "authors": str,
            "published": str, "published_ts": float, "date_source": str, "fetched_at": str,
            "updated_at": str, "language": str, "summary": str, "text": str, "text_source": str,
            "content_hash": str, "entry_hash": str, "feed_id": int,
        },
        pk="id", foreign_keys=[("feed_id", "feeds", "id")], if_not_exists=True,
    )
    db["articles"].create_index(["guid"], unique=True, if_not_exists=True)
    db["articles"].create_index(["url"], if_not_exists=True)
    db["articles"].create_index(["content_hash"], if_not_exists=True)
    db["articles"].create_index(["published_ts"], if_not_exists=True)
    db["article_feeds"].create(
        {"article_id": int, "feed_id": int, "first_seen_at": str},
        pk=("article_id", "feed_id"),
        foreign_keys=[("article_id", "articles", "id"), ("feed_id", "feeds", "id")], if_not_exists=True,
    )
    db["article_feeds"].create_index(["feed_id"], if_not_exists=True)
    db["passages"].create(
        {"id": str, "article_id": int, "seq": int, "title": str, "text": str,
         "published_ts": float, "outlet": str, "embedded": int},
        pk="id", foreign_keys=[("article_id", "articles", "id")], defaults={"embedded": 0}, if_not_exists=True,
    )
    db["passages"].create_index(["article_id"], if_not_exists=True)
    db["passages"].create_index(["embedded"], if_not_exists=True)
    db["passages"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61", replace=True)
    db["vector_deletes"].create({"passage_id": str, "queued_at": str}, pk="passage_id", if_not_exists=True)
    db["posts"].create(
        {"channel_id": int, "article_id": int, "feed_id": int, "claimed_at": str, "message_id": int},
        pk=("channel_id", "article_id"), if_not_exists=True,
    )
    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


@contextmanager
def _immediate(db: sqlite_utils.Database):
    """One BEGIN IMMEDIATE transaction for a migration, so processes starting together apply it once."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@migration
def m002_feed_first_ok(db: sqlite_utils.Database):
    """feeds.first_ok_at (unix time of the feed's first successful fetch; NULL until then) and
    feeds.first_ok_seq (the feed's highest article_feeds rowid at that moment). Everything a feed
    carried by its first successful fetch is backlog, never auto-posted; ``first_ok_seq`` separates
    backlog from news seen within the same second (``first_seen_at`` has one-second resolution).

    Runs in one BEGIN IMMEDIATE transaction so processes starting together add the columns once.
    Feeds that already fetched successfully before this migration are marked now: what they
    carry at this point counts as backlog, and their next new articles are posted as usual."""
    with _immediate(db):
        columns = {c.name for c in db["feeds"].columns}
        if "first_ok_at" not in columns:
            db["feeds"].add_column("first_ok_at", float)
        if "first_ok_seq" not in columns:
            db["feeds"].add_column("first_ok_seq", int)
        if "first_ok_at" not in columns:
            db.execute(
                """UPDATE feeds SET first_ok_at = ?, first_ok_seq =
                       (SELECT coalesce(max(af.rowid), 0) FROM article_feeds af WHERE af.feed_id = feeds.id)
                   WHERE last_ok_at IS NOT NULL AND first_ok_at IS NULL""", [time.time()])


@migration
def m003_feed_notices(db: sqlite_utils.Database):
    """feed_notices: the health state last announced for each feed (``ok`` or ``error``), shared by
    every bot process so a feed's failure or recovery is announced once, whoever polled it."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS feed_notices (
            feed_id INTEGER PRIMARY KEY, announced TEXT NOT NULL, changed_at TEXT)""")
        # what is true now is old news: seed every existing feed with its current state
        db.execute("""INSERT OR IGNORE INTO feed_notices (feed_id, announced, changed_at)
                      SELECT id, CASE status WHEN 'error' THEN 'error' ELSE 'ok' END, ? FROM feeds""", [now_iso()])


@migration
def m004_passage_neighbours(db: sqlite_utils.Database):
    """passage_neighbours: each embedded passage's similarities to its nearest other passages
    (float32 blob, best first), kept by the vector mirror for the density correction and stored
    so a restart does not redo the all-pairs product."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS passage_neighbours (
            passage_id TEXT PRIMARY KEY, sims BLOB NOT NULL)""")


POST_GRACE_SECONDS = 6 * 3600  # an article published shortly before its feed was added still counts as new
# unix time of an ISO-8601 text column (the archive writes UTC with an offset, e.g. 2026-01-01T10:00:00+00:00)
_EPOCH_SQL = "CAST(strftime('%s', {}) AS INTEGER)"


_IN_LIST = 500  # values per SQL "IN (...)" list


def _in_chunks(values: list) -> Iterator[tuple[list, str]]:
    """Slices of ``values`` short enough for one ``IN (...)`` list, each with its placeholders."""
    for start in range(0, len(values), _IN_LIST):
        chunk = values[start:start + _IN_LIST]
        yield chunk, ",".join("?" * len(chunk))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str
    title: str | None
    guild_id: int | None
    channel_id: int | None
    status: str
    last_fetch_at: str | None
    last_ok_at: str | None
    last_error: str | None
    warning: str | None
    etag: str | None
    last_modified: str | None
    failures: int
    next_poll_at: float | None
    articles: int = 0

    @property
    def display_name(self) -> str:
        return self.name or self.title or self.url


@dataclass(frozen=True)
class Article:
    id: int
    guid: str
    url: str
    title: str
    outlet: str
    authors: tuple[str, ...]
    published: str | None
    published_ts: float | None
    date_source: str
    fetched_at: str
    language: str | None
    summary: str
    text: str
    text_source: str

    def to_dict(self) -> dict:
        return {
            "id": self.id, "url": self.url, "title": self.title, "outlet": self.outlet,
            "published": self.published, "authors": list(self.authors), "language": self.language,
            "text_source": self.text_source, "date_source": self.date_source,
            "fetched_at": self.fetched_at, "text": self.text,
        }


@dataclass(frozen=True)
class PassageRow:
    id: str
    article_id: int
    seq: int
    title: str
    text: str
    published_ts: float | None
    outlet: str


def _feed(row: dict, articles: int = 0) -> Feed:
    return Feed(
        id=row["id"], url=row["url"], name=row["name"] or "", title=row["title"],
        guild_id=row["guild_id"], channel_id=row["channel_id"], status=row["status"] or "new",
        last_fetch_at=row["last_fetch_at"], last_ok_at=row["last_ok_at"], last_error=row["last_error"],
        warning=row["warning"], etag=row["etag"], last_modified=row["last_modified"],
        failures=row["failures"] or 0, next_poll_at=row["next_poll_at"], articles=articles,
    )


def _article(row: dict) -> Article:
    return Article(
        id=row["id"], guid=row["guid"], url=row["url"] or "", title=row["title"] or "",
        outlet=row["outlet"] or "", authors=tuple(json.loads(row["authors"] or "[]")),
        published=row["published"], published_ts=row["published_ts"], date_source=row["date_source"] or "",
        fetched_at=row["fetched_at"] or "", language=row["language"], summary=row["summary"] or "",
        text=row["text"] or "", text_source=row["text_source"] or "",
    )


_FTS_TOKEN = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being this that these
    those it its into about over after before than then so such what which who whom whose when where why how
    do does did has have had not no nor can could would should will shall may might must i you he she we they
    me him her us them my your his our their there here also just only very more most some any all each
    both few other same own s t week recently new according""".split()
)


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: every word quoted, joined by OR. None when no word is left."""
    words = [w.lower() for w in _FTS_TOKEN.findall(text or "")]
    terms = [w for w in words if w not in STOPWORDS and len(w) > 1] or [w for w in words if w]
    unique = list(dict.fromkeys(terms))[:64]
    if not unique:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in unique)


class Archive:
    """Thread-safe access to the archive: one SQLite connection per thread."""

    def __init__(self, path: str | Path):
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
    @property
    def db(self) -> sqlite_utils.Database:
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

    # -- feeds -------------------------------------------------------------
    def add_feed(self, url: str, name: str = "", guild_id: int | None = None,
                 channel_id: int | None = None, added_by: int | None = None) -> tuple[Feed, bool]:
        """Add a feed; returns (feed, created). An existing URL is returned unchanged."""
        existing = self.find_feed(url)
        if existing:
            return existing, False
        with self.transaction():
            _insert(self.db, "feeds", {
                "url": url, "name": name, "guild_id": guild_id, "channel_id": channel_id,
                "added_by": added_by, "added_at": now_iso(), "status": "new", "failures": 0,
                "posting_since": time.time(),
            })
        return self.find_feed(url), True

    def find_feed(self, url_or_id: str | int) -> Feed | None:
        key = str(url_or_id).strip()
        if key.isdigit():
            rows = list(self.db.query("SELECT * FROM feeds WHERE id = ?", [int(key)]))
        else:
            rows = list(self.db.query("SELECT * FROM feeds WHERE url = ? OR lower(name) = lower(?)", [key, key]))
        return _feed(rows[0], self._article_count(rows[0]["id"])) if rows else None

    def get_feed(self, url_or_id: str | int) -> Feed:
        feed = self.find_feed(url_or_id)
        if feed is None:
            raise NotFound(f"no feed {url_or_id!r}")
        return feed

    def _article_count(self, feed_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM article_feeds WHERE feed_id = ?", [feed_id]).fetchone()[0]

    def list_feeds(self, guild_id: int | None = None, scoped: bool = False) -> list[Feed]:
        """All feeds; with scoped=True only the global ones plus those of guild_id."""
        where, params = "", []
        if scoped:
            where, params = "WHERE f.guild_id IS NULL OR f.guild_id = ?", [guild_id]
        rows = self.db.query(
            f"""SELECT f.*, (SELECT count(*) FROM article_feeds af WHERE af.feed_id = f.id) AS n
                FROM feeds f {where} ORDER BY f.id""", params)
        return [_feed(r, r["n"]) for r in rows]

    def remove_feed(self, feed_id: int) -> int:
        """Remove a feed and the articles no other feed carries. Returns articles removed."""
        with self.transaction():
            orphans = [r[0] for r in self.db.execute(
                """SELECT article_id FROM article_feeds WHERE feed_id = ? AND article_id NOT IN
                   (SELECT article_id FROM article_feeds WHERE feed_id != ?)""", [feed_id, feed_id]).fetchall()]
            self.db.execute("DELETE FROM article_feeds WHERE feed_id = ?", [feed_id])
            for article_id in orphans:
                self._delete_passages(article_id)
                self.db.execute("DELETE FROM posts WHERE article_id = ?", [article_id])
                self.db.execute("DELETE FROM articles WHERE id = ?", [article_id])
            self.db.execute("UPDATE articles SET feed_id = NULL WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM feed_notices WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM feeds WHERE id = ?", [feed_id])
        return len(orphans)

    def update_feed(self, feed_id: int, **fields) -> None:
        with self.transaction():
            _update(self.db, "feeds", feed_id, fields)

    # -- articles ----------------------------------------------------------
    def find_article_for_entry(self, guid: str, url: str, chash: str, published_ts: float,
                               same_text_days: float = 7.0) -> dict | None:
        """The archived article this entry is: same GUID, same canonical URL, or the same text
        published within a few days (a re-post under a new GUID). The same text years apart
        (a recurring item) is a different article."""
        window = same_text_days * 86400
        for sql, params in (("guid = ?", [guid]), ("url = ?", [url]),
                            ("content_hash = ? AND abs(published_ts - ?) <= ?", [chash, published_ts, window])):
            if not params[0]:
                continue
            row = self.db.execute(f"SELECT id, guid, content_hash, url FROM articles WHERE {sql} LIMIT 1",
                                  params).fetchone()
            if row:
                return {"id": row[0], "guid": row[1], "content_hash": row[2], "url": row[3], "by": sql.split()[0]}
        return None

    def entry_unchanged(self, guid: str, entry_hash: str) -> int | None:
        """The article id when this entry was archived before with the same feed fields."""
        row = self.db.execute("SELECT id FROM articles WHERE guid = ? AND entry_hash = ?", [guid, entry_hash]).fetchone()
        return row[0] if row else None

    def bump_generation(self) -> None:
        """Tell every process that the vector index changed (the dense mirror reloads)."""
        self.set_meta("index_generation", f"{time.time():.6f}")

    def link_feed(self, article_id: int, feed_id: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO article_feeds (article_id, feed_id, first_seen_at) VALUES (?, ?, ?)",
                        [article_id, feed_id, now_iso()])

    def write_article(self, record: dict, passages: list[PassageRow], article_id: int | None = None) -> int:
        """Insert or replace an article and its passages in one transaction (caller holds it)."""
        db = self.db
        if article_id is None:
            article_id = _insert(db, "articles", record)
        else:
            _update(db, "articles", article_id, record)
            self._delete_passages(article_id)
        rows = [
            {"id": p.id.replace("{article}", str(article_id)), "article_id": article_id, "seq": p.seq,
             "title": p.title, "text": p.text, "published_ts": p.published_ts, "outlet": p.outlet, "embedded": 0}
            for p in passages
        ]
        if rows:
            for row in rows:
                _insert(db, "passages", row)
            db.execute("DELETE FROM vector_deletes WHERE passage_id IN (%s)" % ",".join("?" * len(rows)),
                       [r["id"] for r in rows])
        return article_id

    def _delete_passages(self, article_id: int) -> None:
        ids = [r[0] for r in self.db.execute("SELECT id FROM passages WHERE article_id = ?", [article_id]).fetchall()]
        if ids:
            self.db.execute("DELETE FROM passage_neighbours WHERE passage_id IN "
                            "(SELECT id FROM passages WHERE article_id = ?)", [article_id])
            self.db.execute("DELETE FROM passages WHERE article_id = ?", [article_id])
            for passage_id in ids:
                _insert(self.db, "vector_deletes", {"passage_id": passage_id, "queued_at": now_iso()}, replace=True)

    def get_article(self, url_or_id: str | int) -> Article:
        key = str(url_or_id).strip()
        row = None
        if key.isdigit():
            row = next(self.db.query("SELECT * FROM articles WHERE id = ?", [int(key)]), None)
        if row is None and key:
            from .clean import canonical_url
            row = next(self.db.query("SELECT * FROM articles WHERE url = ? OR url = ? OR guid = ?",
                                     [key, canonical_url(key), key]), None)
        if row is None:
            raise NotFound(f"no article {url_or_id!r} in the archive")
        return _article(row)

    def articles_by_ids(self, ids: Iterable[int]) -> dict[int, Article]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        out = {}
        for chunk, marks in _in_chunks(ids):
            for row in self.db.query(f"SELECT * FROM articles WHERE id IN ({marks})", chunk):
                out[row["id"]] = _article(row)
        return out

    def article_exists(self, article_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone() is not None

    # -- passages ----------------------------------------------------------
    def passages_by_ids(self, ids: Iterable[str]) -> dict[str, PassageRow]:
        ids = list(dict.fromkeys(ids))
        out = {}
        for chunk, marks in _in_chunks(ids):
            for row in self.db.query(f"SELECT * FROM passages WHERE id IN ({marks})", chunk):
                out[row["id"]] = PassageRow(row["id"], row["article_id"], row["seq"], row["title"] or "",
                                            row["text"], row["published_ts"], row["outlet"] or "")
        return out

    def passage_meta(self, ids: Iterable[str]) -> dict[str, tuple[int, float | None, str]]:
        """passage id -> (article_id, published_ts, outlet), without reading the text."""
        ids = list(dict.fromkeys(ids))
        out = {}
        for chunk, marks in _in_chunks(ids):
            out.update((r[0], (r[1], r[2], r[3] or "")) for r in self.db.execute(
                f"SELECT id, article_id, published_ts, outlet FROM passages WHERE id IN ({marks})", chunk))
        return out

    def document_frequency(self, word: str) -> int:
        """Articles containing ``word`` (as the keyword index stems it). Articles, not passages:
        a long article repeating a word in every passage does not make that word common."""
        match = fts_query(word)
        if match is None:
            return 0
        try:
            return self.db.execute(
                """SELECT count(DISTINCT p.article_id) FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
                   WHERE passages_fts MATCH ?""", [match]).fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    def passage_counts(self, article_ids: list[int]) -> dict[int, int]:
        out = {}
        for chunk, marks in _in_chunks(article_ids):
            out.update(self.db.execute(
                f"SELECT article_id, count(*) FROM passages WHERE article_id IN ({marks}) GROUP BY article_id",
                chunk).fetchall())
        return out

    def passages_to_embed(self, limit: int = 100_000) -> list[PassageRow]:
        rows = self.db.query(
            "SELECT * FROM passages WHERE embedded = 0 ORDER BY article_id, seq LIMIT ?", [limit])
        return [PassageRow(r["id"], r["article_id"], r["seq"], r["title"] or "", r["text"], r["published_ts"],
                           r["outlet"] or "") for r in rows]

    def mark_embedded(self, ids: list[str], value: int = 1) -> None:
        """A passage (re-)embedded or taken out of the index: its neighbours are recomputed."""
        with self.transaction():
            for chunk, marks in _in_chunks(ids):
                self.db.execute(f"UPDATE passages SET embedded = ? WHERE id IN ({marks})", [value, *chunk])
                self.db.execute(f"DELETE FROM passage_neighbours WHERE passage_id IN ({marks})", chunk)

    def embedded_passage_rows(self) -> list[tuple]:
        """What the vector mirror needs of each embedded passage: id, article id, unix time, outlet,
        stored neighbour similarities (or None)."""
        return self.db.execute(
            """SELECT p.id, p.article_id, p.published_ts, p.outlet, n.sims FROM passages p
               LEFT JOIN passage_neighbours n ON n.passage_id = p.id
               WHERE p.embedded = 1 ORDER BY p.rowid""").fetchall()

    def save_neighbours(self, sims: dict[str, bytes]) -> None:
        with self.transaction():
            self.db.conn.executemany("INSERT OR REPLACE INTO passage_neighbours (passage_id, sims) VALUES (?, ?)",
                                     sims.items())

    def mark_all_unembedded(self, feed_id: int | None = None) -> int:
        with self.transaction():
            if feed_id is None:
                cur = self.db.execute("UPDATE passages SET embedded = 0")
                self.db.execute("DELETE FROM passage_neighbours")
            else:
                cur = self.db.execute(
                    "UPDATE passages SET embedded = 0 WHERE article_id IN "
                    "(SELECT article_id FROM article_feeds WHERE feed_id = ?)", [feed_id])
                self.db.execute("DELETE FROM passage_neighbours WHERE passage_id IN (SELECT p.id FROM passages p "
                                "JOIN article_feeds af ON af.article_id = p.article_id WHERE af.feed_id = ?)",
                                [feed_id])
            return cur.rowcount

    def pending_vector_deletes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT passage_id FROM vector_deletes").fetchall()]

    def clear_vector_deletes(self, ids: list[str]) -> None:
        with self.transaction():
            for chunk, marks in _in_chunks(ids):
                self.db.execute(f"DELETE FROM vector_deletes WHERE passage_id IN ({marks})", chunk)

    def all_passage_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM passages").fetchall()}

    def keyword_search(self, text: str, *, limit: int, since_ts: float | None, until_ts: float | None,
                       outlets: list[str] | None = None, article_ids: list[int] | None = None,
                       guild_id: int | None = None, scoped: bool = False) -> list[tuple[str, int, float]]:
        """BM25 over passages: (passage_id, article_id, score) best first; score is -bm25 (higher is better)."""
        match = fts_query(text)
        if match is None:
            return []
        where, params = filter_clauses("p", "p.article_id", since_ts, until_ts, outlets, guild_id, scoped)
        where.insert(0, "passages_fts MATCH ?")
        params.insert(0, match)
        sql = f"""SELECT p.id, p.article_id, -bm25(passages_fts, 2.0, 1.0) AS score
                  FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
                  WHERE {' AND '.join(where)} ORDER BY bm25(passages_fts, 2.0, 1.0) LIMIT ?"""
        params.append(limit)
        try:
            return [(r[0], r[1], r[2]) for r in self.db.execute(sql, params).fetchall()]
        except sqlite3.OperationalError as exc:
            log.warning("keyword search failed for %r: %s", match, exc)
            return []

    # -- posts (auto-posting claims) ----------------------------------------
    def claim_post(self, channel_id: int, article_id: int, feed_id: int) -> bool:
        """Atomically claim the right to post an article to a channel; False when already claimed."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO posts (channel_id, article_id, feed_id, claimed_at) VALUES (?, ?, ?, ?)",
                [channel_id, article_id, feed_id, now_iso()])
            return cur.rowcount == 1

    def unannounced_feed_health(self) -> list[Feed]:
        """Feeds whose health (failing or not) differs from the state last announced for them."""
        rows = self.db.query(
            """SELECT f.* FROM feeds f LEFT JOIN feed_notices n ON n.feed_id = f.id
               WHERE coalesce(n.announced, 'ok') != CASE f.status WHEN 'error' THEN 'error' ELSE 'ok' END
               ORDER BY f.id""")
        return [_feed(r) for r in rows]

    def claim_feed_notice(self, feed_id: int, state: str) -> bool:
        """Atomically claim the right to announce that a feed is now ``state`` (``ok``/``error``).
        A feed added after migration m003 starts as ``ok`` (so failing from its first fetch is news);
        exactly one caller, in any process, wins each change."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO feed_notices (feed_id, announced, changed_at) VALUES (?, 'ok', ?)",
                            [feed_id, now_iso()])
            cur = self.db.execute(
                "UPDATE feed_notices SET announced = ?, changed_at = ? WHERE feed_id = ? AND announced != ?",
                [state, now_iso(), feed_id, state])
            return cur.rowcount == 1

    def record_post(self, channel_id: int, article_id: int, message_id: int | None) -> None:
        with self.transaction():
            self.db.execute("UPDATE posts SET message_id = ? WHERE channel_id = ? AND article_id = ?",
                            [message_id, channel_id, article_id])

    # -- stats ---------------------------------------------------------------
    def counts(self) -> dict:
        q = lambda sql: self.db.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "feeds": q("SELECT count(*) FROM feeds"),
            "articles": q("SELECT count(*) FROM articles"),
            "passages": q("SELECT count(*) FROM passages"),
            "embedded_passages": q("SELECT count(*) FROM passages WHERE embedded = 1"),
        }

    def outlets(self, guild_id: int | None = None, scoped: bool = False) -> list[dict]:
        where, params = "", []
        if scoped:
            where, params = "WHERE " + scope_clause("a.id"), [guild_id]
        rows = self.db.execute(
            f"""SELECT a.outlet, count(*), max(a.published_ts), max(a.fetched_at) FROM articles a {where}
                GROUP BY a.outlet ORDER BY count(*) DESC""", params).fetchall()
        return [{"outlet": r[0], "articles": r[1], "latest_ts": r[2], "last_fetched": r[3]} for r in rows]

    def latest_articles(self, *, limit: int, until_ts: float | None, outlets: list[str] | None,
                        since_ts: float | None = None, guild_id: int | None = None, scoped: bool = False) -> list[Article]:
        where, params = filter_clauses("a", "a.id", since_ts, until_ts, outlets, guild_id, scoped)
        where.insert(0, "1=1")
        params.append(limit)
        rows = self.db.query(
            f"SELECT * FROM articles a WHERE {' AND '.join(where)} ORDER BY a.published_ts DESC, a.id DESC LIMIT ?",
            params)
        return [_article(r) for r in rows]

    def visible_article_ids(self, guild_id: int | None) -> set[int]:
        return {r[0] for r in self.db.execute(_VISIBLE_ARTICLES, [guild_id]).fetchall()}

    def article_visible(self, article_id: int, guild_id: int | None) -> bool:
        return self.db.execute("SELECT " + scope_clause("?"), [article_id, guild_id]).fetchone()[0] == 1

    def scope_signature(self) -> tuple:
        """Changes whenever which feeds carry which articles, or which server owns a feed, may have
        changed (a cheap key for caching per-server visibility)."""
        return tuple(self.db.execute(
            """SELECT (SELECT count(*) FROM article_feeds), (SELECT coalesce(max(rowid), 0) FROM article_feeds),
                      (SELECT count(*) FROM feeds), (SELECT coalesce(max(id), 0) FROM feeds),
                      (SELECT total(coalesce(guild_id, 0)) FROM feeds)""").fetchone())

    # -- auto-posting queue ----------------------------------------------------
    def mark_feed_first_ok(self, feed_id: int) -> None:
        """Remember the feed's first successful fetch (once): what it carries now is backlog."""
        with self.transaction():
            self.db.execute(
                """UPDATE feeds SET first_ok_at = ?, first_ok_seq =
                       (SELECT coalesce(max(af.rowid), 0) FROM article_feeds af WHERE af.feed_id = ?)
                   WHERE id = ? AND first_ok_at IS NULL""", [time.time(), feed_id, feed_id])

    def pending_posts(self, limit: int = 200, max_age_seconds: float = 2 * 86400) -> list[tuple[int, int, int]]:
        """(channel_id, feed_id, article_id) still to auto-post, oldest first, one row per
        (channel, article): linked to a feed with a channel after that feed's first successful
        fetch (its backlog never counts), first seen within ``max_age_seconds`` (no flood after a
        long downtime), published no earlier than the feed's ``posting_since`` minus a grace
        period, and not claimed in ``posts`` yet (by any process)."""
        now = time.time()
        rows = self.db.execute(
            f"""SELECT f.channel_id, min(af.feed_id), af.article_id,
                       min({_EPOCH_SQL.format("af.first_seen_at")}) AS seen, min(a.published_ts) AS published
                FROM article_feeds af
                JOIN feeds f ON f.id = af.feed_id
                JOIN articles a ON a.id = af.article_id
                WHERE f.channel_id IS NOT NULL
                  AND f.first_ok_at IS NOT NULL
                  AND ({_EPOCH_SQL.format("af.first_seen_at")} > f.first_ok_at
                       OR af.rowid > coalesce(f.first_ok_seq, 0))
                  AND {_EPOCH_SQL.format("af.first_seen_at")} >= ?
                  AND (f.posting_since IS NULL OR a.published_ts IS NULL
                       OR a.published_ts >= f.posting_since - ?)
                  AND NOT EXISTS (SELECT 1 FROM posts p
                                  WHERE p.channel_id = f.channel_id AND p.article_id = af.article_id)
                GROUP BY f.channel_id, af.article_id
                ORDER BY seen, published, af.article_id
                LIMIT ?""",
            [now - max_age_seconds, POST_GRACE_SECONDS, limit]).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]


def filter_clauses(alias: str, article_col: str, since_ts: float | None, until_ts: float | None,
                   outlets: list[str] | None, guild_id: int | None, scoped: bool) -> tuple[list[str], list]:
    """WHERE clauses and parameters for the date, outlet and server-scope filters of a table
    (articles or passages) that has published_ts and outlet columns."""
    where: list[str] = []
    params: list = []
    if since_ts is not None:
        where.append(f"{alias}.published_ts >= ?")
        params.append(since_ts)
    if until_ts is not None:
        where.append(f"{alias}.published_ts <= ?")
        params.append(until_ts)
    if outlets:
        where.append(f"{alias}.outlet IN (%s)" % ",".join("?" * len(outlets)))
        params += outlets
    if scoped:
        where.append(scope_clause(article_col))
        params.append(guild_id)
    return where, params


# ids of the articles carried by a global feed or a feed of the given guild (one ? parameter)
_VISIBLE_ARTICLES = ("SELECT af.article_id FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
                     "WHERE f.guild_id IS NULL OR f.guild_id = ?")


def scope_clause(article_col: str) -> str:
    """SQL: the article is carried by a global feed or a feed of the given guild (one ? parameter)."""
    return f"{article_col} IN ({_VISIBLE_ARTICLES})"


def _insert(db: sqlite_utils.Database, table: str, record: dict, replace: bool = False) -> int:
    """Plain INSERT that stays inside the caller's transaction (sqlite-utils' helpers commit)."""
    cols = list(record)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    cur = db.execute(f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES "
                     f"({', '.join('?' * len(cols))})", [record[c] for c in cols])
    return cur.lastrowid


def _update(db: sqlite_utils.Database, table: str, pk: int, record: dict) -> None:
    if record:
        db.execute(f"UPDATE [{table}] SET {', '.join(f'[{c}] = ?' for c in record)} WHERE id = ?",
                   [*record.values(), pk])


class _Transaction:
    def __init__(self, archive: Archive):
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
