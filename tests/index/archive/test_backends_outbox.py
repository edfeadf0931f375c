"""OutboxStore, and the outbox's state machine over it (index/delivery/outbox.py), on both backends:
a SQLite file and a database of the tests' throwaway PostgreSQL server (tests/support/postgres.py;
the PostgreSQL half skips without the server binaries). Queueing with a feature's claim, and every
take, are raced by several handles (one connection each, as processes would have): exactly one
wins, and a delivery is never held by two senders."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.racing import race_threads

from index.archive import Archive
from index.archive.outbox import OutboxStore
from index.archive.pg import not_ported
from index.delivery.outbox import Outbox, delivery_token, owner_is_gone
from index.models import Answer, Watch, WatchChange

CHANNEL = 987654321098765433  # Discord ids need 64 bits
DEAD = "host-a:4194999:dead"


class Clock:
    def __init__(self, now: float = 1_780_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorded:
    def __init__(self):
        self.calls: list[tuple] = []

    def sent(self, ref, message_id):
        self.calls.append(("sent", ref["n"], message_id))

    def retrying(self, ref, reason, attempts, next_try_at):
        self.calls.append(("retrying", ref["n"], attempts))

    def gave_up(self, ref, reason, attempts, permanent):
        self.calls.append(("gave_up", ref["n"], attempts, permanent))


def outbox(archive, clock, recorder=None, owner="host-a:1:me") -> Outbox:
    return Outbox(archive, {"notice": recorder} if recorder else {}, owner=owner, clock=clock)


def test_sent_once_and_recorded(archive):
    clock, rec = Clock(), Recorded()
    box = outbox(archive, clock, rec)
    assert box.queue("notice", "k1", {"content": "hi"}, channel_id=CHANNEL, ref={"n": 1})
    assert not box.queue("notice", "k1", {"content": "again"}, channel_id=CHANNEL, ref={"n": 1})
    assert box.due() == ["k1"] and [r["key"] for r in archive.outbox_due(clock.now, "host-a")] == ["k1"]
    taken = box.take("k1")
    assert taken is not None and not taken.unknown and taken.item.payload == {"content": "hi"}
    assert taken.item.channel_id == CHANNEL and taken.item.token == delivery_token("k1")
    assert box.take("k1") is None and box.due() == []  # held by this sender
    box.sent("k1", 42)
    row = archive.outbox_row("k1")
    assert (row["state"], row["message_id"], row["owner"]) == ("sent", 42, None)
    assert rec.calls == [("sent", 1, 42)] and box.take("k1") is None and box.due() == []
    assert archive.outbox_states() == {"sent": 1}
    assert not archive.outbox_add("k1", "notice", CHANNEL, None, "{}", "{}", clock.now)  # the key is taken
    assert not archive.outbox_finish("k1", "host-a:1:me", "failed", clock.now)  # settled: nobody holds it


def test_failures_back_off_four_times_longer_then_give_up_reported_once(archive):
    clock, rec = Clock(), Recorded()
    box = outbox(archive, clock, rec)
    box.queue("notice", "k", {}, channel_id=CHANNEL, ref={"n": 7})
    waits = []
    for attempt in range(1, box.max_attempts):
        assert box.take("k") is not None
        verdict = box.failed("k", "500")
        assert not verdict.gave_up and verdict.attempts == attempt
        waits.append(verdict.next_try_at - clock.now)
        assert box.take("k") is None and box.due() == []  # not due before its backoff
        clock.now = verdict.next_try_at
    assert waits == [box.retry_seconds * 4**i for i in range(box.max_attempts - 1)]
    assert box.take("k") is not None
    last = box.failed("k", "500")
    assert last.gave_up and last.report and last.attempts == box.max_attempts
    assert not archive.outbox_mark_reported("k")  # reported once
    assert box.take("k") is None and archive.outbox_row("k")["state"] == "failed"
    assert rec.calls[-1] == ("gave_up", 7, box.max_attempts, False)


def test_an_unknown_outcome_is_looked_up_first_and_soon(archive):
    clock = Clock()
    box = outbox(archive, clock)
    box.queue("notice", "k", {}, channel_id=CHANNEL)
    box.take("k")
    verdict = box.failed("k", "connection reset", unknown=True)
    assert verdict.next_try_at - clock.now == box.lookup_seconds
    clock.now = verdict.next_try_at
    taken = box.take("k")
    assert taken is not None and taken.unknown
    other = outbox(archive, clock, owner="host-a:2:other")
    assert not other.failed("k", "x", permanent=True).gave_up  # not its holder: nothing changes
    assert archive.outbox_row("k")["state"] == "sending"


def test_a_delivery_of_a_dead_or_lapsed_sender_is_taken_over_as_unknown(archive):
    clock = Clock()
    here = "host-a:1:me"
    dead = outbox(archive, clock, owner=f"host-a:{4_194_999}:gone")
    dead.queue("notice", "k", {}, channel_id=CHANNEL)
    assert dead.take("k") is not None  # then killed
    assert owner_is_gone(f"host-a:{4_194_999}:gone", me=here)
    assert not owner_is_gone("host-b:4194999:far", me=here)  # another machine: its lease decides
    me = outbox(archive, clock, owner=here)
    assert me.due() == ["k"]
    taken = me.take("k")
    assert taken is not None and taken.unknown
    far = outbox(archive, clock, owner="host-b:5:far")
    far.queue("notice", "k2", {}, channel_id=CHANNEL)
    far.take("k2")
    assert me.take("k2") is None and "k2" not in me.due()  # alive elsewhere, lease running
    clock.now += far.lease_seconds + 1
    assert me.take("k2").unknown  # the lease ran out
    far.sent("k2", 9)  # the lapsed sender cannot record over the new holder
    assert archive.outbox_row("k2")["state"] == "sending"


def test_a_dropped_dm_is_settled_for_good_and_a_postponed_one_keeps_its_attempts(archive):
    """A DM to a member who left its server is dropped: final, never due again, not reported, no
    feature record. One whose membership is unknown now is given back untried, for later."""
    clock, rec = Clock(), Recorded()
    box = outbox(archive, clock, rec)
    box.queue("notice", "dm", {}, user_id=CHANNEL + 5, ref={"n": 3, "guild_id": CHANNEL + 9})
    taken = box.take("dm")
    assert taken is not None and taken.item.guild_id == CHANNEL + 9  # the server the DM belongs to
    assert box.failed("dm", "400").next_try_at is not None  # refused once: waits for its retry
    clock.now += box.retry_seconds
    assert box.take("dm") is not None
    assert not outbox(archive, clock, owner="host-a:2:other").dropped("dm", "x")  # only its holder settles it
    assert box.dropped("dm", "the member is no longer in the server")
    row = archive.outbox_row("dm")
    assert (row["state"], row["attempts"], row["reported"]) == ("dropped", 1, 0)
    assert row["reason"] == "the member is no longer in the server"
    clock.now += box.retry_seconds * 100
    assert box.due() == [] and box.take("dm") is None  # never tried again
    assert rec.calls == [("retrying", 3, 1)]  # nothing recorded as sent or given up
    box.queue("notice", "later", {}, user_id=CHANNEL + 5, ref={"n": 4})
    assert box.item("later").guild_id is None  # a global DM: no server to ask about
    box.take("later")
    assert box.postpone("later", "membership unknown")
    row = archive.outbox_row("later")
    assert (row["state"], row["attempts"], row["next_try_at"]) == ("retry", 0, clock.now + box.retry_seconds)
    assert box.due() == []
    clock.now += box.retry_seconds
    box.take("later")
    assert box.postpone("later", "membership unknown", unknown=True)
    clock.now += box.retry_seconds
    assert box.take("later").unknown  # its last attempt may have gone out: still looked up first


def test_a_dm_queued_before_rows_named_their_server_takes_it_from_its_follow_or_watch(archive):
    clock = Clock()
    box = outbox(archive, clock)
    follow = archive.add_follow("volcano", CHANNEL + 9, None, CHANNEL + 5, 1)
    assert follow is not None
    box.queue("alert", "old-alert", {}, user_id=CHANNEL + 5, ref={"follow_id": follow.id, "article_id": 1, "dm": True})
    assert box.take("old-alert").item.guild_id == CHANNEL + 9
    box.queue("alert", "gone", {}, user_id=CHANNEL + 5, ref={"follow_id": follow.id + 1, "article_id": 1})
    assert box.take("gone").item.guild_id is None  # its follow is gone: nothing to ask about
    watch = archive.add_watch(CHANNEL + 9, None, CHANNEL + 5, "what now?", 1, (0, 0), [], "f0", 10, 10)
    assert isinstance(watch, Watch)
    box.queue("watch", "old-watch", {}, user_id=CHANNEL + 5, ref={"watch_id": watch.id, "fingerprint": "f"})
    assert box.take("old-watch").item.guild_id == CHANNEL + 9
    box.queue("watch", "gone-watch", {}, user_id=CHANNEL + 5, ref={"watch_id": watch.id + 1, "fingerprint": "f"})
    assert box.take("gone-watch").item.guild_id is None


def test_a_delivery_is_taken_by_exactly_one_of_several_handles(target):
    archive = Archive(target)
    clock = Clock()
    outbox(archive, clock, owner=DEAD).queue("notice", "k", {}, channel_id=CHANNEL)
    before = archive.outbox_row("k")
    won = race_threads(target, lambda h: outbox(h, clock, owner=f"host-a:1:{id(h)}").take("k") is not None, n=8)
    assert sorted(won) == [False] * 7 + [True]
    assert not archive.outbox_take(before, "host-a:1:late", clock.now + 60, clock.now)  # read before: stale
    archive.close()


def test_a_post_is_claimed_and_queued_once_across_handles(target):
    archive = Archive(target)
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=CHANNEL)
    with archive.transaction():
        article_id = archive.write_article(
            {
                "guid": "g1",
                "url": "https://example.org/g1",
                "title": "T",
                "outlet": "O",
                "authors": "[]",
                "categories": "[]",
                "published": None,
                "published_ts": None,
                "date_source": "feed",
                "fetched_at": "2026-05-28T00:00:00+00:00",
                "updated_at": "2026-05-28T00:00:00+00:00",
                "language": "en",
                "summary": "",
                "text": "Body.",
                "text_source": "feed",
                "content_hash": "h",
                "entry_hash": "e",
                "feed_id": feed.id,
            },
            [],
        )
    clock = Clock()
    won = race_threads(
        target, lambda h: outbox(h, clock).queue_post(CHANNEL, article_id, feed.id, {"content": "x"}), n=8
    )
    assert sorted(won) == [False] * 7 + [True]
    assert archive.db.execute("SELECT count(*) FROM posts").fetchone()[0] == 1
    assert archive.outbox_row(f"post:{CHANNEL}:{article_id}")["state"] == "queued"
    archive.close()


def test_a_watch_change_is_claimed_and_queued_once_across_handles(target):
    archive = Archive(target)
    watch = archive.add_watch(7, CHANNEL, None, "What erupted?", 1, (1, 0), [("Old.", 1)], "old", 10, 10)
    change = WatchChange(
        watch, Answer("What erupted?", "New.", [], False), "new", [], ["Old."], [], [("New.", 2)], (2, 0)
    )
    clock = Clock()
    won = race_threads(
        target, lambda h: outbox(h, clock).queue_watch(change, {"content": "x"}, channel_id=CHANNEL, user_id=None), n=8
    )
    assert sorted(won) == [False] * 7 + [True]
    assert archive.watch_notices(watch.id) == [("new", None)]
    assert archive.get_watch(watch.id).fingerprint == "new"  # the stored answer moved on with the claim
    row = archive.outbox_row(f"watch:{watch.id}:new")
    assert row["state"] == "queued" and row["channel_id"] == CHANNEL
    archive.close()


def test_a_watch_change_whose_queueing_fails_is_not_claimed(target):
    """The claim and the outbox row are one transaction: a failure between the two (the process
    dying there) leaves the change unclaimed, found and queued by the next pass."""
    archive = Archive(target)
    watch = archive.add_watch(7, CHANNEL, None, "What erupted?", 1, (1, 0), [("Old.", 1)], "old", 10, 10)
    change = WatchChange(
        watch, Answer("What erupted?", "New.", [], False), "new", [], ["Old."], [], [("New.", 2)], (2, 0)
    )
    failing = Archive(target)

    def die(*args, **kwargs):
        raise RuntimeError("killed between the claim and the outbox")

    failing.outbox_add = die  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        outbox(failing, Clock()).queue_watch(change, {"content": "x"}, channel_id=CHANNEL, user_id=None)
    failing.close()
    assert archive.watch_notices(watch.id) == [] and archive.get_watch(watch.id).fingerprint == "old"
    assert archive.outbox_states() == {}
    assert outbox(archive, Clock()).queue_watch(change, {"content": "x"}, channel_id=CHANNEL, user_id=None)
    assert archive.watch_notices(watch.id) == [("new", None)] and archive.outbox_states() == {"queued": 1}
    archive.close()


def test_a_channel_problem_notice_is_claimed_and_queued_once_per_episode(target):
    archive = Archive(target)
    clock = Clock()
    admin = CHANNEL + 1

    def report(h: Archive) -> str | None:
        return outbox(h, clock).queue_channel_notice(CHANNEL, "missing permissions", admin, {"content": "x"})

    keys = race_threads(target, report, n=8)
    assert len([k for k in keys if k is not None]) == 1
    (key,) = [k for k in keys if k is not None]
    row = archive.outbox_row(key)
    assert row["state"] == "queued" and row["channel_id"] == admin and row["kind"] == "notice"
    assert report(archive) is None  # reported until a post there succeeds
    archive.clear_channel_notice(CHANNEL)
    clock.now += 1
    again = report(archive)
    assert again is not None and again != key  # a new episode, a new notice

    failing = Archive(target)

    def die(*args, **kwargs):
        raise RuntimeError("killed between the claim and the outbox")

    failing.outbox_add = die  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        outbox(failing, clock).queue_channel_notice(CHANNEL + 2, "gone", admin, {"content": "y"})
    failing.close()
    assert outbox(archive, clock).queue_channel_notice(CHANNEL + 2, "gone", admin, {"content": "y"}) is not None
    archive.close()


def test_every_method_is_exercised_and_ported(archive):
    source = Path(__file__).read_text()
    methods = [n for n, v in vars(OutboxStore).items() if callable(v) and not n.startswith("_")]
    assert methods and [m for m in methods if f".{m}(" not in source] == []
    assert not [m for m in not_ported(type(archive)) if m.startswith("OutboxStore.")]
