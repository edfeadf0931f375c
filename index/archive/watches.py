"""Standing questions and answer feedback (migration m009): watches with their last answer, the
claims that post each change of a watch's answer once, the answers /ask gave and the votes on them.

On PostgreSQL the same SQL runs (``IS ?`` and the scalar ``max(a, b)`` are translated
by :func:`index.archive.pg.translate`). The per-server and per-member watch limits, and a voter's
replaced vote, are read under an advisory lock (:mod:`.serialise`). A notice claim is won by the
``(watch_id, fingerprint)`` primary key (``ON CONFLICT DO NOTHING``: a concurrent claimer waits for
the winner's commit, then inserts nothing), and the watch moves on only while its fingerprint is
still the one the claimer saw (READ COMMITTED re-checks it on the row another claimer updated)."""

from __future__ import annotations

import json
import secrets

from ..errors import NotFound
from ..models import Watch
from .db import Database
from .serialise import serialise_writers
from .sql import now_iso

_WATCH_COLUMNS = (
    "id, guild_id, channel_id, user_id, question, created_by, created_at, checked_at, seen_article_id, "
    "answer, fingerprint, seen_update_id"
)
VOTER_KEY = "feedback_voter_key"


def _watch(row) -> Watch:
    answer = json.loads(row[9]) if row[9] else []
    return Watch(
        id=row[0],
        guild_id=row[1],
        channel_id=row[2],
        user_id=row[3],
        question=row[4],
        created_by=row[5],
        created_at=row[6],
        checked_at=row[7],
        seen_article_id=row[8] or 0,
        answer=tuple((str(s), int(a)) for s, a in answer),
        fingerprint=row[10],
        seen_update_id=row[11] or 0,
    )


