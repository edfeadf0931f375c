"""Delivery rules and the delivery log (migration m005): filters per feed and channel, flood
control per channel, and what happened to every (channel, article) the auto-poster looked at."""

from __future__ import annotations

import json
import time

from ..models import ChannelLimits, FilterRule, PostTemplate
from .db import Database
from .posts import _EPOCH_SQL, _EPOCH_SQL_POSTGRES
from .sql import now_iso

STALE_SENDING_SECONDS = 600  # a claim without a result after this long: the sender died, try again


def _rule(row) -> FilterRule:
    return FilterRule(
        id=row[0],
        feed_id=row[1],
        channel_id=row[2],
        action=row[3],
        field=row[4],
        pattern=row[5],
        regex=bool(row[6]),
        negate=bool(row[7]),
        case_sensitive=bool(row[8]),
    )


_RULE_COLUMNS = "id, feed_id, channel_id, action, field, pattern, regex, negate, case_sensitive"

# SQLite's REPLACE deletes the row clashing on the UNIQUE (feed_id, role_id) index and inserts a new
# one (a new id: the ping goes last in feed_pings). PostgreSQL's ON CONFLICT needs that index as its
# target, and a new identity value for the same order; atomic across processes as well.
_SET_PING_POSTGRES = """INSERT INTO delivery_pings (feed_id, guild_id, role_id, field, pattern, regex,
    subscribable, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (feed_id, role_id) DO UPDATE SET id = DEFAULT, guild_id = excluded.guild_id,
    field = excluded.field, pattern = excluded.pattern, regex = excluded.regex,
    subscribable = excluded.subscribable, created_by = excluded.created_by, created_at = excluded.created_at"""


