"""FollowStore, DigestStore and WatchStore on both backends: every test here runs on a
SQLite file and on a database of the tests' throwaway PostgreSQL server (tests/support/postgres.py;
the PostgreSQL half skips without the server binaries), as tests/index/archive/test_backends.py
does for the rest of the archive. Every public method of the three mixins is called at least once
(``test_every_method_of_the_three_mixins_is_exercised`` keeps it so); the claims and the limits
are raced by several handles (one connection each, as processes would have)."""

from __future__ import annotations

import json
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from support.racing import race_processes, race_threads

from index.archive import Archive
from index.archive.digests import DigestStore
from index.archive.follows import FollowStore
from index.archive.pg import not_ported
from index.archive.watches import WatchStore
from index.errors import BadQuery, NotFound
from index.models import GLOBAL, PassageRow, Scope

DAY = 86400.0
T0 = 1_780_000_000.0
GUILD = 987654321098765432  # Discord ids need 64 bits
CHANNEL = GUILD + 1
USER = GUILD + 2
OTHER_GUILD = GUILD + 3


def record(guid: str, *, feed_id: int, published_ts: float | None, outlet: str = "Example Times") -> dict:
    return {
        "guid": guid,
        "url": f"https://example.org/{guid}",
        "title": f"Title {guid}",
        "outlet": outlet,
        "authors": json.dumps(["A. Writer"]),
        "categories": json.dumps(["world"]),
        "published": "2026-05-28T00:00:00+00:00",
        "published_ts": published_ts,
        "date_source": "feed",
        "fetched_at": "2026-05-28T00:00:00+00:00",
        "updated_at": "2026-05-28T00:00:00+00:00",
        "language": "en",
        "summary": "",
        "text": f"Body of {guid}.",
        "text_source": "feed",
        "content_hash": f"hash-{guid}",
        "entry_hash": f"entry-{guid}",
        "feed_id": feed_id,
    }


def store(
    archive: Archive,
    guid: str,
    feed_id: int,
    published_ts: float | None,
    texts: tuple[str, ...] = ("passage zero", "passage one"),
    outlet: str = "Example Times",
) -> int:
    rows = [PassageRow(f"{{article}}:{i}", 0, i, "T", text, published_ts, outlet) for i, text in enumerate(texts)]
    with archive.transaction():
        article_id = archive.write_article(
            record(guid, feed_id=feed_id, published_ts=published_ts, outlet=outlet), rows
        )
        archive.link_feed(article_id, feed_id)
    return article_id


def embed_all(archive: Archive) -> None:
    archive.mark_embedded([p.id for p in archive.passages_to_embed()])


# -- follows -------------------------------------------------------------------------------------
def test_follows_add_find_list_count_pause_remove(archive):
    channel = archive.add_follow("Volcano eruptions", GUILD, CHANNEL, None, USER, max_same_target=2)
    dm = archive.add_follow("elections", GUILD, None, USER, USER)
    terminal = archive.add_follow("markets", None, None, None, None)
    assert channel is not None and dm is not None and terminal is not None
    assert (channel.topic, channel.guild_id, channel.channel_id, channel.user_id, channel.created_by) == (
        "Volcano eruptions",
        GUILD,
        CHANNEL,
        None,
        USER,
    )
    assert channel.paused is None and channel.id < dm.id < terminal.id
    assert archive.get_follow(dm.id) == dm and archive.get_follow(terminal.id + 99) is None
    assert archive.count_follows(GUILD, CHANNEL, None) == 1
    assert archive.count_follows(GUILD, None, USER) == 1
    assert archive.count_follows(None, None, None) == 1
    assert archive.add_follow("floods", GUILD, CHANNEL + 5, None, USER, max_same_target=2) is not None
    assert archive.add_follow("fires", GUILD, CHANNEL, None, USER, max_same_target=2) is None  # the server's 2
    assert archive.count_follows(GUILD, CHANNEL, None) == 2

    assert archive.same_follow("VOLCANO ERUPTIONS", GUILD, CHANNEL, None) == channel
    assert archive.same_follow("elections", GUILD, None, USER) == dm
    assert archive.same_follow("markets", None, None, None) == terminal
    assert archive.same_follow("elections", OTHER_GUILD, None, USER) is None
    assert [f.topic for f in archive.list_follows(guild_id=GUILD)] == ["Volcano eruptions", "floods"]
    assert [f.topic for f in archive.list_follows(user_id=USER)] == ["elections"]
    assert [f.topic for f in archive.list_follows(guild_id=GUILD, user_id=USER)] == [
        "Volcano eruptions",
        "elections",
        "floods",
    ]
    assert archive.list_follows() == []
    assert len(archive.list_follows(everything=True)) == 4

    assert archive.pause_follows(USER, "dm closed") == 1  # the DM follow only
    assert archive.get_follow(dm.id).paused == "dm closed"
    assert archive.get_follow(channel.id).paused is None
    assert archive.resume_follows(USER) == 1 and archive.resume_follows(USER) == 0
    assert archive.get_follow(dm.id).paused is None

    archive.queue_alerts(dm.id, [(1, "queued", None, 0.5)], 0)
    assert archive.remove_follow(dm.id) and not archive.remove_follow(dm.id)
    assert archive.get_follow(dm.id) is None and archive.follow_alert_rows(dm.id) == []


