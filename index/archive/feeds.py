"""Feeds: add, find, list, remove, and their fetch state."""

from __future__ import annotations

import time

from ..errors import NotFound
from ..models import GLOBAL, Feed, Scope
from .passages import PassageStore
from .rows import feed_from_row
from .scope import scope_clause
from .serialise import serialise_writers
from .sql import insert_row, now_iso, update_row

_SEEN_FEEDS = "(SELECT id FROM feeds WHERE guild_id IS NULL OR guild_id = ?)"  # a server's and the global feeds


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
        """Subscribe a server (``guild_id``; None: the global configuration) to a feed; returns
        (feed, created). Each server has its own row for a URL, so its name, channel and delivery
        settings stay its own, and another server following the same URL neither blocks nor sees
        it; a URL is fetched once for every row (:meth:`share_feed_state`). A URL this server
        already follows is returned unchanged. A new row starts with what the URL's other rows
        already carry, as backlog (never auto-posted). A URL the global configuration follows is
        every server's already: it is returned unchanged too."""
        added = self.add_server_feed(url, name, guild_id, channel_id, added_by)
        assert added is not None  # no limit given
        return added

    def add_server_feed(
        self,
        url: str,
        name: str = "",
        guild_id: int | None = None,
        channel_id: int | None = None,
        added_by: int | None = None,
        max_per_server: int = 0,
    ) -> tuple[Feed, bool] | None:
        """:meth:`add_feed`, or None when the server already follows ``max_per_server`` feeds (0:
        no limit), counted in the write transaction so two processes cannot both pass it."""
        existing = self._own_feed_row(url, guild_id) or (self._own_feed_row(url, None) if guild_id else None)
        if existing:
            return existing, False
        with self.transaction():
            if guild_id is not None and max_per_server:
                serialise_writers(self, "feeds", guild_id)
                if self.count_server_feeds(guild_id) >= max_per_server:
                    return None
            feed_id = insert_row(
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
            sibling = self._fetched_sibling(url, feed_id)
            if sibling is not None:
                self._copy_feed_state(sibling, feed_id)
        return self.get_feed(feed_id), True

    def count_server_feeds(self, guild_id: int) -> int:
        return self.db.execute("SELECT count(*) FROM feeds WHERE guild_id = ?", [guild_id]).fetchone()[0]

    def _own_feed_row(self, url: str, guild_id: int | None) -> Feed | None:
        row = self.db.execute(
            "SELECT id FROM feeds WHERE url = ? AND coalesce(guild_id, 0) = ?", [url, guild_id or 0]
        ).fetchone()
        return self.get_feed(row[0]) if row else None

    def _fetched_sibling(self, url: str, feed_id: int) -> int | None:
        """Another row of the same URL that was fetched successfully (the freshest), or None."""
        row = self.db.execute(
            """SELECT id FROM feeds WHERE url = ? AND id != ? AND first_ok_at IS NOT NULL
               ORDER BY last_ok_at DESC, id LIMIT 1""",
            [url, feed_id],
        ).fetchone()
        return row[0] if row else None

    # fetch state one fetch of a URL gives every row of that URL
    _SHARED_STATE = (
        "title",
        "site_url",
        "status",
        "last_fetch_at",
        "last_ok_at",
        "last_error",
        "warning",
        "etag",
        "last_modified",
        "failures",
        "next_poll_at",
    )

    def _copy_feed_state(self, source_id: int, target_id: int) -> None:
        """Give ``target_id`` the fetch state and the articles of ``source_id`` (same URL); what
        the target did not carry before its first successful fetch is backlog."""
        columns = self._SHARED_STATE
        row = self.db.execute(f"SELECT {', '.join(columns)} FROM feeds WHERE id = ?", [source_id]).fetchone()
        if row is None:
            return
        update_row(self.db, "feeds", target_id, dict(zip(columns, row, strict=True)))
        self.db.execute(
            """INSERT OR IGNORE INTO article_feeds (article_id, feed_id, first_seen_at)
               SELECT article_id, ?, ? FROM article_feeds WHERE feed_id = ? ORDER BY rowid""",
            [target_id, now_iso(), source_id],
        )
        if row[columns.index("last_ok_at")] is not None:
            self.db.execute(
                """UPDATE feeds SET first_ok_at = ?, first_ok_seq =
                       (SELECT coalesce(max(af.rowid), 0) FROM article_feeds af WHERE af.feed_id = ?)
                   WHERE id = ? AND first_ok_at IS NULL""",
                [time.time(), target_id, target_id],
            )

    def share_feed_state(self, feed_id: int) -> int:
        """After a fetch of ``feed_id``: every other row of its URL (another server's subscription,
        or the global one) gets the same fetch state and articles, so a URL is fetched once however
        many servers follow it. Returns the rows updated."""
        with self.transaction():
            siblings = [
                r[0]
                for r in self.db.execute(
                    "SELECT s.id FROM feeds s JOIN feeds f ON f.url = s.url WHERE f.id = ? AND s.id != ?",
                    [feed_id, feed_id],
                ).fetchall()
            ]
            for sibling in siblings:
                self._copy_feed_state(feed_id, sibling)
        return len(siblings)

    def find_feed(self, url_or_id: str | int, scope: Scope = GLOBAL) -> Feed | None:
        """A feed by id, URL or name. A scoped caller finds only its server's rows and the global
        ones (its own first), with the same None for another server's row as for no row at all."""
        key = str(url_or_id).strip()
        params: list = [int(key)] if key.isdigit() else [key, key]
        where = "id = ?" if key.isdigit() else "(url = ? OR lower(name) = lower(?))"
        if scope.scoped:
            where += " AND (guild_id IS NULL OR guild_id = ?)"
            params.append(scope.guild_id)
        # the caller's own row before the global one; unscoped, the global row before servers' rows
        order = "guild_id IS NULL, id" if scope.scoped else "guild_id IS NOT NULL, id"
        rows = list(self.db.query(f"SELECT * FROM feeds WHERE {where} ORDER BY {order} LIMIT 1", params))
        return feed_from_row(rows[0], self._article_count(rows[0]["id"])) if rows else None

    def get_feed(self, url_or_id: str | int, scope: Scope = GLOBAL) -> Feed:
        feed = self.find_feed(url_or_id, scope)
        if feed is None:
            raise NotFound(f"no feed {url_or_id!r}" + (" in this server" if scope.scoped else ""))
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
            # an outlet name is the title of the feed that archived the article first: when that
            # feed is another server's, an article a global feed also carries would name it here
            where = "WHERE " + scope_clause("a.id") + " AND (a.feed_id IS NULL OR a.feed_id IN " + _SEEN_FEEDS + ")"
            params = [scope.guild_id, scope.guild_id]
        rows = self.db.execute(
            f"""SELECT a.outlet, count(*), max(a.published_ts), max(a.fetched_at) FROM articles a {where}
                GROUP BY a.outlet ORDER BY count(*) DESC""",
            params,
        ).fetchall()
        return [{"outlet": r[0], "articles": r[1], "latest_ts": r[2], "last_fetched": r[3]} for r in rows]