class DeliveryStore(Database):
    # -- filters -------------------------------------------------------------
    def add_filter(
        self,
        feed_id: int,
        channel_id: int | None,
        action: str,
        field: str,
        pattern: str,
        regex: bool,
        negate: bool,
        case_sensitive: bool,
        created_by: int | None,
    ) -> FilterRule:
        with self.transaction():
            cur = self.db.execute(
                """INSERT INTO delivery_filters (feed_id, channel_id, action, field, pattern, regex, negate,
                   case_sensitive, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    feed_id,
                    channel_id,
                    action,
                    field,
                    pattern,
                    int(regex),
                    int(negate),
                    int(case_sensitive),
                    created_by,
                    now_iso(),
                ],
            )
            row = self.db.execute(
                f"SELECT {_RULE_COLUMNS} FROM delivery_filters WHERE id = ?", [cur.lastrowid]
            ).fetchone()
        return _rule(row)

    def feed_filters(self, feed_id: int, channel_id: int | None = None) -> list[FilterRule]:
        """The rules of a feed for a channel (rules without a channel apply to every channel)."""
        rows = self.db.execute(
            f"""SELECT {_RULE_COLUMNS} FROM delivery_filters
                WHERE feed_id = ? AND (channel_id IS NULL OR channel_id = coalesce(?, channel_id)) ORDER BY id""",
            [feed_id, channel_id],
        ).fetchall()
        return [_rule(r) for r in rows]

    def remove_filter(self, feed_id: int, filter_id: int) -> bool:
        with self.transaction():
            cur = self.db.execute("DELETE FROM delivery_filters WHERE feed_id = ? AND id = ?", [feed_id, filter_id])
            return cur.rowcount == 1

    def clear_filters(self, feed_id: int) -> int:
        with self.transaction():
            return self.db.execute("DELETE FROM delivery_filters WHERE feed_id = ?", [feed_id]).rowcount

    def feed_recent_articles(self, feed_id: int, limit: int = 20) -> list[int]:
        """Ids of a feed's newest articles (by publication, then arrival)."""
        rows = self.db.execute(
            """SELECT af.article_id FROM article_feeds af JOIN articles a ON a.id = af.article_id
               WHERE af.feed_id = ? ORDER BY coalesce(a.published_ts, 0) DESC, af.rowid DESC LIMIT ?""",
            [feed_id, limit],
        ).fetchall()
        return [r[0] for r in rows]

    # -- flood control ----------------------------------------------------------
    def set_channel_limits(self, limits: ChannelLimits, guild_id: int | None) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT OR REPLACE INTO delivery_limits
                   (channel_id, guild_id, per_window, window_seconds, daily_max, max_age_days, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [
                    limits.channel_id,
                    guild_id,
                    limits.per_window,
                    limits.window_seconds,
                    limits.daily_max,
                    limits.max_age_days,
                    now_iso(),
                ],
            )

    def channel_limits(self, channel_id: int) -> ChannelLimits:
        row = self.db.execute(
            "SELECT per_window, window_seconds, daily_max, max_age_days FROM delivery_limits WHERE channel_id = ?",
            [channel_id],
        ).fetchone()
        if row is None:
            return ChannelLimits(channel_id)
        return ChannelLimits(
            channel_id, per_window=row[0], window_seconds=row[1], daily_max=row[2], max_age_days=row[3]
        )

    def posted_since(self, channel_id: int, since_ts: float) -> int:
        """Posts the auto-poster sent (or is sending) to a channel since a moment."""
        return self.db.execute(
            """SELECT count(*) FROM delivery_log WHERE channel_id = ? AND state IN ('posted', 'sending')
               AND updated_at >= ?""",
            [channel_id, since_ts],
        ).fetchone()[0]

    def held_counts(self, channel_ids: list[int]) -> dict[int, int]:
        """Articles currently held back by a limit, per channel."""
        if not channel_ids:
            return {}
        marks = ",".join("?" * len(channel_ids))
        rows = self.db.execute(
            f"""SELECT channel_id, count(*) FROM delivery_log WHERE state = 'held' AND channel_id IN ({marks})
                GROUP BY channel_id""",
            channel_ids,
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    # -- the delivery log ------------------------------------------------------------
    def log_delivery(
        self,
        channel_id: int,
        article_id: int,
        feed_id: int | None,
        state: str,
        reason: str,
        *,
        message_id: int | None = None,
        next_try_at: float | None = None,
        attempts: int | None = None,
    ) -> None:
        """Record what happened to an article in a channel (the latest word wins; a hold is counted)."""
        with self.transaction():
            self.db.execute(
                """INSERT INTO delivery_log (channel_id, article_id, feed_id, state, reason, attempts, next_try_at,
                       held, message_id, updated_at)
                   VALUES (?, ?, ?, ?, ?, coalesce(?, 0), ?, CASE ? WHEN 'held' THEN 1 ELSE 0 END, ?, ?)
                   ON CONFLICT (channel_id, article_id) DO UPDATE SET
                       feed_id = coalesce(excluded.feed_id, delivery_log.feed_id), state = excluded.state,
                       reason = excluded.reason, attempts = coalesce(?, delivery_log.attempts),
                       next_try_at = excluded.next_try_at,
                       held = delivery_log.held
                           + CASE WHEN excluded.state = 'held' AND delivery_log.state != 'held' THEN 1 ELSE 0 END,
                       message_id = coalesce(excluded.message_id, delivery_log.message_id),
                       updated_at = excluded.updated_at""",
                [
                    channel_id,
                    article_id,
                    feed_id,
                    state,
                    reason,
                    attempts,
                    next_try_at,
                    state,
                    message_id,
                    time.time(),
                    attempts,
                ],
            )

    def claim_delivery(self, channel_id: int, article_id: int, feed_id: int) -> bool:
        """Claim a new post (posts row) and mark it ``sending`` in the log, atomically."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO posts (channel_id, article_id, feed_id, claimed_at) VALUES (?, ?, ?, ?)",
                [channel_id, article_id, feed_id, now_iso()],
            )
            if cur.rowcount != 1:
                return False
            self.log_delivery(channel_id, article_id, feed_id, "sending", "being posted")
            return True

    def due_retries(self, now: float, limit: int = 100) -> list[tuple[int, int, int, int]]:
        """(channel_id, feed_id, article_id, attempts) whose retry is due, and claims left ``sending``
        for longer than STALE_SENDING_SECONDS by a process that died."""
        rows = self.db.execute(
            """SELECT channel_id, coalesce(feed_id, 0), article_id, attempts FROM delivery_log
               WHERE (state = 'retry' AND next_try_at <= ?)
                  OR (state = 'sending' AND message_id IS NULL AND updated_at < ?)
               ORDER BY updated_at LIMIT ?""",
            [now, now - STALE_SENDING_SECONDS, limit],
        ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def claim_retry(self, channel_id: int, article_id: int, attempts: int) -> bool:
        """Exactly one caller, in any process, wins each retry (compare-and-set on the attempt count
        and the state: a due retry, or a claim left ``sending`` past STALE_SENDING_SECONDS; the
        winner's fresh ``sending`` is neither). On PostgreSQL a concurrent caller waits for the
        winner's row and re-checks the condition on it (READ COMMITTED), so it loses too."""
        now = time.time()
        with self.transaction():
            cur = self.db.execute(
                """UPDATE delivery_log SET state = 'sending', reason = 'being posted (retry)', updated_at = ?
                   WHERE channel_id = ? AND article_id = ? AND attempts = ? AND message_id IS NULL
                     AND (state = 'retry' OR (state = 'sending' AND updated_at < ?))""",
                [now, channel_id, article_id, attempts, now - STALE_SENDING_SECONDS],
            )
            return cur.rowcount == 1

    def article_deliveries(self, article_id: int) -> list[dict]:
        rows = self.db.execute(
            """SELECT p.channel_id, p.feed_id, p.message_id, l.state, l.reason, l.attempts, l.next_try_at, l.held
               FROM posts p LEFT JOIN delivery_log l ON l.channel_id = p.channel_id AND l.article_id = p.article_id
               WHERE p.article_id = ?
               UNION ALL
               SELECT l.channel_id, l.feed_id, l.message_id, l.state, l.reason, l.attempts, l.next_try_at, l.held
               FROM delivery_log l WHERE l.article_id = ? AND NOT EXISTS
                   (SELECT 1 FROM posts p WHERE p.channel_id = l.channel_id AND p.article_id = l.article_id)""",
            [article_id, article_id],
        ).fetchall()
        keys = ("channel_id", "feed_id", "message_id", "state", "reason", "attempts", "next_try_at", "held")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def article_feed_ids(self, article_id: int) -> list[int]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT feed_id FROM article_feeds WHERE article_id = ? ORDER BY feed_id", [article_id]
            ).fetchall()
        ]

    def is_backlog(self, feed_id: int, article_id: int) -> bool:
        """Whether the feed already carried the article by its first successful fetch (never auto-posted)."""
        row = self.db.execute(
            """SELECT af.rowid <= coalesce(f.first_ok_seq, 0) FROM article_feeds af JOIN feeds f ON f.id = af.feed_id
               WHERE af.feed_id = ? AND af.article_id = ?""",
            [feed_id, article_id],
        ).fetchone()
        return bool(row and row[0])

    def published_before_feed(self, feed_id: int, article_id: int, grace_seconds: float) -> bool:
        """Whether the article was published before the feed was added (minus a grace period)."""
        row = self.db.execute(
            """SELECT a.published_ts < f.posting_since - ? FROM articles a, feeds f WHERE a.id = ? AND f.id = ?""",
            [grace_seconds, article_id, feed_id],
        ).fetchone()
        return bool(row and row[0])

    # -- backfill ------------------------------------------------------------------------
    def queue_backfill(self, feed_id: int, channel_id: int, article_ids: list[int]) -> int:
        with self.transaction():
            n = 0
            for article_id in article_ids:
                n += self.db.execute(
                    "INSERT OR IGNORE INTO delivery_backfill (channel_id, article_id, feed_id, queued_at) "
                    "VALUES (?, ?, ?, ?)",
                    [channel_id, article_id, feed_id, time.time()],
                ).rowcount
            return n

    def pending_backfill(self, limit: int = 200) -> list[tuple[int, int, int]]:
        """(channel_id, feed_id, article_id) queued by a backfill and not claimed yet, oldest first."""
        rows = self.db.execute(
            """SELECT b.channel_id, b.feed_id, b.article_id FROM delivery_backfill b
               JOIN articles a ON a.id = b.article_id
               WHERE NOT EXISTS (SELECT 1 FROM posts p
                                 WHERE p.channel_id = b.channel_id AND p.article_id = b.article_id)
               ORDER BY coalesce(a.published_ts, 0), b.article_id LIMIT ?""",
            [limit],
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    # -- templates -----------------------------------------------------------------------
    def set_template(self, template: PostTemplate, updated_by: int | None) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT OR REPLACE INTO delivery_templates (feed_id, body, style, timezone, updated_by, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [template.feed_id, template.body, template.style, template.timezone, updated_by, now_iso()],
            )

    def get_template(self, feed_id: int) -> PostTemplate | None:
        row = self.db.execute(
            "SELECT feed_id, body, style, timezone FROM delivery_templates WHERE feed_id = ?", [feed_id]
        ).fetchone()
        return PostTemplate(row[0], row[1], row[2], row[3]) if row else None

    def clear_template(self, feed_id: int) -> bool:
        with self.transaction():
            return self.db.execute("DELETE FROM delivery_templates WHERE feed_id = ?", [feed_id]).rowcount == 1

    # -- role pings ----------------------------------------------------------------------
    def set_ping(
        self,
        feed_id: int,
        guild_id: int | None,
        role_id: int,
        field: str | None,
        pattern: str | None,
        regex: bool,
        subscribable: bool,
        created_by: int | None,
    ) -> None:
        replace = (
            _SET_PING_POSTGRES
            if self.backend == "postgresql"
            else """INSERT OR REPLACE INTO delivery_pings (feed_id, guild_id, role_id, field, pattern, regex,
                   subscribable, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
        )
        with self.transaction():
            self.db.execute(
                replace,
                [feed_id, guild_id, role_id, field, pattern, int(regex), int(subscribable), created_by, now_iso()],
            )

    def remove_ping(self, feed_id: int, role_id: int) -> bool:
        with self.transaction():
            return (
                self.db.execute(
                    "DELETE FROM delivery_pings WHERE feed_id = ? AND role_id = ?", [feed_id, role_id]
                ).rowcount
                == 1
            )

    def feed_pings(self, feed_id: int) -> list[dict]:
        rows = self.db.execute(
            "SELECT role_id, field, pattern, regex, subscribable FROM delivery_pings WHERE feed_id = ? ORDER BY id",
            [feed_id],
        ).fetchall()
        return [
            {"role_id": r[0], "field": r[1] or "any", "pattern": r[2], "regex": bool(r[3]), "subscribable": bool(r[4])}
            for r in rows
        ]

    def role_subscribable(self, guild_id: int, role_id: int) -> bool:
        """Whether a feed of this server pings the role and lets members subscribe to it."""
        row = self.db.execute(
            """SELECT 1 FROM delivery_pings p JOIN feeds f ON f.id = p.feed_id
               WHERE p.role_id = ? AND p.subscribable = 1 AND f.guild_id = ? LIMIT 1""",
            [role_id, guild_id],
        ).fetchone()
        return row is not None

    # -- per-feed delivery options ----------------------------------------------------------
    def set_feed_options(
        self, feed_id: int, thread: bool, updates: str, forum_title: str | None, forum_tags: list[tuple[str, str]]
    ) -> None:
        with self.transaction():
            self.db.execute(
                """INSERT OR REPLACE INTO delivery_feed_options (feed_id, thread, updates, forum_title, forum_tags,
                   updated_at) VALUES (?, ?, ?, ?, ?, ?)""",
                [feed_id, int(thread), updates, forum_title, json.dumps(forum_tags), time.time()],
            )

    def feed_options(self, feed_id: int) -> dict:
        row = self.db.execute(
            "SELECT thread, updates, forum_title, forum_tags FROM delivery_feed_options WHERE feed_id = ?", [feed_id]
        ).fetchone()
        if row is None:
            return {"thread": False, "updates": "ignore", "forum_title": None, "forum_tags": []}
        return {
            "thread": bool(row[0]),
            "updates": row[1],
            "forum_title": row[2],
            "forum_tags": [tuple(t) for t in json.loads(row[3] or "[]")],
        }

    # -- updated articles ------------------------------------------------------------------
    def record_article_update(self, article_id: int, feed_id: int | None) -> None:
        """The ingest re-wrote an article with a changed title or text (inside its transaction)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO delivery_updates (article_id, feed_id, at) VALUES (?, ?, ?)",
                [article_id, feed_id, time.time()],
            )

    def pending_updates(self, max_age_seconds: float = 2 * 86400, limit: int = 100) -> list[tuple]:
        """(channel_id, feed_id, article_id, message_id, mode, update_id): the latest update of an
        article posted by a feed whose update mode is edit or repost, newer than the post (or its
        last update) and than the mode, not handled in that channel yet."""
        now = time.time()
        claimed = (_EPOCH_SQL_POSTGRES if self.backend == "postgresql" else _EPOCH_SQL).format("p.claimed_at")
        # grouped by o.updates too (one options row per post's feed): PostgreSQL wants every column
        rows = self.db.execute(
            f"""SELECT p.channel_id, p.feed_id, p.article_id, p.message_id, o.updates, max(u.id)
               FROM delivery_updates u
               JOIN posts p ON p.article_id = u.article_id AND p.message_id IS NOT NULL
               JOIN delivery_feed_options o ON o.feed_id = p.feed_id AND o.updates IN ('edit', 'repost')
               LEFT JOIN delivery_log l ON l.channel_id = p.channel_id AND l.article_id = p.article_id
               WHERE u.at >= ? AND u.at > o.updated_at
                 AND u.at > coalesce(l.updated_at, {claimed} + 1)
                 AND NOT EXISTS (SELECT 1 FROM delivery_update_claims c
                                 WHERE c.channel_id = p.channel_id AND c.update_id = u.id)
               GROUP BY p.channel_id, p.article_id, o.updates ORDER BY max(u.id) LIMIT ?""",
            [now - max_age_seconds, limit],
        ).fetchall()
        return [tuple(r) for r in rows]

    def claim_update(self, channel_id: int, article_id: int, update_id: int) -> bool:
        """Claim an update for a channel, settling every earlier update of the article there too."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO delivery_update_claims VALUES (?, ?, ?)", [channel_id, update_id, time.time()]
            )
            if cur.rowcount != 1:
                return False
            # newest first, as every claim takes its rows: concurrent claims on PostgreSQL wait for
            # each other's rows in one order, never in a deadlock
            self.db.execute(
                """INSERT OR IGNORE INTO delivery_update_claims (channel_id, update_id, claimed_at)
                   SELECT ?, id, ? FROM delivery_updates WHERE article_id = ? AND id < ? ORDER BY id DESC""",
                [channel_id, time.time(), article_id, update_id],
            )
            return True

    # -- channel problems reported -----------------------------------------------------------
    def claim_channel_notice(self, channel_id: int, reason: str) -> bool:
        with self.transaction():
            return (
                self.db.execute(
                    "INSERT OR IGNORE INTO delivery_channel_notices VALUES (?, ?, ?)", [channel_id, reason, time.time()]
                ).rowcount
                == 1
            )

    def clear_channel_notice(self, channel_id: int) -> None:
        if self.db.execute("SELECT 1 FROM delivery_channel_notices WHERE channel_id = ?", [channel_id]).fetchone():
            with self.transaction():
                self.db.execute("DELETE FROM delivery_channel_notices WHERE channel_id = ?", [channel_id])