def test_follow_limit_is_never_passed_under_a_race_threads(target):
    Archive(target).close()
    results = race_threads(target, lambda a: a.add_follow("topic", GUILD, CHANNEL, None, USER, max_same_target=2))
    assert len([f for f in results if f is not None]) == 2
    with closing(Archive(target)) as archive:
        assert archive.count_follows(GUILD, CHANNEL, None) == 2


def test_follow_cursor_and_new_articles(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    other, _ = archive.add_feed("https://b.example/feed.xml")
    old = store(archive, "old", feed.id, T0 - 5 * DAY)
    seq_old = archive.newest_article_seq()
    assert seq_old >= 1
    follow = archive.add_follow("anything", None, None, None, None)
    assert archive.follow_cursor(follow.id) == seq_old  # what is archived already is never alerted
    new = store(archive, "new", feed.id, T0)
    with archive.transaction():
        archive.link_feed(old, other.id)  # a second feed carrying an old article: not new
    newer = store(archive, "newer", other.id, T0 + DAY, texts=("one",))
    embed_all(archive)
    store(archive, "pending", feed.id, T0 + 2 * DAY, texts=("a", "b", "c"))
    found = archive.articles_first_seen_after(seq_old)
    assert [(a, n) for a, _, n in found] == [(new, 0), (newer, 0), (found[-1][0], 3)]
    seqs = [s for _, s, _ in found]
    assert seqs == sorted(seqs) and seqs[0] > seq_old and seqs[-1] == archive.newest_article_seq()
    assert [a for a, _, _ in archive.articles_first_seen_after(seq_old, limit=1)] == [new]
    assert archive.articles_first_seen_after(archive.newest_article_seq()) == []
    assert archive.article_ids_published_since(T0) == [new, newer, found[-1][0]]
    assert archive.article_ids_published_since(T0 + DAY, limit=1) == [newer]

    archive.set_follow_cursor(follow.id, seqs[1])
    archive.set_follow_cursor(follow.id, seqs[0])  # never moves back
    assert archive.follow_cursor(follow.id) == seqs[1]
    assert archive.follow_cursor(follow.id + 99) is None


def test_alerts_queue_fold_claim_finish(archive):
    follow = archive.add_follow("topic", GUILD, CHANNEL, None, USER)
    dm = archive.add_follow("topic", GUILD, None, USER, USER)
    rows = [(10, "queued", None, 0.9), (11, "folded", 10, 0.4), (12, "queued", None, 0.2), (13, "folded", 10, 0.1)]
    assert archive.queue_alerts(follow.id, rows, 7) == 4
    assert archive.queue_alerts(follow.id, [(10, "folded", 12, 0.0)], 5) == 0  # the row there wins
    assert archive.follow_cursor(follow.id) == 7  # moved with the rows, never back
    assert archive.queue_alerts(follow.id + 99, rows, 9) == 0  # a removed follow
    assert archive.queue_alerts(dm.id, [(10, "queued", None, 0.3)], 1) == 1
    assert archive.folded_into(follow.id, [10, 12]) == {10: [11, 13]}
    queued = archive.queued_alerts()
    assert sorted(queued) == sorted([(follow.id, 10, 0.9), (follow.id, 12, 0.2), (dm.id, 10, 0.3)])
    archive.pause_follows(USER, "dm closed")
    assert (dm.id, 10, 0.3) not in archive.queued_alerts() and len(archive.queued_alerts(limit=1)) == 1
    assert sorted(archive.recent_alerted(follow.id, time.time() - 60)) == [10, 12]  # not the folded ones
    assert archive.recent_alerted(follow.id, time.time() + 60) == []

    assert archive.claim_alert(follow.id, 10) and not archive.claim_alert(follow.id, 10)
    assert archive.claim_alert(follow.id, 12, "summarised", "flood")
    assert not archive.claim_alert(follow.id, 11)  # folded, not queued
    archive.finish_alert(follow.id, 10, "sent", message_id=2**62 + 5)
    by_article = {r["article_id"]: r for r in archive.follow_alert_rows(follow.id)}
    assert by_article[10]["state"] == "sent" and by_article[10]["message_id"] == 2**62 + 5
    assert by_article[12]["state"] == "summarised" and by_article[12]["reason"] == "flood"
    assert by_article[11]["state"] == "folded" and by_article[11]["story_of"] == 10
    assert by_article[13]["score"] == pytest.approx(0.1)
    assert archive.queued_alerts() == []
    assert sorted(archive.recent_alerted(follow.id, 0)) == [10, 12]  # sent and summarised still count


def test_an_alert_is_claimed_once_across_handles(target):
    with closing(Archive(target)) as archive:
        follow = archive.add_follow("topic", GUILD, CHANNEL, None, USER)
        archive.queue_alerts(follow.id, [(42, "queued", None, 1.0)], 1)
    results = race_threads(target, lambda a: a.claim_alert(follow.id, 42))
    assert sorted(results) == [False] * 5 + [True]
    with closing(Archive(target)) as archive:
        assert [r["state"] for r in archive.follow_alert_rows(follow.id)] == ["sending"]


# -- digests -------------------------------------------------------------------------------------
def test_digest_schedules_add_list_remove_and_runs(archive):
    daily = archive.add_digest_schedule(GUILD, CHANNEL, "daily", 480, 0, None, USER, max_per_guild=2)
    weekly = archive.add_digest_schedule(GUILD, CHANNEL + 1, "weekly", 60, 4, "volcano", USER, max_per_guild=2)
    assert daily is not None and weekly is not None
    assert archive.add_digest_schedule(GUILD, CHANNEL, "daily", 0, 0, None, USER, max_per_guild=2) is None
    elsewhere = archive.add_digest_schedule(OTHER_GUILD, 5, "daily", 0, 0, None, None, max_per_guild=2)
    assert elsewhere is not None
    assert (weekly.guild_id, weekly.channel_id, weekly.period, weekly.minute, weekly.weekday, weekly.topic) == (
        GUILD,
        CHANNEL + 1,
        "weekly",
        60,
        4,
        "volcano",
    )
    assert weekly.created_by == USER and weekly.created_ts == pytest.approx(time.time(), abs=60)
    assert daily.last_key is None and daily.last_state is None
    assert [s.id for s in archive.digest_schedules(GUILD)] == [daily.id, weekly.id]
    assert [s.id for s in archive.digest_schedules()] == [daily.id, weekly.id, elsewhere.id]

    assert not archive.digest_run_claimed(daily.id, "2026-05-28")
    assert archive.claim_digest_run(daily.id, "2026-05-28")
    assert not archive.claim_digest_run(daily.id, "2026-05-28")
    assert archive.digest_run_claimed(daily.id, "2026-05-28")
    assert archive.claim_digest_run(weekly.id, "2026-05-28")  # per schedule
    archive.record_digest_run(daily.id, "2026-05-28", "posted", 2**62 + 1, None)
    time.sleep(0.01)
    assert archive.claim_digest_run(daily.id, "2026-05-29")
    archive.record_digest_run(daily.id, "2026-05-29", "empty", None, "nothing new")
    runs = archive.digest_runs(daily.id)
    assert [(r["period_key"], r["state"], r["message_id"], r["detail"]) for r in runs] == [
        ("2026-05-28", "posted", 2**62 + 1, None),
        ("2026-05-29", "empty", None, "nothing new"),
    ]
    got = archive.digest_schedule(daily.id)
    assert got is not None and (got.last_key, got.last_state) == ("2026-05-29", "empty")

    assert not archive.remove_digest_schedule(daily.id, OTHER_GUILD)  # another server's id
    assert archive.remove_digest_schedule(daily.id, GUILD) and not archive.remove_digest_schedule(daily.id, None)
    assert archive.digest_schedule(daily.id) is None and archive.digest_runs(daily.id) == []
    assert not archive.claim_digest_run(daily.id, "2026-05-30")  # removed: nothing to claim
    assert archive.remove_digest_schedule(elsewhere.id, None)


def test_a_digest_run_is_claimed_once_per_period_across_handles(target):
    with closing(Archive(target)) as archive:
        schedule = archive.add_digest_schedule(GUILD, CHANNEL, "daily", 480, 0, None, USER, max_per_guild=5)
        other = archive.add_digest_schedule(GUILD, CHANNEL + 1, "daily", 480, 0, None, USER, max_per_guild=5)
    assert schedule is not None and other is not None
    results = race_threads(target, lambda a: a.claim_digest_run(schedule.id, "2026-05-28"))
    assert sorted(results) == [False] * 5 + [True]
    keys = [(schedule.id, "2026-05-28"), (schedule.id, "2026-05-29"), (other.id, "2026-05-28")]
    mixed = race_threads(target, lambda a: [a.claim_digest_run(s, k) for s, k in keys])
    assert [sum(r[i] for r in mixed) for i in range(3)] == [0, 1, 1]  # one winner per (schedule, period)
    with closing(Archive(target)) as archive:
        assert [r["period_key"] for r in archive.digest_runs(schedule.id)] == ["2026-05-28", "2026-05-29"]


def test_digest_schedule_limit_is_never_passed_under_a_race_threads(target):
    Archive(target).close()
    results = race_threads(target, lambda a: a.add_digest_schedule(GUILD, CHANNEL, "daily", 0, 0, None, USER, 3))
    assert len([s for s in results if s is not None]) == 3
    with closing(Archive(target)) as archive:
        assert len(archive.digest_schedules(GUILD)) == 3


def test_period_and_topic_articles(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    mine, _ = archive.add_feed("https://g.example/feed.xml", guild_id=GUILD, channel_id=CHANNEL)
    eruption = store(archive, "e", feed.id, T0, texts=("The volcano eruption forced evacuations.", "Ash fell."))
    later = store(archive, "l", mine.id, T0 + DAY, texts=("Volcano watchers", "saw a second eruption at night."))
    store(archive, "v", feed.id, T0 + 2 * DAY, texts=("The volcano slept.",))
    store(archive, "x", feed.id, T0 - 10 * DAY, texts=("An old eruption of the volcano.",))
    undated = store(archive, "u", feed.id, None, texts=("Volcano eruption, undated.",))
    assert undated

    got = archive.topic_articles("volcano eruptions", T0 - DAY, T0 + 3 * DAY)
    assert [(a, ts, outlet) for a, ts, outlet, _ in got] == [
        (eruption, T0, "Example Times"),
        (later, T0 + DAY, "Example Times"),
    ]  # "eruptions" finds "eruption"; every word, across passages; in the period; dated only
    assert all(score > 0 for *_, score in got)
    assert [a for a, *_ in archive.topic_articles("eruptions", None, None)] != []
    everywhere = [a for a, *_ in archive.topic_articles("volcano eruptions", None, None)]
    elsewhere = [
        a for a, *_ in archive.topic_articles("volcano eruptions", None, None, scope=Scope(OTHER_GUILD, False))
    ]
    assert later in everywhere and elsewhere == [a for a in everywhere if a != later]  # not this server's feed
    assert archive.topic_articles("tsunami", None, None) == []
    assert archive.topic_articles("", None, None) == []
    assert archive.topic_articles("volcano", T0, T0, fetched_until="2000-01-01T00:00:00+00:00") == []

    period = archive.period_articles(T0 - DAY, T0 + 3 * DAY)
    assert [a.id for a in period] == [eruption, later, period[-1].id] and period[-1].published_ts == T0 + 2 * DAY
    assert [a.id for a in archive.period_articles(T0 - DAY, T0 + 3 * DAY, limit=1)] == [period[-1].id]  # newest
    assert later not in [a.id for a in archive.period_articles(None, None, scope=Scope(OTHER_GUILD, False))]
    assert later in [a.id for a in archive.period_articles(None, None, scope=Scope(GUILD, False))]
    assert archive.period_articles(None, None, scope=GLOBAL, fetched_until="2000-01-01T00:00:00+00:00") == []

    firsts = archive.first_passage_ids([eruption, later, eruption])
    assert firsts == {eruption: f"{eruption}:0", later: f"{later}:0"}
    assert archive.first_passage_ids([]) == {}


# -- watches -------------------------------------------------------------------------------------
def test_watches_add_list_due_check_remove(archive):
    answer = [("The volcano erupted.", 3)]
    channel = archive.add_watch(GUILD, CHANNEL, None, "what erupted?", USER, (5, 0), answer, "fp1", 3, 2)
    dm = archive.add_watch(GUILD, None, USER, "who won?", USER, (5, 0), [], "fp0", 3, 2)
    terminal = archive.add_watch(None, None, None, "markets?", None, (9, 2), [], "fpt", 3, 2)
    assert (channel.guild_id, channel.channel_id, channel.user_id, channel.question) == (
        GUILD,
        CHANNEL,
        None,
        "what erupted?",
    )
    assert channel.answer == (("The volcano erupted.", 3),) and channel.fingerprint == "fp1"
    assert (channel.seen_article_id, channel.seen_update_id) == (5, 0)
    assert archive.add_watch(GUILD, CHANNEL, None, "third?", USER, (5, 0), [], "x", 3, 2) == ("member", 2)
    archive.add_watch(GUILD, CHANNEL, None, "third?", USER + 1, (5, 0), [], "x", 3, 2)
    assert archive.add_watch(GUILD, CHANNEL, None, "fourth?", USER + 2, (5, 0), [], "x", 3, 2) == ("server", 3)
    assert archive.get_watch(dm.id) == dm
    with pytest.raises(NotFound):
        archive.get_watch(terminal.id + 99)
    assert [w.id for w in archive.list_watches(GUILD)][:2] == [channel.id, dm.id]
    assert [w.id for w in archive.list_watches(None)] == [terminal.id]
    assert len(archive.list_watches(everything=True)) == 4

    assert [w.id for w in archive.watches_due((9, 2), True)][:2] == [channel.id, dm.id]
    assert archive.watches_due((9, 2), False) == []  # the terminal's has seen (9, 2)
    assert [w.id for w in archive.watches_due((9, 3), False)] == [terminal.id]
    assert len(archive.watches_due((9, 3), None)) == 4
    archive.mark_watch_checked(channel.id, (9, 2), None, None)
    archive.mark_watch_checked(channel.id, (7, 1), None, None)  # never moves back
    got = archive.get_watch(channel.id)
    assert (got.seen_article_id, got.seen_update_id, got.fingerprint) == (9, 2, "fp1")
    archive.mark_watch_checked(dm.id, (9, 2), [("Someone won.", 8)], "fp2")
    got = archive.get_watch(dm.id)
    assert got.answer == (("Someone won.", 8),) and got.fingerprint == "fp2"
    assert channel.id not in [w.id for w in archive.watches_due((9, 2), True)]

    assert archive.claim_watch_notice(channel.id, "fp1", "fp3", [("It erupted again.", 11)], (11, 2))
    archive.record_watch_notice(channel.id, "fp3", 2**62 + 3)
    assert archive.watch_notices(channel.id) == [("fp3", 2**62 + 3)]
    assert archive.remove_watch(channel.id) and not archive.remove_watch(channel.id)
    assert archive.watch_notices(channel.id) == []


def test_watch_notice_claims(archive):
    watch = archive.add_watch(GUILD, CHANNEL, None, "q?", USER, (1, 0), [], None, 5, 5)
    assert watch.fingerprint is None
    assert archive.claim_watch_notice(watch.id, None, "a", [("A.", 2)], (2, 0))  # from no answer (IS NULL)
    assert not archive.claim_watch_notice(watch.id, None, "a", [("A.", 2)], (2, 0))  # the same notice
    assert not archive.claim_watch_notice(watch.id, None, "b", [("B.", 3)], (3, 0))  # moved on meanwhile
    assert archive.watch_notices(watch.id) == [("a", None)]  # the lost claim left no row
    got = archive.get_watch(watch.id)
    assert (got.fingerprint, got.answer, got.seen_article_id) == ("a", (("A.", 2),), 2)
    assert archive.claim_watch_notice(watch.id, "a", "b", [("B.", 3)], (3, 1))
    assert [f for f, _ in archive.watch_notices(watch.id)] == ["a", "b"]


def test_a_watch_notice_is_claimed_once_across_handles(target):
    with closing(Archive(target)) as archive:
        watch = archive.add_watch(GUILD, CHANNEL, None, "q?", USER, (1, 0), [], "old", 5, 5)
    results = race_threads(target, lambda a: a.claim_watch_notice(watch.id, "old", "new", [("N.", 4)], (4, 0)))
    assert sorted(results) == [False] * 5 + [True]
    # different new answers from the same old one: still one notice, the watch moves on once
    with closing(Archive(target)) as archive:
        other = archive.add_watch(GUILD, CHANNEL, None, "r?", USER, (1, 0), [], "old", 5, 5)
    counter = iter(range(100))
    lock = threading.Lock()

    def claim(a: Archive) -> bool:
        with lock:
            n = next(counter)
        return a.claim_watch_notice(other.id, "old", f"new{n}", [("N.", n)], (4, 0))

    assert sorted(race_threads(target, claim)) == [False] * 5 + [True]
    with closing(Archive(target)) as archive:
        assert len(archive.watch_notices(watch.id)) == 1 and len(archive.watch_notices(other.id)) == 1
        assert archive.get_watch(other.id).fingerprint == archive.watch_notices(other.id)[0][0]


def test_watch_limit_per_server_is_never_passed_under_a_race_threads(target):
    Archive(target).close()

    def add(a: Archive) -> bool:
        try:
            for i in range(3):
                a.add_watch(GUILD, CHANNEL, None, f"q{i}?", None, (0, 0), [], "fp", 4, 10)
        except BadQuery:
            return False
        return True

    race_threads(target, add)
    with closing(Archive(target)) as archive:
        assert len(archive.list_watches(GUILD)) == 4  # 18 tries, never more than the limit


def test_ready_watermarks_and_updated_articles(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    assert (archive.ready_article_id(), archive.ready_update_id()) == (0, 0)
    first = store(archive, "a", feed.id, T0)
    second = store(archive, "b", feed.id, T0 + 1)
    assert archive.ready_article_id() == first - 1  # nothing embedded yet
    embed_all(archive)
    assert archive.ready_article_id() == second
    archive.record_article_update(first, feed.id)
    archive.record_article_update(second, feed.id)
    archive.record_article_update(first, None)
    assert archive.ready_update_id() == 3
    archive.mark_embedded([f"{second}:1"], 0)  # "b" re-written: to embed again
    assert archive.ready_update_id() == 1  # update 2 (of "b") waits
    assert archive.updated_articles(0, 3) == {first, second}
    assert archive.updated_articles(1, 2) == {second}
    assert archive.updated_articles(3, 9) == set()


def test_asked_votes_and_coverage(archive):
    key = archive.voter_key()
    assert len(key) == 32 and archive.voter_key() == key
    good = archive.record_asked(GUILD, "slash", "what erupted?", None, [3, 4], False, b"\x01\x02")
    bad = archive.record_asked(GUILD, "slash", "who won?", "2026-05-01", [5], False, b"\x03")
    abstained = archive.record_asked(None, "cli", "nothing?", None, [], True, None)
    assert good < bad < abstained
    got = archive.get_asked(bad)
    assert (got["guild_id"], got["via"], got["question"], got["as_of"], got["cited"], got["abstained"]) == (
        GUILD,
        "slash",
        "who won?",
        "2026-05-01",
        [5],
        False,
    )
    with pytest.raises(NotFound):
        archive.get_asked(abstained + 9)

    assert archive.set_vote(good, "v1", 1) is None
    assert archive.set_vote(good, "v2", 1) is None
    assert archive.set_vote(bad, "v1", -1) is None
    assert archive.set_vote(bad, "v2", 1) is None
    assert archive.set_vote(bad, "v2", -1) == 1  # replaced
    assert archive.vote_counts(good) == (2, 0) and archive.vote_counts(bad) == (0, 2)
    assert archive.vote_counts(abstained) == (0, 0)

    mine = archive.questions_needing_coverage(GUILD, False)
    assert [(q["id"], q["down"], vector) for q, vector in mine] == [(bad, 2, b"\x03")]
    everyone = archive.questions_needing_coverage(None, True)
    assert [q["id"] for q, _ in everyone] == [abstained, bad]
    assert [q["id"] for q, _ in archive.questions_needing_coverage(None, False)] == [abstained]
    assert len(archive.questions_needing_coverage(None, True, limit=1)) == 1

    assert archive.prune_asked("2000-01-01T00:00:00+00:00") == 0
    assert archive.prune_asked("2999-01-01T00:00:00+00:00") == 3
    assert archive.vote_counts(good) == (0, 0) and archive.questions_needing_coverage(None, True) == []


def test_votes_of_one_voter_race_to_one_row(target):
    with closing(Archive(target)) as archive:
        answer = archive.record_asked(GUILD, "slash", "q?", None, [], False, None)
    results = race_threads(target, lambda a: a.set_vote(answer, "v1", 1))
    assert results.count(None) == 1 and results.count(1) == 5
    with closing(Archive(target)) as archive:
        assert archive.vote_counts(answer) == (1, 0)


# -- all of it ---------------------------------------------------------------------------------
def test_a_member_leaving_or_the_server_going_removes_what_was_made_there(archive):
    """A member leaving: only their DM follows and watches made in that server go (alerts and
    notices with them); the server going: all of its follows and watches."""
    dm_here = archive.add_follow("volcano", GUILD, None, USER, USER)
    dm_in_dms = archive.add_follow("volcano", None, None, USER, USER)
    dm_elsewhere = archive.add_follow("volcano", OTHER_GUILD, None, USER, USER)
    channel = archive.add_follow("volcano", GUILD, CHANNEL, None, USER)
    other_member = archive.add_follow("volcano", GUILD, None, USER + 5, USER + 5)
    archive.queue_alerts(dm_here.id, [(1, "queued", None, 0.5)], 0)
    watch_here = archive.add_watch(GUILD, None, USER, "who won?", USER, (5, 0), [], "fp0", 3, 2)
    watch_channel = archive.add_watch(GUILD, CHANNEL, None, "what erupted?", USER, (5, 0), [], "fp1", 3, 2)
    watch_elsewhere = archive.add_watch(OTHER_GUILD, None, USER, "who won?", USER, (5, 0), [], "fp0", 3, 2)
    archive.claim_watch_notice(watch_here.id, "fp0", "fp2", [("Someone won.", 8)], (6, 0))

    assert archive.remove_server_follows(GUILD, USER) == 1 and archive.remove_server_watches(GUILD, USER) == 1
    left = {f.id for f in archive.list_follows(everything=True)}
    assert left == {dm_in_dms.id, dm_elsewhere.id, channel.id, other_member.id}
    assert not archive.db.execute("SELECT 1 FROM follow_alerts WHERE follow_id = ?", [dm_here.id]).fetchone()
    assert archive.watch_notices(watch_here.id) == []
    assert {w.id for w in archive.list_watches(everything=True)} == {watch_channel.id, watch_elsewhere.id}

    assert archive.remove_server_follows(GUILD) == 2 and archive.remove_server_watches(GUILD) == 1
    assert {f.id for f in archive.list_follows(everything=True)} == {dm_in_dms.id, dm_elsewhere.id}
    assert [w.id for w in archive.list_watches(everything=True)] == [watch_elsewhere.id]


def test_every_method_of_the_three_mixins_is_exercised():
    source = Path(__file__).read_text()
    for mixin in (FollowStore, DigestStore, WatchStore):
        methods = [n for n, v in vars(mixin).items() if callable(v) and not n.startswith("_")]
        assert methods and [m for m in methods if f".{m}(" not in source] == []


def test_the_three_mixins_are_ported(archive):
    missing = not_ported(type(archive))
    assert not [m for m in missing if m.split(".")[0] in {"FollowStore", "DigestStore", "WatchStore"}]
    assert type(archive).claim_alert is FollowStore.claim_alert  # not a refusing stub
    assert type(archive).claim_digest_run is DigestStore.claim_digest_run
    assert type(archive).claim_watch_notice is WatchStore.claim_watch_notice
    assert archive.ready_article_id() == 0


# -- the same claims raced by OS processes (each its own interpreter and connection) ----------------
def test_claims_and_limits_hold_across_processes(target):
    """The races above use threads with their own handles; here the contenders are separate
    processes, as bots on separate machines are: one winner per claim, the limits never passed."""
    with closing(Archive(target)) as archive:
        follow = archive.add_follow("topic", GUILD, CHANNEL, None, USER)
        archive.queue_alerts(follow.id, [(42, "queued", None, 1.0)], 1)
        schedule = archive.add_digest_schedule(GUILD, CHANNEL, "daily", 480, 0, None, USER, max_per_guild=10)
        watch = archive.add_watch(GUILD, CHANNEL, None, "q?", USER, (1, 0), [], "old", 5, 5)
    assert schedule is not None
    assert sorted(race_processes(target, "claim_alert", (follow.id, 42))) == [False] * 3 + [True]
    assert sorted(race_processes(target, "claim_digest_run", (schedule.id, "2026-05-28"))) == [False] * 3 + [True]
    notice = (watch.id, "old", "new", [("N.", 4)], (4, 0))
    assert sorted(race_processes(target, "claim_watch_notice", notice)) == [False] * 3 + [True]
    follows = race_processes(target, "add_follow", ("other topic", GUILD, CHANNEL + 5, None, USER, 2))
    assert len([f for f in follows if f is not None]) == 1  # 2 channel follows per server, one taken above
    schedules = race_processes(target, "add_digest_schedule", (GUILD, CHANNEL + 6, "daily", 0, 0, None, USER, 3))
    assert len([s for s in schedules if s is not None]) == 2  # 3 per server, one taken above
    with closing(Archive(target)) as archive:
        assert [r["state"] for r in archive.follow_alert_rows(follow.id)] == ["sending"]
        assert [r["period_key"] for r in archive.digest_runs(schedule.id)] == ["2026-05-28"]
        assert len(archive.watch_notices(watch.id)) == 1
        assert archive.count_follows(GUILD, CHANNEL + 5, None) == 2
        assert len(archive.digest_schedules(GUILD)) == 3
        assert len(archive.list_watches(GUILD)) == 1
