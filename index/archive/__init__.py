"""The archive: one SQLite file (via sqlite-utils) holding feeds, articles and passages.

The file is an ordinary SQLite database, browsable with Datasette as it is. Schema
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
- :mod:`.digests` — digest schedules and their claims, period and topic reads (issue #15)
- :mod:`.vectorscale` — the engine path's lookups: passage ids by date/outlet/server, neighbour lists past a watermark
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
