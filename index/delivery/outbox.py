"""One delivery path for everything the bot sends on its own: claim, send, record.

A delivery (an auto-post, a reposted update, a topic alert, a watch notice, a digest, a
feed-health, channel-problem or give-up notice) is queued in the archive's outbox under a key naming what it
delivers (``post:<channel>:<article>``…), in the same transaction as its feature's claim where
the feature has one, so a kill between the two cannot lose it. Its payload (the rendered message)
is stored with it, so any process can send it later.

Sending is a compare-and-set of the row to ``sending`` by this process (its ``owner``), for a
lease. The outcome is then recorded: ``sent`` with the message id (and the feature's own record),
``retry`` when Discord answered that it did not take the message, ``unknown`` when the send raised
without an answer (a network error, a timeout, a 5xx), or ``failed`` after ``max_attempts`` (or at
once when the target is gone for good), which is reported once, or ``dropped`` when it must not go
out any more (a DM of a server's content to a member who left that server: its row names the
server, ``ref["guild_id"]``, and the sender asks before each attempt). A delivery whose last attempt
may have gone out (``unknown``, or ``sending`` by a process that died or whose lease ran out) is
looked up in the target's recent messages from the bot, by the delivery token every message
carries, before it is sent again: found, it is recorded; not found, it is sent.

The bot side (the look-up, the marker in the message, the send itself) is ``bot/delivery.py``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..errors import NotFound
from ..models import WatchChange

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # a send holds its delivery this long (the bot's send times out well before)
RETRY_SECONDS = 60.0  # the first retry; each next one waits four times longer
MAX_ATTEMPTS = 5  # a delivery is tried this often in all, then given up (and reported once)
LOOKUP_SECONDS = 5.0  # an unknown outcome is looked up this soon (a retry of a 5xx waits its backoff)
DUE_BATCH = 100

# this process, as the owner of the deliveries it sends: host, pid and a random part (a pid reused
# after a restart is a different owner)
OWNER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def delivery_token(key: str) -> str:
    """The delivery's token, carried in its message (and as Discord's nonce, at most 25 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def owner_is_gone(owner: str | None, me: str = OWNER) -> bool:
    """Whether a delivery's sender is a process of this machine that no longer runs (so its
    lease need not be waited out). Another machine's sender is judged by its lease only."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, token = rest.partition(":")
    my_host, _, my_rest = me.partition(":")
    if host != my_host or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner != me  # this pid, another process before it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class OutboxItem:
    key: str
    kind: str
    channel_id: int | None
    user_id: int | None
    payload: dict
    ref: dict
    state: str
    attempts: int
    message_id: int | None = None
    reason: str | None = None

    @property
    def token(self) -> str:
        return delivery_token(self.key)

    @property
    def guild_id(self) -> int | None:
        """The server whose content this delivery carries (None: global, or a channel's own)."""
        found = self.ref.get("guild_id")
        return int(found) if found is not None else None


@dataclass(frozen=True)
class Taken:
    """A delivery this process now holds; ``unknown``: its last attempt may have gone out, so the
    target's recent messages are looked at before sending it again."""

    item: OutboxItem
    unknown: bool


@dataclass(frozen=True)
class Verdict:
    gave_up: bool
    report: bool  # True for the one caller that reports the giving up
    attempts: int
    next_try_at: float | None


class Recorder(Protocol):
    def sent(self, ref: dict, message_id: int) -> None: ...
    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None: ...
    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None: ...


class Outbox:
    def __init__(
        self,
        archive,
        recorders: dict[str, Recorder] | None = None,
        *,
        owner: str = OWNER,
        clock: Callable[[], float] = time.time,
        retry_seconds: float = RETRY_SECONDS,
        lookup_seconds: float = LOOKUP_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        lease_seconds: float = LEASE_SECONDS,
    ):
        self.archive = archive
        self.recorders = recorders or {}
        self.owner = owner
        self.clock = clock
        self.retry_seconds = retry_seconds
        self.lookup_seconds = lookup_seconds
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds

    # -- queueing (each with its feature's claim, in one transaction) -------------------------
    def queue(
        self,
        kind: str,
        key: str,
        payload: dict,
        *,
        channel_id: int | None = None,
        user_id: int | None = None,
        ref: dict | None = None,
    ) -> bool:
        """Queue a delivery; False when its key was queued before (by any process)."""
        return self.archive.outbox_add(
            key, kind, channel_id, user_id, json.dumps(payload), json.dumps(ref or {}), self.clock()
        )

    def queue_post(self, channel_id: int, article_id: int, feed_id: int, payload: dict) -> bool:
        """Claim an auto-post (its ``posts`` row) and queue it, atomically."""
        with self.archive.transaction():
            if not self.archive.claim_delivery(channel_id, article_id, feed_id):
                return False
            ref = {"channel_id": channel_id, "article_id": article_id, "feed_id": feed_id}
            return self.queue("post", f"post:{channel_id}:{article_id}", payload, channel_id=channel_id, ref=ref)

    def queue_update(self, channel_id: int, article_id: int, update_id: int, payload: dict) -> bool:
        """Claim an article's update for a channel (reposted as updated) and queue it, atomically."""
        with self.archive.transaction():
            if not self.archive.claim_update(channel_id, article_id, update_id):
                return False
            ref = {"channel_id": channel_id, "article_id": article_id}
            key = f"update:{channel_id}:{update_id}"
            return self.queue("update", key, payload, channel_id=channel_id, ref=ref)

    def queue_alert(
        self,
        follow_id: int,
        article_id: int,
        payload: dict,
        *,
        channel_id: int | None,
        user_id: int | None,
        guild_id: int | None = None,
    ) -> bool:
        """Claim a queued topic alert and queue its message, atomically. ``guild_id``: the server
        the follow was made in (a DM of it is sent only while the member is still there)."""
        with self.archive.transaction():
            if not self.archive.claim_alert(follow_id, article_id):
                return False
            ref = {"follow_id": follow_id, "article_id": article_id, "dm": channel_id is None, "guild_id": guild_id}
            key = f"alert:{follow_id}:{article_id}"
            return self.queue("alert", key, payload, channel_id=channel_id, user_id=user_id, ref=ref)

    def queue_digest(self, schedule_id: int, period_key: str, channel_id: int, payload: dict) -> bool:
        """Claim a scheduled digest's run and queue its message, atomically."""
        with self.archive.transaction():
            if not self.archive.claim_digest_run(schedule_id, period_key):
                return False
            ref = {"schedule_id": schedule_id, "period_key": period_key}
            key = f"digest:{schedule_id}:{period_key}"
            return self.queue("digest", key, payload, channel_id=channel_id, ref=ref)

    def queue_watch(self, change: WatchChange, payload: dict, *, channel_id: int | None, user_id: int | None) -> bool:
        """Claim a watch's change (``WatchesService.changes``; the watch's stored answer moves on)
        and queue its notice, atomically."""
        watch = change.watch
        with self.archive.transaction():
            claimed = self.archive.claim_watch_notice(
                watch.id, watch.fingerprint, change.fingerprint, change.sentences, change.seen
            )
            if not claimed:
                return False
            ref = {"watch_id": watch.id, "fingerprint": change.fingerprint, "guild_id": watch.guild_id}
            key = f"watch:{watch.id}:{change.fingerprint}"
            return self.queue("watch", key, payload, channel_id=channel_id, user_id=user_id, ref=ref)

    def queue_feed_notice(self, feed_id: int, state: str, channel_id: int, payload: dict) -> str | None:
        """Claim a change of a feed's health and queue its notice to the admin channel, atomically;
        returns the notice's key (None: another caller has it)."""
        with self.archive.transaction():
            if not self.archive.claim_feed_notice(feed_id, state):
                return None
            changed = self.archive.feed_notice_changed_at(feed_id)
            key = f"health:{feed_id}:{state}:{changed}"
            return key if self.queue("notice", key, payload, channel_id=channel_id) else None

    def queue_channel_notice(self, channel_id: int, reason: str, admin_channel_id: int, payload: dict) -> str | None:
        """Claim the report that a channel cannot be posted to (once until a post there succeeds
        again) and queue it to the admin channel, atomically; returns the notice's key (None:
        reported already, by this process or another)."""
        with self.archive.transaction():
            if not self.archive.claim_channel_notice(channel_id, reason):
                return None
            # one claim per episode (it is cleared when a post there succeeds): the moment names it
            key = f"channel:{channel_id}:{self.clock():.6f}"
            return key if self.queue("notice", key, payload, channel_id=admin_channel_id) else None

    # -- sending ---------------------------------------------------------------------------------
    def take(self, key: str) -> Taken | None:
        """Hold a delivery to send it (or resolve its unknown outcome); None when it is sent, given
        up, not due, or held by a live sender (this one or another)."""
        row = self.archive.outbox_row(key)
        if row is None or not self._takeable(row):
            return None
        now = self.clock()
        if not self.archive.outbox_take(row, self.owner, now + self.lease_seconds, now):
            return None  # another process took it first
        unknown = row["state"] in ("unknown", "sending")
        return Taken(self._with_server(_item(row)), unknown)

    def _with_server(self, item: OutboxItem) -> OutboxItem:
        """A DM alert or watch notice queued before rows named their server: its server, from
        its follow or watch (one that is gone leaves the row as it was)."""
        if item.channel_id is not None or "guild_id" in item.ref or item.kind not in ("alert", "watch"):
            return item
        guild_id = None
        if item.kind == "alert":
            follow = self.archive.get_follow(item.ref.get("follow_id"))
            guild_id = follow.guild_id if follow is not None else None
        else:
            try:
                guild_id = self.archive.get_watch(item.ref.get("watch_id")).guild_id
            except NotFound:
                pass
        return replace(item, ref={**item.ref, "guild_id": guild_id})

    def due(self, limit: int = DUE_BATCH) -> list[str]:
        """Keys of deliveries to take now: queued and never taken, due for a retry or a look-up, or
        left ``sending`` by a sender that is gone (its lease ran out, or its process is dead)."""
        host = self.owner.partition(":")[0]
        rows = self.archive.outbox_due(self.clock(), host, limit)
        return [row["key"] for row in rows if self._takeable(row)]

    def _takeable(self, row: dict) -> bool:
        state = row["state"]
        if state == "queued":
            return True
        if state in ("retry", "unknown"):
            return (row["next_try_at"] or 0) <= self.clock()
        if state == "sending":
            if (row["lease_until"] or 0) < self.clock():
                return True  # its sender (this process or another) is past its lease: gone
            return row["owner"] != self.owner and owner_is_gone(row["owner"], self.owner)
        return False

    def sent(self, key: str, message_id: int) -> None:
        """The message is in the channel (sent now, or found there): record it, and its feature."""
        row = self.archive.outbox_row(key)
        if row is None or not self.archive.outbox_finish(key, self.owner, "sent", self.clock(), message_id=message_id):
            log.warning("delivery %s: sent, but no longer held by this process", key)
            return
        self._recorder(row["kind"]).sent(json.loads(row["ref"]), message_id)

    def failed(self, key: str, reason: str, *, unknown: bool = False, permanent: bool = False) -> Verdict:
        """An attempt failed: retried with backoff (``unknown``: looked up first) until
        ``max_attempts``, then given up; ``permanent`` gives up at once. ``report`` is True for the
        one caller that reports the giving up."""
        row = self.archive.outbox_row(key)
        if row is None:
            return Verdict(False, False, 0, None)
        attempts = row["attempts"] + 1
        ref = json.loads(row["ref"])
        now = self.clock()
        if permanent or attempts >= self.max_attempts:
            why = reason if permanent else f"gave up after {attempts} attempts: {reason}"
            if not self.archive.outbox_finish(key, self.owner, "failed", now, reason=why, attempts=attempts):
                return Verdict(False, False, row["attempts"], None)  # not held by this sender: nothing changed
            self._recorder(row["kind"]).gave_up(ref, why, attempts, permanent)
            return Verdict(True, self.archive.outbox_mark_reported(key), attempts, None)
        delay = self.retry_seconds * 4 ** (attempts - 1)
        if unknown:
            delay = min(delay, self.lookup_seconds)
        state = "unknown" if unknown else "retry"
        why = f"attempt {attempts} failed: {reason}"
        finished = self.archive.outbox_finish(
            key, self.owner, state, now, reason=why, attempts=attempts, next_try_at=now + delay
        )
        if not finished:
            return Verdict(False, False, row["attempts"], None)  # not held by this sender: nothing changed
        self._recorder(row["kind"]).retrying(ref, reason, attempts, now + delay)
        return Verdict(False, False, attempts, now + delay)

    def dropped(self, key: str, reason: str) -> bool:
        """A held delivery that must not go out any more (a DM of a server's content to a member
        who left it): settled for good, never retried, not reported. It records nothing in its
        feature: the member's follows and watches of that server went, and their alerts and
        notices with them. False when this process no longer holds it."""
        return self.archive.outbox_finish(key, self.owner, "dropped", self.clock(), reason=reason)

    def postpone(self, key: str, reason: str, *, unknown: bool = False) -> bool:
        """Give a held delivery back untried (no attempt counted), due again after the first
        retry's wait; ``unknown``: its last attempt may have gone out, so it is still looked up
        before any send."""
        now = self.clock()
        state = "unknown" if unknown else "retry"
        return self.archive.outbox_finish(
            key, self.owner, state, now, reason=reason, next_try_at=now + self.retry_seconds
        )

    def item(self, key: str) -> OutboxItem | None:
        row = self.archive.outbox_row(key)
        return _item(row) if row else None

    def states(self) -> dict[str, int]:
        return self.archive.outbox_states()

    def _recorder(self, kind: str) -> Recorder:
        return self.recorders.get(kind, _NO_RECORD)


class _NoRecord:
    def sent(self, ref: dict, message_id: int) -> None:
        pass

    def retrying(self, ref: dict, reason: str, attempts: int, next_try_at: float) -> None:
        pass

    def gave_up(self, ref: dict, reason: str, attempts: int, permanent: bool) -> None:
        pass


_NO_RECORD = _NoRecord()


def _item(row: dict[str, Any]) -> OutboxItem:
    return OutboxItem(
        key=row["key"],
        kind=row["kind"],
        channel_id=row["channel_id"],
        user_id=row["user_id"],
        payload=json.loads(row["payload"]),
        ref=json.loads(row["ref"]),
        state=row["state"],
        attempts=row["attempts"],
        message_id=row["message_id"],
        reason=row["reason"],
    )
