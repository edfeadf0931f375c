"""Topic alerts (migration m007): follows, their cursor over new articles, and the alert claims.

A follow's ``cursor_seq`` is the highest ``article_feeds`` rowid it has looked at: an article is
new to it when the archive first saw it (its first ``article_feeds`` row) after that. Each
(follow, article) has at most one ``follow_alerts`` row; moving a row from ``queued`` to
``sending`` is the atomic claim that makes a delivery happen once across processes.

On PostgreSQL the same SQL runs (``IS ?`` and the scalar ``max(a, b)`` are translated
by :func:`index.archive.pg.translate`); the per-target limit of :meth:`FollowStore.add_follow` is
counted under an advisory lock (:mod:`.serialise`), and the claim is the same conditional UPDATE
(READ COMMITTED re-checks ``state = 'queued'`` on the row a concurrent claimer committed). The
cursor assumes ``article_feeds`` rowids become visible in order, which holds with one archive
writer (the deployment's rule; its transactions are serialised by the archive's write lock)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..models import Follow
from .db import Database
from .serialise import serialise_writers
from .sql import in_chunks, now_iso

_FOLLOW_COLUMNS = "id, topic, guild_id, channel_id, user_id, created_by, created_at, paused"


def _follow(row) -> Follow:
    return Follow(
        id=int(row[0]),
        topic=row[1],
        guild_id=row[2],
        channel_id=row[3],
        user_id=row[4],
        created_by=row[5],
        created_at=row[6],
        paused=row[7],
    )


def _target_key(guild_id: int | None, channel_id: int | None, user_id: int | None) -> tuple:
    """What :meth:`FollowStore.count_follows` counts for a new follow's target."""
    if channel_id is not None:
        return ("guild", guild_id)
    if user_id is not None:
        return ("user", user_id)
    return ("terminal",)


