"""Feeds: add, find, list, remove, and their fetch state."""

from __future__ import annotations

import time

from ..errors import NotFound
from ..models import GLOBAL, Feed, Scope
from .passages import PassageStore
from .rows import feed_from_row
from .scope import scope_clause
from .sql import insert_row, now_iso, update_row


class FeedStore(PassageStore):
    """Feeds and their state (status, conditional-GET validators, backoff)."""

    # -- feeds -------------------------------------------------------------
    def add_feed(
        self,
        url: str,
        name: str = "",
        guild_id: int | None = None,
        channel_id: int | None = None,
        added_by: int | None = None,
    ) -> tuple[Feed, bool]:
        """Add a feed; returns (feed, created). An existing URL is returned unchanged."""
        existing = self.find_feed(url)
        if existing:
            return existing, False
        with self.transaction():
            insert_row(
                self.db,
                "feeds",
                {
                    "url": url,
                    "name": name,
                    "guild_id": guild_id,
                    "channel_id": channel_id,
                    "added_by": added_by,
                    "added_at": now_iso(),
                    "status": "new",
                    "failures": 0,
                    "posting_since": time.time(),
                },
            )
        return self.get_feed(url), True

    def find_feed(self, url_or_id: str | int) -> Feed | None:
        key = str(url_or_id).strip()
        if key.isdigit():
            rows = list(self.db.query("SELECT * FROM feeds WHERE id = ?", [int(key)]))
        else:
            rows = list(self.db.query("SELECT * FROM feeds WHERE url = ? OR lower(name) = lower(?)", [key, key]))
        return feed_from_row(rows[0], self._article_count(rows[0]["id"])) if rows else None

    def get_feed(self, url_or_id: str | int) -> Feed:
        feed = self.find_feed(url_or_id)
        if feed is None:
            raise NotFound(f"no feed {url_or_id!r}")
        return feed

    def _article_count(self, feed_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM article_feeds WHERE feed_id = ?", [feed_id]).fetchone()[0]

    def list_feeds(self, scope: Scope = GLOBAL) -> list[Feed]:
        """All feeds; for a scoped caller only the global ones plus those of its guild."""
        where, params = "", []
        if scope.scoped:
            where, params = "WHERE f.guild_id IS NULL OR f.guild_id = ?", [scope.guild_id]
        rows = self.db.query(
            f"""SELECT f.*, (SELECT count(*) FROM article_feeds af WHERE af.feed_id = f.id) AS n
                FROM feeds f {where} ORDER BY f.id""",
            params,
        )
        return [feed_from_row(r, r["n"]) for r in rows]

    def remove_feed(self, feed_id: int) -> int:
        """Remove a feed and the articles no other feed carries. Returns articles removed."""
        with self.transaction():
            orphans = [
                r[0]
                for r in self.db.execute(
                    """SELECT article_id FROM article_feeds WHERE feed_id = ? AND article_id NOT IN
                   (SELECT article_id FROM article_feeds WHERE feed_id != ?)""",
                    [feed_id, feed_id],
                ).fetchall()
            ]
            self.db.execute("DELETE FROM article_feeds WHERE feed_id = ?", [feed_id])
            for article_id in orphans:
                self._delete_article(article_id)
            self.db.execute("UPDATE articles SET feed_id = NULL WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM feed_notices WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM delivery_filters WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM delivery_backfill WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM delivery_templates WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM delivery_pings WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM delivery_feed_options WHERE feed_id = ?", [feed_id])
            self.db.execute("DELETE FROM feeds WHERE id = ?", [feed_id])
        return len(orphans)

    def remove_articles(self, article_ids: list[int]) -> int:
        """Remove articles as removing their only feed would (passages, vectors queued for deletion,
        posts and delivery records); the feeds stay. Returns articles removed."""
        removed = 0
        with self.transaction():
            for article_id in article_ids:
                if not self.db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone():
                    continue
                self.db.execute("DELETE FROM article_feeds WHERE article_id = ?", [article_id])
                self._delete_article(article_id)
                removed += 1
        return removed

    def _delete_article(self, article_id: int) -> None:
        self._delete_passages(article_id)
        self.db.execute("DELETE FROM posts WHERE article_id = ?", [article_id])
        self.db.execute("DELETE FROM delivery_log WHERE article_id = ?", [article_id])
        self.db.execute("DELETE FROM delivery_backfill WHERE article_id = ?", [article_id])
        self.db.execute("DELETE FROM delivery_updates WHERE article_id = ?", [article_id])
        self.db.execute("DELETE FROM articles WHERE id = ?", [article_id])

    def update_feed(self, feed_id: int, **fields) -> None:
        with self.transaction():
            update_row(self.db, "feeds", feed_id, fields)

    # -- auto-posting queue ----------------------------------------------------
    def mark_feed_first_ok(self, feed_id: int) -> None:
        """Remember the feed's first successful fetch (once): what it carries now is backlog."""
        with self.transaction():
            self.db.execute(
                """UPDATE feeds SET first_ok_at = ?, first_ok_seq =
                       (SELECT coalesce(max(af.rowid), 0) FROM article_feeds af WHERE af.feed_id = ?)
                   WHERE id = ? AND first_ok_at IS NULL""",
                [time.time(), feed_id, feed_id],
            )

    def outlets(self, scope: Scope = GLOBAL) -> list[dict]:
        where, params = "", []
        if scope.scoped:
            where, params = "WHERE " + scope_clause("a.id"), [scope.guild_id]
        rows = self.db.execute(
            f"""SELECT a.outlet, count(*), max(a.published_ts), max(a.fetched_at) FROM articles a {where}
                GROUP BY a.outlet ORDER BY count(*) DESC""",
            params,
        ).fetchall()
        return [{"outlet": r[0], "articles": r[1], "latest_ts": r[2], "last_fetched": r[3]} for r in rows]
