"""The delivery outbox (migration m011): one row per message the bot sends on its own, from the
moment it is claimed to the moment its message id is known or it is given up. Each state change
is a compare-and-set on the row, so exactly one process, of any number, sends or resolves it."""

from __future__ import annotations

from .db import Database

_COLUMNS = (
    "key, kind, channel_id, user_id, payload, ref, state, attempts, next_try_at, owner, lease_until, "
    "message_id, reason, reported"
)
OUTBOX_COLUMNS = tuple(c.strip() for c in _COLUMNS.split(","))


class OutboxStore(Database):
    def outbox_add(
        self,
        key: str,
        kind: str,
        channel_id: int | None,
        user_id: int | None,
        payload: str,
        ref: str,
        now: float,
    ) -> bool:
        """Queue a delivery; False when the key is queued already (by anyone, ever)."""
        with self.transaction():
            cur = self.db.execute(
                """INSERT OR IGNORE INTO delivery_outbox (key, kind, channel_id, user_id, payload, ref,
                   state, attempts, next_try_at, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, 0, ?, ?)""",
                [key, kind, channel_id, user_id, payload, ref, now, now],
            )
            return cur.rowcount == 1

    def outbox_row(self, key: str) -> dict | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM delivery_outbox WHERE key = ?", [key]).fetchone()
        return dict(zip(OUTBOX_COLUMNS, row, strict=True)) if row else None

    def outbox_due(self, now: float, host: str = "", limit: int = 100) -> list[dict]:
        """Deliveries someone may take now: queued, due for a retry or a look-up, and those being
        sent whose lease ran out or whose sender runs on ``host`` (the caller checks whether that
        process is gone)."""
        rows = self.db.execute(
            f"""SELECT {_COLUMNS} FROM delivery_outbox
                WHERE state = 'queued'
                   OR (state IN ('retry', 'unknown') AND next_try_at <= ?)
                   OR (state = 'sending' AND (lease_until < ? OR substr(owner, 1, ?) = ?))
                ORDER BY created_at, key LIMIT ?""",
            [now, now, len(host) + 1, host + ":", limit],
        ).fetchall()
        return [dict(zip(OUTBOX_COLUMNS, r, strict=True)) for r in rows]

    def outbox_take(self, row: dict, owner: str, lease_until: float, now: float) -> bool:
        """Compare-and-set: the row, exactly as read, becomes ``sending`` by ``owner``. On PostgreSQL
        a concurrent taker waits for the winner's row and re-checks the condition (READ COMMITTED)."""
        with self.transaction():
            cur = self.db.execute(
                """UPDATE delivery_outbox SET state = 'sending', owner = ?, lease_until = ?, updated_at = ?
                   WHERE key = ? AND state = ? AND attempts = ? AND coalesce(owner, '') = ?""",
                [owner, lease_until, now, row["key"], row["state"], row["attempts"], row["owner"] or ""],
            )
            return cur.rowcount == 1

    def outbox_finish(
        self,
        key: str,
        owner: str,
        state: str,
        now: float,
        *,
        message_id: int | None = None,
        reason: str | None = None,
        attempts: int | None = None,
        next_try_at: float = 0,
    ) -> bool:
        """The sender that holds the row records its outcome; False when it no longer holds it."""
        with self.transaction():
            cur = self.db.execute(
                """UPDATE delivery_outbox SET state = ?, message_id = coalesce(?, message_id), reason = ?,
                       attempts = coalesce(?, attempts), next_try_at = ?, owner = NULL, lease_until = NULL,
                       updated_at = ?
                   WHERE key = ? AND state = 'sending' AND owner = ?""",
                [state, message_id, reason, attempts, next_try_at, now, key, owner],
            )
            return cur.rowcount == 1

    def outbox_mark_reported(self, key: str) -> bool:
        """True once per delivery: whoever gets True reports its giving up."""
        with self.transaction():
            return (
                self.db.execute(
                    "UPDATE delivery_outbox SET reported = 1 WHERE key = ? AND reported = 0", [key]
                ).rowcount
                == 1
            )

    def outbox_states(self) -> dict[str, int]:
        rows = self.db.execute("SELECT state, count(*) FROM delivery_outbox GROUP BY state").fetchall()
        return {r[0]: r[1] for r in rows}
