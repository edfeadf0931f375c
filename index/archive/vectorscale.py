"""What dense search on Chroma's own engine needs of the archive: passages still without a
neighbour list (by a rowid watermark, so the cost follows the new passages), stored lists by id,
a random sample of passages for filter selectivity, and server visibility of candidate articles.
Every query here costs in proportion to what it is given, not to the archive."""

from __future__ import annotations

import random

from .db import Database
from .sql import in_chunks


class VectorScaleQueries(Database):
    """Archive lookups of the scalable dense path (index.vectors.engine)."""

    def max_passage_rowid(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(rowid), 0) FROM passages").fetchone()[0])

    def embedded_passage_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM passages WHERE embedded = 1").fetchone()[0])

    def neighbour_list_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM passage_neighbours").fetchone()[0])

    def embedded_without_neighbours(self, after_rowid: int = 0, limit: int = 5000) -> list[tuple[int, str, int]]:
        """(rowid, id, article id) of embedded passages past ``after_rowid`` with no stored
        neighbour list, in rowid order."""
        return self.db.execute(
            """SELECT p.rowid, p.id, p.article_id FROM passages p
               WHERE p.rowid > ? AND p.embedded = 1
                 AND NOT EXISTS (SELECT 1 FROM passage_neighbours n WHERE n.passage_id = p.id)
               ORDER BY p.rowid LIMIT ?""",
            [after_rowid, limit],
        ).fetchall()

    def neighbour_sims(self, ids: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for chunk, marks in in_chunks(list(dict.fromkeys(ids))):
            out.update(
                self.db.execute(
                    f"SELECT passage_id, sims FROM passage_neighbours WHERE passage_id IN ({marks})", chunk
                ).fetchall()
            )
        return out

    def article_facts(self, after_id: int = 0) -> list[tuple[int, float, str]]:
        """(id, unix time, outlet) of the articles past ``after_id``, in id order: what a dense
        engine's post-filter needs of each article (one read, then only the new ones)."""
        return self.db.execute(
            "SELECT id, coalesce(published_ts, 0), coalesce(outlet, '') FROM articles WHERE id > ? ORDER BY id",
            [after_id],
        ).fetchall()

    def passage_sample(self, size: int, seed: int = 0) -> list[tuple[str, int, float, str]]:
        """About ``size`` embedded passages drawn at random: id, article id, unix time, outlet."""
        top = self.max_passage_rowid()
        if top == 0:
            return []
        rng = random.Random(seed)
        rowids = list({rng.randint(1, top) for _ in range(size)}) if top > size else list(range(1, top + 1))
        out: list[tuple[str, int, float, str]] = []
        for chunk, marks in in_chunks(rowids):
            out += self.db.execute(
                f"SELECT id, article_id, coalesce(published_ts, 0), coalesce(outlet, '') FROM passages "
                f"WHERE embedded = 1 AND rowid IN ({marks})",
                chunk,
            ).fetchall()
        return out

    def visible_among(self, article_ids: list[int], guild_id: int | None) -> set[int]:
        """Of the given articles, those a server may see (its feeds plus the global ones)."""
        out: set[int] = set()
        for chunk, marks in in_chunks(list(dict.fromkeys(article_ids))):
            out.update(
                r[0]
                for r in self.db.execute(
                    f"SELECT DISTINCT af.article_id FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
                    f"WHERE af.article_id IN ({marks}) AND (f.guild_id IS NULL OR f.guild_id = ?)",
                    [*chunk, guild_id],
                ).fetchall()
            )
        return out

    def passage_ids_filtered(
        self,
        since_ts: float | None,
        until_ts: float | None,
        outlets: list[str] | None,
        guild_id: int | None,
        scoped: bool,
        limit: int,
        by_date: bool = True,
    ) -> list[str] | None:
        """Ids of the embedded passages inside a date range (by the articles' date index), of the
        outlets, visible to the server: at most ``limit`` (None past it), at a cost that follows the
        matches. Without a date range, or with one that keeps most of the archive (``by_date``
        False: walking the date index would read nearly every article), only a server's feeds
        narrow it, the dates then a condition (None when nothing narrows it)."""
        params: list = []
        # CROSS JOIN and +p.embedded fix the plan: the date (or feed) index first, then each
        # article's passages; SQLite would otherwise walk every embedded passage (4 s at 100k).
        # PostgreSQL has no CROSS JOIN … ON and plans by its statistics: a plain JOIN.
        join, embedded = ("JOIN", "p.embedded") if self.backend == "postgresql" else ("CROSS JOIN", "+p.embedded")
        where = [f"{embedded} = 1"]
        dated = since_ts is not None or until_ts is not None
        span = [-1e18 if since_ts is None else since_ts, 1e18 if until_ts is None else until_ts]
        if dated and by_date:
            sql = f"SELECT p.id FROM articles a {join} passages p ON p.article_id = a.id"
            where.append("a.published_ts BETWEEN ? AND ?")
            params += span
            if outlets:
                where.append(f"a.outlet IN ({','.join('?' * len(outlets))})")
                params += outlets
            if scoped:
                where.append(
                    "EXISTS (SELECT 1 FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
                    "WHERE af.article_id = a.id AND (f.guild_id IS NULL OR f.guild_id = ?))"
                )
                params.append(guild_id)
        elif scoped:
            sql = (
                f"SELECT DISTINCT p.id FROM feeds f {join} article_feeds af ON af.feed_id = f.id "
                f"{join} passages p ON p.article_id = af.article_id"
            )
            where.append("(f.guild_id IS NULL OR f.guild_id = ?)")
            params.append(guild_id)
            if dated:
                where.append("p.published_ts BETWEEN ? AND ?")
                params += span
            if outlets:
                where.append(f"p.outlet IN ({','.join('?' * len(outlets))})")
                params += outlets
        else:
            return None
        rows = self.db.execute(f"{sql} WHERE {' AND '.join(where)} LIMIT ?", [*params, limit + 1]).fetchall()
        return None if len(rows) > limit else [r[0] for r in rows]
