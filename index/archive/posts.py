"""Deliveries claimed across processes: auto-posts (one row per channel and article) and
feed-health notices (the state last announced for each feed)."""

from __future__ import annotations

import time

from ..models import Feed
from .db import Database
from .rows import feed_from_row
from .sql import now_iso

POST_GRACE_SECONDS = 6 * 3600  # an article published shortly before its feed was added still counts as new

# unix time of an ISO-8601 text column (the archive writes UTC with an offset, e.g. 2026-01-01T10:00:00+00:00)
_EPOCH_SQL = "CAST(strftime('%s', {}) AS INTEGER)"
_EPOCH_SQL_POSTGRES = "CAST(floor(extract(epoch FROM CAST({} AS timestamptz))) AS BIGINT)"


class PostStore(Database):
    """Claims: each delivery is won by exactly one caller, in any process."""

    # -- posts (auto-posting claims) ----------------------------------------
    def claim_post(self, channel_id: int, article_id: int, feed_id: int) -> bool:
        """Atomically claim the right to post an article to a channel; False when already claimed."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO posts (channel_id, article_id, feed_id, claimed_at) VALUES (?, ?, ?, ?)",
                [channel_id, article_id, feed_id, now_iso()],
            )
            return cur.rowcount == 1

    def record_post(self, channel_id: int, article_id: int, message_id: int | None) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE posts SET message_id = ? WHERE channel_id = ? AND article_id = ?",
                [message_id, channel_id, article_id],
            )

    def pending_posts(self, limit: int = 200, max_age_seconds: float = 2 * 86400) -> list[tuple[int, int, int]]:
        """(channel_id, feed_id, article_id) still to auto-post, oldest first, one row per
        (channel, article): linked to a feed with a channel after that feed's first successful
        fetch (its backlog never counts), first seen within ``max_age_seconds`` (no flood after a
        long downtime), published no earlier than the feed's ``posting_since`` minus a grace
        period, and not claimed in ``posts`` yet (by any process)."""
        now = time.time()
        epoch = _EPOCH_SQL_POSTGRES if self.backend == "postgresql" else _EPOCH_SQL
        rows = self.db.execute(
            f"""SELECT f.channel_id, min(af.feed_id), af.article_id,
                       min({epoch.format("af.first_seen_at")}) AS seen, min(a.published_ts) AS published
                FROM article_feeds af
                JOIN feeds f ON f.id = af.feed_id
                JOIN articles a ON a.id = af.article_id
                WHERE f.channel_id IS NOT NULL
                  AND f.first_ok_at IS NOT NULL
                  AND ({epoch.format("af.first_seen_at")} > f.first_ok_at
                       OR af.rowid > coalesce(f.first_ok_seq, 0))
                  AND {epoch.format("af.first_seen_at")} >= ?
                  AND (f.posting_since IS NULL OR a.published_ts IS NULL
                       OR a.published_ts >= f.posting_since - ?)
                  AND NOT EXISTS (SELECT 1 FROM posts p
                                  WHERE p.channel_id = f.channel_id AND p.article_id = af.article_id)
                GROUP BY f.channel_id, af.article_id
                ORDER BY seen, published, af.article_id
                LIMIT ?""",
            [now - max_age_seconds, POST_GRACE_SECONDS, limit],
        ).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def unannounced_feed_health(self) -> list[Feed]:
        """Feeds whose health (failing or not) differs from the state last announced for them."""
        rows = self.db.query(
            """SELECT f.* FROM feeds f LEFT JOIN feed_notices n ON n.feed_id = f.id
               WHERE coalesce(n.announced, 'ok') != CASE f.status WHEN 'error' THEN 'error' ELSE 'ok' END
               ORDER BY f.id"""
        )
        return [feed_from_row(r) for r in rows]

    def claim_feed_notice(self, feed_id: int, state: str) -> bool:
        """Atomically claim the right to announce that a feed is now ``state`` (``ok``/``error``).
        A feed added after migration m003 starts as ``ok`` (so failing from its first fetch is news);
        exactly one caller, in any process, wins each change."""
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO feed_notices (feed_id, announced, changed_at) VALUES (?, 'ok', ?)",
                [feed_id, now_iso()],
            )
            cur = self.db.execute(
                "UPDATE feed_notices SET announced = ?, changed_at = ? WHERE feed_id = ? AND announced != ?",
                [state, now_iso(), feed_id, state],
            )
            return cur.rowcount == 1