class WatchStore(Database):
    # -- watches ---------------------------------------------------------------
    def ready_article_id(self) -> int:
        """The highest article id such that every article up to it is fully embedded (new coverage
        is only answerable once its passages are in the index)."""
        row = self.db.execute(
            """SELECT (SELECT min(article_id) FROM passages WHERE embedded = 0),
                      (SELECT coalesce(max(id), 0) FROM articles)"""
        ).fetchone()
        return int(row[1]) if row[0] is None else max(0, int(row[0]) - 1)

    def ready_update_id(self) -> int:
        """The same watermark for articles re-published changed (``delivery_updates``): the highest
        update id such that every updated article up to it is embedded again."""
        row = self.db.execute(
            """SELECT (SELECT min(u.id) FROM delivery_updates u
                       WHERE EXISTS (SELECT 1 FROM passages p WHERE p.article_id = u.article_id AND p.embedded = 0)),
                      (SELECT coalesce(max(id), 0) FROM delivery_updates)"""
        ).fetchone()
        return int(row[1]) if row[0] is None else max(0, int(row[0]) - 1)

    def updated_articles(self, after_update_id: int, up_to: int) -> set[int]:
        """Articles re-published changed with an update id in (after_update_id, up_to]."""
        rows = self.db.execute(
            "SELECT DISTINCT article_id FROM delivery_updates WHERE id > ? AND id <= ?", [after_update_id, up_to]
        ).fetchall()
        return {r[0] for r in rows}

    def add_watch(
        self,
        guild_id: int | None,
        channel_id: int | None,
        user_id: int | None,
        question: str,
        created_by: int | None,
        seen: tuple[int, int],
        answer: list[tuple[str, int]],
        fingerprint: str,
        max_per_guild: int,
        max_per_member: int,
    ) -> Watch | tuple[str, int]:
        """Save a watch, or refuse it when the server or the member already holds as many as the
        limit: then ("server", count) or ("member", count), for the service to word (counted in the
        same write transaction, so two processes cannot both pass the limit)."""
        with self.transaction():
            serialise_writers(self, "watches", guild_id)  # both limits count within the server
            count = self.db.execute("SELECT count(*) FROM watches WHERE guild_id IS ?", [guild_id]).fetchone()[0]
            if guild_id is not None and count >= max_per_guild:
                return ("server", count)
            if created_by is not None:
                mine = self.db.execute(
                    "SELECT count(*) FROM watches WHERE created_by = ? AND guild_id IS ?", [created_by, guild_id]
                ).fetchone()[0]
                if mine >= max_per_member:
                    return ("member", mine)
            cur = self.db.execute(
                """INSERT INTO watches (guild_id, channel_id, user_id, question, created_by, created_at, checked_at,
                   seen_article_id, seen_update_id, answer, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    guild_id,
                    channel_id,
                    user_id,
                    question,
                    created_by,
                    now_iso(),
                    now_iso(),
                    seen[0],
                    seen[1],
                    json.dumps(answer),
                    fingerprint,
                ],
            )
            row = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE id = ?", [cur.lastrowid]).fetchone()
        return _watch(row)

    def get_watch(self, watch_id: int) -> Watch:
        row = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches WHERE id = ?", [watch_id]).fetchone()
        if row is None:
            raise NotFound(f"no watch #{watch_id}")
        return _watch(row)

    def list_watches(self, guild_id: int | None = None, everything: bool = False) -> list[Watch]:
        """A server's watches (guild_id NULL: the terminal's and DMs' global ones), or all of them."""
        if everything:
            rows = self.db.execute(f"SELECT {_WATCH_COLUMNS} FROM watches ORDER BY id").fetchall()
        else:
            rows = self.db.execute(
                f"SELECT {_WATCH_COLUMNS} FROM watches WHERE guild_id IS ? ORDER BY id", [guild_id]
            ).fetchall()
        return [_watch(r) for r in rows]

    def remove_watch(self, watch_id: int) -> bool:
        with self.transaction():
            cur = self.db.execute("DELETE FROM watches WHERE id = ?", [watch_id])
            self.db.execute("DELETE FROM watch_notices WHERE watch_id = ?", [watch_id])
            return cur.rowcount == 1

    def remove_server_watches(self, guild_id: int, user_id: int | None = None) -> int:
        """Watches of a server, and their notices: a member's DM watches made there (``user_id``:
        the member left), or every watch of the server (the bot was removed)."""
        where, params = "guild_id = ?", [guild_id]
        if user_id is not None:
            where, params = "guild_id = ? AND channel_id IS NULL AND user_id = ?", [guild_id, user_id]
        with self.transaction():
            ids = [r[0] for r in self.db.execute(f"SELECT id FROM watches WHERE {where}", params).fetchall()]
            for watch_id in ids:
                self.db.execute("DELETE FROM watches WHERE id = ?", [watch_id])
                self.db.execute("DELETE FROM watch_notices WHERE watch_id = ?", [watch_id])
        return len(ids)

    def watches_due(self, ready: tuple[int, int], delivered: bool | None) -> list[Watch]:
        """Watches not yet checked against the coverage up to ``ready`` (article id, update id);
        ``delivered`` True: those with a Discord destination (a channel or a member), False: the
        terminal's, None: all."""
        where = ["(seen_article_id < ? OR seen_update_id < ?)"]
        if delivered is True:
            where.append("(channel_id IS NOT NULL OR user_id IS NOT NULL)")
        elif delivered is False:
            where.append("channel_id IS NULL AND user_id IS NULL")
        rows = self.db.execute(
            f"SELECT {_WATCH_COLUMNS} FROM watches WHERE {' AND '.join(where)} ORDER BY id", list(ready)
        ).fetchall()
        return [_watch(r) for r in rows]

    def mark_watch_checked(
        self, watch_id: int, seen: tuple[int, int], answer: list[tuple[str, int]] | None, fingerprint: str | None
    ) -> None:
        """A check found no change to report: move the watermarks (and keep the answer it saw)."""
        moved = "seen_article_id = max(seen_article_id, ?), seen_update_id = max(seen_update_id, ?), checked_at = ?"
        with self.transaction():
            if answer is None:
                self.db.execute(f"UPDATE watches SET {moved} WHERE id = ?", [*seen, now_iso(), watch_id])
            else:
                self.db.execute(
                    f"UPDATE watches SET {moved}, answer = ?, fingerprint = ? WHERE id = ?",
                    [*seen, now_iso(), json.dumps(answer), fingerprint, watch_id],
                )

    def claim_watch_notice(
        self,
        watch_id: int,
        previous: str | None,
        fingerprint: str,
        answer: list[tuple[str, int]],
        seen: tuple[int, int],
    ) -> bool:
        """Atomically claim the notice that the watch's answer changed from ``previous`` to
        ``fingerprint``: one row per (watch, fingerprint), and the watch's stored answer moves on in
        the same transaction only while it still is ``previous``. True for exactly one caller."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO watch_notices (watch_id, fingerprint, claimed_at) VALUES (?, ?, ?)",
                [watch_id, fingerprint, now_iso()],
            )
            if cur.rowcount != 1:
                return False
            cur = self.db.execute(
                """UPDATE watches SET answer = ?, fingerprint = ?, checked_at = ?,
                   seen_article_id = max(seen_article_id, ?), seen_update_id = max(seen_update_id, ?)
                   WHERE id = ? AND fingerprint IS ?""",
                [json.dumps(answer), fingerprint, now_iso(), *seen, watch_id, previous],
            )
            if cur.rowcount != 1:  # another process moved the watch on meanwhile (or it was removed)
                self.db.execute(
                    "DELETE FROM watch_notices WHERE watch_id = ? AND fingerprint = ?", [watch_id, fingerprint]
                )
                return False
            return True

    def record_watch_notice(self, watch_id: int, fingerprint: str, message_id: int | None) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE watch_notices SET message_id = ? WHERE watch_id = ? AND fingerprint = ?",
                [message_id, watch_id, fingerprint],
            )

    def watch_notices(self, watch_id: int) -> list[tuple[str, int | None]]:
        return [
            (r[0], r[1])
            for r in self.db.execute(
                "SELECT fingerprint, message_id FROM watch_notices WHERE watch_id = ? ORDER BY rowid", [watch_id]
            ).fetchall()
        ]

    # -- answers and votes -------------------------------------------------------
    def record_asked(
        self,
        guild_id: int | None,
        via: str,
        question: str,
        as_of: str | None,
        cited: list[int],
        abstained: bool,
        vector: bytes | None,
    ) -> int:
        with self.transaction():
            cur = self.db.execute(
                """INSERT INTO asked (guild_id, via, question, as_of, asked_at, cited, abstained, vector)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [guild_id, via, question, as_of, now_iso(), json.dumps(cited), int(abstained), vector],
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def get_asked(self, asked_id: int) -> dict:
        row = self.db.execute(
            "SELECT id, guild_id, via, question, as_of, asked_at, cited, abstained FROM asked WHERE id = ?", [asked_id]
        ).fetchone()
        if row is None:
            raise NotFound("that answer is no longer on record")
        return {
            "id": row[0],
            "guild_id": row[1],
            "via": row[2],
            "question": row[3],
            "as_of": row[4],
            "asked_at": row[5],
            "cited": json.loads(row[6] or "[]"),
            "abstained": bool(row[7]),
        }

    def voter_key(self) -> bytes:
        """The archive's key for hashing voter ids (made once, by whichever process comes first)."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", [VOTER_KEY, secrets.token_hex(32)])
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", [VOTER_KEY]).fetchone()
        return bytes.fromhex(row[0])

    def set_vote(self, answer_id: int, voter: str, vote: int) -> int | None:
        """Store one voter's vote on an answer (replacing theirs); returns the vote it replaced."""
        with self.transaction():
            serialise_writers(self, "answer_votes", answer_id, voter)
            row = self.db.execute(
                "SELECT vote FROM answer_votes WHERE answer_id = ? AND voter = ?", [answer_id, voter]
            ).fetchone()
            self.db.execute(
                "INSERT OR REPLACE INTO answer_votes (answer_id, voter, vote, voted_at) VALUES (?, ?, ?, ?)",
                [answer_id, voter, vote, now_iso()],
            )
        return row[0] if row else None

    def vote_counts(self, answer_id: int) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT count(CASE WHEN vote > 0 THEN 1 END), count(CASE WHEN vote < 0 THEN 1 END) FROM answer_votes "
            "WHERE answer_id = ?",
            [answer_id],
        ).fetchone()
        return int(row[0]), int(row[1])

    def prune_asked(self, before_iso: str) -> int:
        """Forget answers (and their votes) recorded before ``before_iso``."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM answer_votes WHERE answer_id IN (SELECT id FROM asked WHERE asked_at < ?)", [before_iso]
            )
            return self.db.execute("DELETE FROM asked WHERE asked_at < ?", [before_iso]).rowcount

    def questions_needing_coverage(
        self, guild_id: int | None, everything: bool, limit: int = 500
    ) -> list[tuple[dict, bytes | None]]:
        """Answers that abstained or were voted down more than up, newest first, with their vectors:
        a server's own (``guild_id``; NULL the terminal's and DMs'), or everyone's."""
        where = "" if everything else "WHERE q.guild_id IS ?"
        params: list = [] if everything else [guild_id]
        rows = self.db.execute(
            f"""SELECT q.id, q.guild_id, q.question, q.as_of, q.asked_at, q.cited, q.abstained, q.vector,
                       coalesce(v.up, 0), coalesce(v.down, 0)
                FROM asked q LEFT JOIN (
                    SELECT answer_id, count(CASE WHEN vote > 0 THEN 1 END) AS up,
                           count(CASE WHEN vote < 0 THEN 1 END) AS down
                    FROM answer_votes GROUP BY answer_id
                ) v ON v.answer_id = q.id
                {where}
                ORDER BY q.id DESC""",
            params,
        ).fetchall()
        out = []
        for r in rows:
            up, down = int(r[8]), int(r[9])
            if not (r[6] or down > up):
                continue
            out.append(
                (
                    {
                        "id": r[0],
                        "guild_id": r[1],
                        "question": r[2],
                        "as_of": r[3],
                        "asked_at": r[4],
                        "cited": json.loads(r[5] or "[]"),
                        "abstained": bool(r[6]),
                        "up": up,
                        "down": down,
                    },
                    r[7],
                )
            )
            if len(out) >= limit:
                break
        return out
