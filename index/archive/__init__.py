"""The archive: feeds, articles, passages and every record the bot keeps, in one SQLite file
(via sqlite-utils) by default or in a PostgreSQL database (below), behind one ``Archive`` class.

The SQLite file is an ordinary database, browsable with Datasette as it is. Schema
changes are ``m00N_…`` functions in :mod:`index.archive.migrations`, applied in order,
once. Every SQL statement of newsdesk lives in this package, one module per table family:

- :mod:`.db` — connections (one per thread), write transactions, migrations, meta
- :mod:`.feeds` — feeds and their fetch state
- :mod:`.articles` — articles, dedupe lookups, the latest list
- :mod:`.passages` — passages, the embedded flag, vector deletes, neighbour lists, FTS5
- :mod:`.posts` — auto-post and feed-notice claims
- :mod:`.delivery` — delivery filters, flood-control limits and the delivery log
- :mod:`.scope` — server scope and the date/outlet/scope filters
- :mod:`.checks` — consistency checks for ``newsdesk doctor``
- :mod:`.watches` — standing questions, their change notices, answers and votes on them
- :mod:`.follows` — topic follows and their alert claims
- :mod:`.digests` — digest schedules and their claims, period and topic reads
- :mod:`.vectorscale` — the engine path's lookups: passage ids by date/outlet/server, neighbour lists past a watermark

PostgreSQL. ``Archive("postgresql://…")`` opens the archive in a
PostgreSQL database instead of the SQLite file; SQLite stays the embedded default and its path is
unchanged. The design keeps one SQL text per query, written in SQLite's dialect by the mixins:

- :mod:`.pg` — a psycopg 3 pool (psycopg_pool), one pooled connection per thread in autocommit
  mode, wrapped to look like the part of sqlite-utils' ``Database`` the mixins use
  (``execute``, ``query``, ``conn.execute``/``executemany``/``in_transaction``, ``lastrowid``,
  ``rowcount``). :func:`.pg.translate` rewrites the few SQLite-only forms: ``?`` → ``%s``,
  ``[col]`` → ``"col"``, ``BEGIN IMMEDIATE`` → ``BEGIN``, ``INSERT OR IGNORE`` → ``ON CONFLICT DO
  NOTHING``, ``INSERT OR REPLACE`` → ``ON CONFLICT (primary key) DO UPDATE``, and adds
  ``RETURNING id`` for ``lastrowid``. ``Database.transaction`` works unchanged on top of it
  (BEGIN/COMMIT/ROLLBACK through the wrapper; the in-process write lock still serialises a
  process's writers, but PostgreSQL's READ COMMITTED does not serialise writers across processes
  as SQLite's BEGIN IMMEDIATE does: claims rely on primary keys and ``ON CONFLICT``, which hold).
- :mod:`.pg_migrations` — the PostgreSQL form of every ``m00N`` of :data:`MIGRATIONS` (one list,
  two forms, looked up by name), applied under ``pg_advisory_lock`` and recorded in the same
  ``migrations`` table. What the shared SQL needs that SQLite has built in is in the schema: a
  ``rowid`` identity column on the tables whose rowid is read, a ``total()`` aggregate, BIGINT for
  every integer. FTS5 becomes ``passages.fts``: a generated tsvector (title weight A, text B) with
  a GIN index.
- What does not translate (FTS5 ``MATCH``/``bm25``, ``strftime('%s', …)``, ``PRAGMA``) gets a
  per-backend branch in its mixin, on ``self.backend``: keyword search in :mod:`.pg_search`
  (``websearch_to_tsquery`` and ``ts_rank``), the epoch of an ISO column in :mod:`.posts`, the
  integrity and full-text checks in :mod:`.checks`.
- :mod:`.backends` — ``open_archive``, which the service uses: a PostgreSQL URL would be refused
  with a ConfigError listing any part missing there (none is).
- :mod:`.migrate` — ``newsdesk migrate-archive``: a SQLite archive copied into PostgreSQL, resumable,
  verified by counts and checksums.
- :data:`.pg.PORTED` lists the mixins (or methods) that run and are tested on PostgreSQL
  (tests/index/archive/test_backends.py runs one suite on both backends); every other method of
  a PostgreSQL archive raises ConfigError naming itself, so nothing half-works silently.
"""

from __future__ import annotations

from .articles import ArticleStore
from .checks import ConsistencyChecks
from .delivery import DeliveryStore
from .digests import DigestStore
from .feeds import FeedStore
from .follows import FollowStore
from .migrations import MIGRATIONS
from .passages import PassageStore, fts_query
from .posts import PostStore
from .scope import ScopeQueries
from .vectorscale import VectorScaleQueries
from .watches import WatchStore

__all__ = ["MIGRATIONS", "Archive", "fts_query"]


class Archive(
    FeedStore,
    ArticleStore,
    PassageStore,
    PostStore,
    DeliveryStore,
    ScopeQueries,
    ConsistencyChecks,
    FollowStore,
    DigestStore,
    WatchStore,
    VectorScaleQueries,
):
    """Thread-safe access to the archive: one SQLite connection per thread."""