class FollowStore(Database):
    # -- follows ---------------------------------------------------------------
    def add_follow(
        self,
        topic: str,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int | None,
        created_by: int | None,
        max_same_target: int | None = None,
    ) -> Follow | None:
        """A new follow starting at the newest article seen so far (what is already archived is never
        alerted). With ``max_same_target``: None (nothing added) when its target already has that many
        follows — counted in the same write transaction, so two processes cannot both pass the limit."""
        with self.transaction():
            if max_same_target is not None:
                serialise_writers(self, "follows", *_target_key(guild_id, channel_id, user_id))
                if self.count_follows(guild_id, channel_id, user_id) >= max_same_target:
                    return None
            seq = self.db.execute("SELECT coalesce(max(rowid), 0) FROM article_feeds").fetchone()[0]
            cur = self.db.execute(
                """INSERT INTO follows (guild_id, channel_id, user_id, topic, created_by, created_at, cursor_seq)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [guild_id, channel_id, user_id, topic, created_by, now_iso(), seq],
            )
            row = self.db.execute(f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE id = ?", [cur.lastrowid]).fetchone()
        return _follow(row)

    def count_follows(self, guild_id: int | None, channel_id: int | None, user_id: int | None) -> int:
        """Channel follows of a server (``channel_id`` given), or DM follows of a member (``user_id``)."""
        if channel_id is not None:
            sql, params = "channel_id IS NOT NULL AND guild_id IS ?", [guild_id]
        elif user_id is not None:
            sql, params = "channel_id IS NULL AND user_id = ?", [user_id]
        else:
            sql, params = "channel_id IS NULL AND user_id IS NULL", []
        return self.db.execute(f"SELECT count(*) FROM follows WHERE {sql}", params).fetchone()[0]

    def get_follow(self, follow_id: int) -> Follow | None:
        row = self.db.execute(f"SELECT {_FOLLOW_COLUMNS} FROM follows WHERE id = ?", [follow_id]).fetchone()
        return _follow(row) if row else None

    def list_follows(
        self, *, guild_id: int | None = None, user_id: int | None = None, everything: bool = False
    ) -> list[Follow]:
        """Every follow (``everything``), or a server's channel follows and a member's DM follows."""
        if everything:
            rows = self.db.execute(f"SELECT {_FOLLOW_COLUMNS} FROM follows ORDER BY id").fetchall()
        else:  # (a NULL parameter's type cannot be inferred on PostgreSQL: the clauses are chosen here)
            mine = [
                ("channel_id IS NOT NULL AND guild_id = ?", guild_id),
                ("channel_id IS NULL AND user_id = ?", user_id),
            ]
            clauses = [(sql, value) for sql, value in mine if value is not None]
            if not clauses:
                return []
            rows = self.db.execute(
                f"""SELECT {_FOLLOW_COLUMNS} FROM follows
                    WHERE {" OR ".join(f"({sql})" for sql, _ in clauses)} ORDER BY id""",
                [value for _, value in clauses],
            ).fetchall()
        return [_follow(r) for r in rows]

    def same_follow(
        self, topic: str, guild_id: int | None, channel_id: int | None, user_id: int | None
    ) -> Follow | None:
        row = self.db.execute(
            f"""SELECT {_FOLLOW_COLUMNS} FROM follows WHERE lower(topic) = lower(?) AND guild_id IS ?
                AND channel_id IS ? AND user_id IS ?""",
            [topic, guild_id, channel_id, user_id if channel_id is None else None],
        ).fetchone()
        return _follow(row) if row else None

    def remove_follow(self, follow_id: int) -> bool:
        """The follow first, then its alerts: on PostgreSQL a concurrent queue_alerts that locked the
        follow row first has committed by then, so its rows are seen and removed too."""
        with self.transaction():
            removed = self.db.execute("DELETE FROM follows WHERE id = ?", [follow_id]).rowcount == 1
            self.db.execute("DELETE FROM follow_alerts WHERE follow_id = ?", [follow_id])
            return removed

    def remove_server_follows(self, guild_id: int, user_id: int | None = None) -> int:
        """Follows that see a server's scope, and their alerts: a member's DM follows made there
        (``user_id``: the member left), or every follow of the server (the bot was removed)."""
        where, params = "guild_id = ?", [guild_id]
        if user_id is not None:
            where, params = "guild_id = ? AND channel_id IS NULL AND user_id = ?", [guild_id, user_id]
        with self.transaction():
            ids = [r[0] for r in self.db.execute(f"SELECT id FROM follows WHERE {where}", params).fetchall()]
            for follow_id in ids:
                self.db.execute("DELETE FROM follows WHERE id = ?", [follow_id])
                self.db.execute("DELETE FROM follow_alerts WHERE follow_id = ?", [follow_id])
        return len(ids)

    def pause_follows(self, user_id: int, reason: str) -> int:
        """A member's DMs cannot be delivered: pause their DM follows (resumed by them, never retried)."""
        with self.transaction():
            return self.db.execute(
                "UPDATE follows SET paused = ?, paused_at = ? WHERE channel_id IS NULL AND user_id = ?",
                [reason, time.time(), user_id],
            ).rowcount

    def resume_follows(self, user_id: int) -> int:
        with self.transaction():
            return self.db.execute(
                """UPDATE follows SET paused = NULL, paused_at = NULL
                   WHERE channel_id IS NULL AND user_id = ? AND paused IS NOT NULL""",
                [user_id],
            ).rowcount

    # -- new articles ------------------------------------------------------------
    def follow_cursor(self, follow_id: int) -> int | None:
        row = self.db.execute("SELECT cursor_seq FROM follows WHERE id = ?", [follow_id]).fetchone()
        return None if row is None else int(row[0])

    def set_follow_cursor(self, follow_id: int, seq: int) -> None:
        with self.transaction():
            self.db.execute("UPDATE follows SET cursor_seq = max(cursor_seq, ?) WHERE id = ?", [seq, follow_id])

    def articles_first_seen_after(self, seq: int, limit: int = 2000) -> list[tuple[int, int, int]]:
        """(article_id, seq, passages not embedded yet) of articles the archive first saw after
        ``seq`` (their first article_feeds row), in the order they arrived."""
        rows = self.db.execute(
            """SELECT af.article_id, af.rowid,
                      (SELECT count(*) FROM passages p WHERE p.article_id = af.article_id AND p.embedded = 0)
               FROM article_feeds af
               WHERE af.rowid > ?
                 AND NOT EXISTS (SELECT 1 FROM article_feeds b WHERE b.article_id = af.article_id
                                 AND b.rowid < af.rowid)
               ORDER BY af.rowid LIMIT ?""",
            [seq, limit],
        ).fetchall()
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def article_ids_published_since(self, since_ts: float, limit: int = 5000) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM articles WHERE published_ts >= ? ORDER BY published_ts, id LIMIT ?", [since_ts, limit]
        ).fetchall()
        return [int(r[0]) for r in rows]

    def newest_article_seq(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(rowid), 0) FROM article_feeds").fetchone()[0])

    # -- alerts --------------------------------------------------------------------
    def queue_alerts(self, follow_id: int, rows: Iterable[tuple[int, str, int | None, float]], seq: int) -> int:
        """Record (article_id, state, story_of, score) rows of a follow (``queued`` to send, or
        ``folded`` into another) and move its cursor to ``seq``, together. Rows already there win.
        The cursor moves first: it tells whether the follow still exists and, on PostgreSQL, locks
        its row until commit (a concurrent remove_follow waits, then removes these rows too)."""
        added = 0
        with self.transaction():
            moved = self.db.execute(
                "UPDATE follows SET cursor_seq = max(cursor_seq, ?) WHERE id = ?", [seq, follow_id]
            ).rowcount
            if moved != 1:
                return 0
            for article_id, state, story_of, score in rows:
                added += self.db.execute(
                    """INSERT OR IGNORE INTO follow_alerts (follow_id, article_id, state, story_of, score, at)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    [follow_id, article_id, state, story_of, score, time.time()],
                ).rowcount
        return added

    def queued_alerts(self, limit: int = 1000) -> list[tuple[int, int, float]]:
        """(follow_id, article_id, score) queued to send, of follows that are not paused, oldest first."""
        rows = self.db.execute(
            """SELECT a.follow_id, a.article_id, coalesce(a.score, 0) FROM follow_alerts a
               JOIN follows f ON f.id = a.follow_id
               WHERE a.state = 'queued' AND f.paused IS NULL
               ORDER BY a.at, a.follow_id, a.score DESC LIMIT ?""",
            [limit],
        ).fetchall()
        return [(int(r[0]), int(r[1]), float(r[2])) for r in rows]

    def folded_into(self, follow_id: int, article_ids: list[int]) -> dict[int, list[int]]:
        """For each of a follow's alerted articles, the copies folded into it."""
        out: dict[int, list[int]] = {}
        for chunk, marks in in_chunks(article_ids):
            for story_of, article_id in self.db.execute(
                f"""SELECT story_of, article_id FROM follow_alerts
                    WHERE follow_id = ? AND state = 'folded' AND story_of IN ({marks}) ORDER BY article_id""",
                [follow_id, *chunk],
            ).fetchall():
                out.setdefault(int(story_of), []).append(int(article_id))
        return out

    def recent_alerted(self, follow_id: int, since: float) -> list[int]:
        """Articles a follow was alerted about (or queued to be) since a moment: the stories a new
        copy folds into instead of alerting again."""
        rows = self.db.execute(
            """SELECT article_id FROM follow_alerts WHERE follow_id = ? AND at >= ?
               AND state IN ('queued', 'sending', 'sent', 'summarised') ORDER BY at""",
            [follow_id, since],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def claim_alert(self, follow_id: int, article_id: int, state: str = "sending", reason: str | None = None) -> bool:
        """Atomically move a queued alert to ``state`` (``sending`` before a send, ``summarised`` when it
        goes in the flood line): True for exactly one caller, in any process."""
        with self.transaction():
            return (
                self.db.execute(
                    """UPDATE follow_alerts SET state = ?, reason = ?, at = ?
                       WHERE follow_id = ? AND article_id = ? AND state = 'queued'""",
                    [state, reason, time.time(), follow_id, article_id],
                ).rowcount
                == 1
            )

    def finish_alert(
        self, follow_id: int, article_id: int, state: str, message_id: int | None = None, reason: str | None = None
    ) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE follow_alerts SET state = ?, message_id = ?, reason = ?, at = ? WHERE follow_id = ? "
                "AND article_id = ?",
                [state, message_id, reason, time.time(), follow_id, article_id],
            )

    def follow_alert_rows(self, follow_id: int) -> list[dict]:
        rows = self.db.execute(
            """SELECT article_id, state, story_of, score, message_id, reason FROM follow_alerts
               WHERE follow_id = ? ORDER BY at, article_id""",
            [follow_id],
        ).fetchall()
        keys = ("article_id", "state", "story_of", "score", "message_id", "reason")
        return [dict(zip(keys, r, strict=True)) for r in rows]
