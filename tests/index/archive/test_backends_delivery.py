"""DeliveryStore and VectorScaleQueries on both backends: every test here runs on a
SQLite file and on a database of the tests' throwaway PostgreSQL server (tests/support/postgres.py;
the PostgreSQL half skips without the server binaries), as tests/index/archive/test_backends.py
does for the rest of the archive. Every public method of both mixins is called at least once
(``test_every_method_of_the_two_mixins_is_exercised`` keeps it so), with the claims raced by
several handles (one connection each, as processes would have): exactly one wins."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.racing import race_threads

from index.archive import Archive
from index.archive.delivery import STALE_SENDING_SECONDS, DeliveryStore
from index.archive.pg import not_ported
from index.archive.vectorscale import VectorScaleQueries
from index.models import ChannelLimits, PassageRow, PostTemplate

DAY = 86400.0
T0 = 1_780_000_000.0
GUILD = 987654321098765432  # Discord ids need 64 bits
CHANNEL = GUILD + 1
ROLE = GUILD + 2


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
    archive: Archive, guid: str, feed_id: int, published_ts: float | None, n: int = 2, outlet: str = "Example Times"
) -> int:
    rows = [PassageRow(f"{{article}}:{i}", 0, i, "T", f"passage {i}", published_ts, outlet) for i in range(n)]
    with archive.transaction():
        article_id = archive.write_article(
            record(guid, feed_id=feed_id, published_ts=published_ts, outlet=outlet), rows
        )
        archive.link_feed(article_id, feed_id)
    return article_id


# -- filters -----------------------------------------------------------------------------------
def test_filters_add_list_remove_clear(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml", guild_id=GUILD, channel_id=CHANNEL)
    other, _ = archive.add_feed("https://b.example/feed.xml")
    everywhere = archive.add_filter(feed.id, None, "exclude", "title", "sport", False, True, False, 5)
    here = archive.add_filter(feed.id, CHANNEL, "include", "any", r"\bcity\b", True, False, True, None)
    elsewhere = archive.add_filter(feed.id, CHANNEL + 9, "include", "author", "Writer", False, False, False, None)
    archive.add_filter(other.id, None, "exclude", "any", "x", False, False, False, None)
    assert (here.feed_id, here.channel_id, here.action, here.field, here.pattern) == (
        feed.id,
        CHANNEL,
        "include",
        "any",
        r"\bcity\b",
    )
    assert (here.regex, here.negate, here.case_sensitive) == (True, False, True)
    assert (everywhere.regex, everywhere.negate, everywhere.case_sensitive) == (False, True, False)
    assert everywhere.id < here.id < elsewhere.id
    assert archive.feed_filters(feed.id) == [everywhere, here, elsewhere]  # no channel: every rule
    assert archive.feed_filters(feed.id, CHANNEL) == [everywhere, here]  # the channel's and the global ones
    assert archive.feed_filters(feed.id, 1) == [everywhere]
    assert not archive.remove_filter(other.id, here.id)  # another feed's rule id
    assert archive.remove_filter(feed.id, here.id) and not archive.remove_filter(feed.id, here.id)
    assert archive.feed_filters(feed.id) == [everywhere, elsewhere]
    assert archive.clear_filters(feed.id) == 2 and archive.clear_filters(feed.id) == 0
    assert archive.feed_filters(feed.id) == [] and len(archive.feed_filters(other.id)) == 1


# -- what a feed carried -------------------------------------------------------------------------
def test_recent_articles_backlog_and_publication_before_the_feed(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=CHANNEL)
    other, _ = archive.add_feed("https://b.example/feed.xml")
    old = store(archive, "old", feed.id, T0)
    undated = store(archive, "undated", feed.id, None)
    archive.mark_feed_first_ok(feed.id)  # what it carries now is backlog
    new = store(archive, "new", feed.id, T0 + DAY)
    also = store(archive, "also", feed.id, T0 + DAY)  # same date: the later arrival first
    with archive.transaction():
        archive.link_feed(new, other.id)
    assert archive.feed_recent_articles(feed.id) == [also, new, old, undated]
    assert archive.feed_recent_articles(feed.id, limit=2) == [also, new]
    assert archive.feed_recent_articles(other.id) == [new]
    assert archive.article_feed_ids(new) == [feed.id, other.id] and archive.article_feed_ids(old) == [feed.id]
    assert archive.is_backlog(feed.id, old) and archive.is_backlog(feed.id, undated)
    assert not archive.is_backlog(feed.id, new) and not archive.is_backlog(other.id, new)  # never fetched ok
    assert not archive.is_backlog(feed.id, 999)
    since = archive.db.execute("SELECT posting_since FROM feeds WHERE id = ?", [feed.id]).fetchone()[0]
    assert since > T0 + DAY  # added now, long after the stories' dates
    assert archive.published_before_feed(feed.id, old, 3600)
    assert not archive.published_before_feed(feed.id, old, since - T0 + 1)  # inside the grace period
    assert not archive.published_before_feed(feed.id, undated, 3600)  # no date: not before
    assert not archive.published_before_feed(feed.id, 999, 3600)


# -- flood control --------------------------------------------------------------------------------
def test_channel_limits_are_replaced_and_counted(archive):
    assert archive.channel_limits(CHANNEL) == ChannelLimits(CHANNEL)  # none set
    archive.set_channel_limits(ChannelLimits(CHANNEL, per_window=3, window_seconds=600, daily_max=20), GUILD)
    archive.set_channel_limits(ChannelLimits(CHANNEL, per_window=5, window_seconds=900, max_age_days=1.5), GUILD)
    assert archive.channel_limits(CHANNEL) == ChannelLimits(CHANNEL, 5, 900, None, 1.5)
    rows = archive.db.execute("SELECT guild_id, count(*) FROM delivery_limits GROUP BY guild_id").fetchall()
    assert [tuple(r) for r in rows] == [(GUILD, 1)]
    before = time.time() - 1
    archive.log_delivery(CHANNEL, 1, 1, "posted", "posted", message_id=11)
    archive.log_delivery(CHANNEL, 2, 1, "sending", "being posted")
    archive.log_delivery(CHANNEL, 3, 1, "held", "rate limit")
    archive.log_delivery(CHANNEL, 4, 1, "filtered", "excluded")
    archive.log_delivery(CHANNEL + 9, 5, 1, "posted", "posted")
    archive.log_delivery(CHANNEL + 9, 6, 1, "held", "daily maximum")
    archive.log_delivery(CHANNEL + 9, 7, 1, "held", "daily maximum")
    assert archive.posted_since(CHANNEL, before) == 2
    assert archive.posted_since(CHANNEL, time.time() + 60) == 0
    assert archive.held_counts([CHANNEL, CHANNEL + 9, 1]) == {CHANNEL: 1, CHANNEL + 9: 2}
    assert archive.held_counts([]) == {}


def test_limits_and_pings_written_at_once_by_several_handles_stay_one_row(target):
    """Upserts racing for a new key: no unique violation, one row, one writer's values."""
    Archive(target).close()  # migrated before the race
    widths = iter(range(1, 100))
    lock = threading.Lock()

    def limit(handle: Archive) -> bool:
        with lock:
            n = next(widths)
        handle.set_channel_limits(ChannelLimits(CHANNEL, per_window=n, window_seconds=60), GUILD)
        handle.set_ping(7, GUILD, ROLE, "title", f"p{n}", False, True, n)
        return True

    assert race_threads(target, limit) == [True] * 6
    archive = Archive(target)
    assert archive.db.execute("SELECT count(*) FROM delivery_limits").fetchone()[0] == 1
    assert archive.channel_limits(CHANNEL).per_window in range(1, 7)
    pings = archive.feed_pings(7)
    assert len(pings) == 1 and pings[0]["pattern"] in {f"p{n}" for n in range(1, 7)}
    archive.close()


# -- the delivery log ----------------------------------------------------------------------------
def test_the_log_keeps_the_latest_word_and_counts_holds(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=CHANNEL)
    article_id = store(archive, "g1", feed.id, T0)
    archive.log_delivery(CHANNEL, article_id, feed.id, "held", "rate limit")
    archive.log_delivery(CHANNEL, article_id, None, "held", "rate limit again")  # still held: counted once
    [row] = archive.article_deliveries(article_id)
    assert (row["state"], row["reason"], row["held"], row["feed_id"], row["attempts"]) == (
        "held",
        "rate limit again",
        1,
        feed.id,  # a later word without a feed keeps the feed
        0,
    )
    archive.log_delivery(CHANNEL, article_id, None, "retry", "attempt 2 failed", attempts=2, next_try_at=T0 + 60)
    archive.log_delivery(CHANNEL, article_id, None, "held", "held again")
    [row] = archive.article_deliveries(article_id)
    assert (row["state"], row["held"], row["attempts"], row["next_try_at"]) == ("held", 2, 2, None)
    assert row["message_id"] is None
    # claimed in posts: the post's row joined with its log; a log-only channel listed after it
    assert archive.claim_delivery(CHANNEL + 9, article_id, feed.id)
    archive.record_post(CHANNEL + 9, article_id, 777)
    archive.log_delivery(CHANNEL + 9, article_id, None, "posted", "posted", message_id=777)
    archive.log_delivery(CHANNEL + 9, article_id, None, "posted", "posted again")  # keeps the message id
    got = {r["channel_id"]: r for r in archive.article_deliveries(article_id)}
    assert set(got) == {CHANNEL, CHANNEL + 9}
    assert (got[CHANNEL + 9]["state"], got[CHANNEL + 9]["message_id"], got[CHANNEL + 9]["held"]) == ("posted", 777, 0)
    assert got[CHANNEL]["state"] == "held" and archive.article_deliveries(999) == []


def test_a_delivery_is_claimed_once_across_handles(target):
    archive = Archive(target)
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=CHANNEL)
    article_id = store(archive, "g1", feed.id, T0)
    won = race_threads(target, lambda h: h.claim_delivery(CHANNEL, article_id, feed.id), n=8)
    assert sorted(won) == [False] * 7 + [True]
    [row] = archive.article_deliveries(article_id)
    assert (row["state"], row["reason"], row["feed_id"]) == ("sending", "being posted", feed.id)
    assert archive.db.execute("SELECT count(*) FROM posts").fetchone()[0] == 1
    assert archive.claim_delivery(CHANNEL + 9, article_id, feed.id)  # another channel: its own claim
    assert not archive.claim_delivery(CHANNEL, article_id, feed.id)
    archive.close()


def test_retries_are_due_and_each_is_claimed_once(archive):
    now = time.time()
    archive.log_delivery(CHANNEL, 1, 4, "retry", "attempt 1 failed", attempts=1, next_try_at=now - 5)
    archive.log_delivery(CHANNEL, 2, 4, "retry", "attempt 2 failed", attempts=2, next_try_at=now + 600)  # not yet
    archive.log_delivery(CHANNEL, 3, None, "sending", "being posted")  # a live claim
    archive.log_delivery(CHANNEL, 4, None, "sending", "being posted")  # its sender died
    archive.log_delivery(CHANNEL, 5, 4, "posted", "posted", message_id=9)
    stale = now - STALE_SENDING_SECONDS - 60
    archive.db.execute("UPDATE delivery_log SET updated_at = ? WHERE article_id = ?", [stale, 4])
    assert archive.due_retries(now) == [(CHANNEL, 0, 4, 0), (CHANNEL, 4, 1, 1)]  # oldest word first
    assert archive.due_retries(now, limit=1) == [(CHANNEL, 0, 4, 0)]
    assert not archive.claim_retry(CHANNEL, 1, 2)  # another attempt's retry
    assert archive.claim_retry(CHANNEL, 1, 1)
    assert not archive.claim_retry(CHANNEL, 1, 1)  # won already: now a live claim
    assert not archive.claim_retry(CHANNEL, 3, 0) and not archive.claim_retry(CHANNEL, 5, 0)
    assert archive.claim_retry(CHANNEL, 4, 0) and not archive.claim_retry(CHANNEL, 4, 0)
    [row] = archive.article_deliveries(1)
    assert (row["state"], row["reason"]) == ("sending", "being posted (retry)")
    assert archive.due_retries(now) == []


@pytest.mark.parametrize("kind", ["retry", "stale"])
def test_a_retry_is_claimed_once_across_handles(target, kind):
    archive = Archive(target)
    if kind == "retry":
        archive.log_delivery(CHANNEL, 1, 4, "retry", "attempt 3 failed", attempts=3, next_try_at=time.time() - 1)
    else:
        archive.log_delivery(CHANNEL, 1, 4, "sending", "being posted (retry)", attempts=3)
        archive.db.execute("UPDATE delivery_log SET updated_at = ?", [time.time() - STALE_SENDING_SECONDS - 1])
    assert archive.due_retries(time.time()) == [(CHANNEL, 4, 1, 3)]
    assert sorted(race_threads(target, lambda h: h.claim_retry(CHANNEL, 1, 3))) == [False] * 5 + [True]
    assert archive.due_retries(time.time()) == []
    archive.close()


# -- backfill ---------------------------------------------------------------------------------------
def test_backfill_is_queued_once_and_pending_until_claimed(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=CHANNEL)
    late = store(archive, "late", feed.id, T0 + DAY)
    early = store(archive, "early", feed.id, T0)
    undated = store(archive, "undated", feed.id, None)
    assert archive.queue_backfill(feed.id, CHANNEL, [late, early]) == 2
    assert archive.queue_backfill(feed.id, CHANNEL, [late, early, undated]) == 1  # already queued: once
    assert archive.pending_backfill() == [
        (CHANNEL, feed.id, undated),
        (CHANNEL, feed.id, early),
        (CHANNEL, feed.id, late),
    ]
    assert archive.pending_backfill(limit=1) == [(CHANNEL, feed.id, undated)]
    assert archive.claim_delivery(CHANNEL, early, feed.id)
    assert [r[2] for r in archive.pending_backfill()] == [undated, late]


# -- templates, pings, per-feed options ---------------------------------------------------------------
def test_templates_set_replace_clear(archive):
    assert archive.get_template(3) is None
    archive.set_template(PostTemplate(3, "{title}", "plain", "Europe/Paris"), 5)
    archive.set_template(PostTemplate(3, "**{title}**\n{link}"), None)
    assert archive.get_template(3) == PostTemplate(3, "**{title}**\n{link}", "embed", "UTC")
    assert archive.db.execute("SELECT count(*) FROM delivery_templates").fetchone()[0] == 1
    assert archive.clear_template(3) and not archive.clear_template(3)
    assert archive.get_template(3) is None


def test_setting_a_role_ping_twice_replaces_it(archive):
    mine, _ = archive.add_feed("https://a.example/feed.xml", guild_id=GUILD)
    theirs, _ = archive.add_feed("https://b.example/feed.xml", guild_id=1)
    archive.set_ping(mine.id, GUILD, ROLE, "title", "storm", False, False, 5)
    archive.set_ping(mine.id, GUILD, ROLE + 1, None, None, False, True, 5)
    first_id = archive.db.execute("SELECT id FROM delivery_pings WHERE role_id = ?", [ROLE]).fetchone()[0]
    archive.set_ping(mine.id, GUILD, ROLE, "category", r"^weather$", True, True, 6)  # the same role again
    rows = archive.db.execute(
        "SELECT id, role_id, created_by FROM delivery_pings WHERE feed_id = ? ORDER BY id", [mine.id]
    ).fetchall()
    assert [r[1] for r in rows] == [ROLE + 1, ROLE]  # one row per role; the replaced one is new, so last
    assert rows[1][0] > first_id and rows[1][2] == 6
    assert archive.feed_pings(mine.id) == [
        {"role_id": ROLE + 1, "field": "any", "pattern": None, "regex": False, "subscribable": True},
        {"role_id": ROLE, "field": "category", "pattern": "^weather$", "regex": True, "subscribable": True},
    ]
    archive.set_ping(theirs.id, 1, ROLE + 2, None, None, False, True, None)
    assert archive.role_subscribable(GUILD, ROLE) and archive.role_subscribable(GUILD, ROLE + 1)
    assert not archive.role_subscribable(GUILD, ROLE + 2)  # another server's feed pings it
    assert not archive.role_subscribable(1, ROLE)
    archive.set_ping(mine.id, GUILD, ROLE, None, None, False, False, 6)  # not subscribable any more
    assert not archive.role_subscribable(GUILD, ROLE)
    assert archive.remove_ping(mine.id, ROLE) and not archive.remove_ping(mine.id, ROLE)
    assert [p["role_id"] for p in archive.feed_pings(mine.id)] == [ROLE + 1]


def test_feed_options_default_and_replace(archive):
    assert archive.feed_options(4) == {"thread": False, "updates": "ignore", "forum_title": None, "forum_tags": []}
    archive.set_feed_options(4, True, "edit", "{title}", [("storm", "Weather"), ("vote", "Politics")])
    archive.set_feed_options(4, False, "repost", None, [("x", "Y")])
    assert archive.feed_options(4) == {
        "thread": False,
        "updates": "repost",
        "forum_title": None,
        "forum_tags": [("x", "Y")],
    }
    assert archive.db.execute("SELECT count(*) FROM delivery_feed_options").fetchone()[0] == 1


# -- updated articles ---------------------------------------------------------------------------------
def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def posted(archive: Archive, channel_id: int, article_id: int, feed_id: int, at: float, message_id: int) -> None:
    """A post sent at ``at`` (its claim's ISO time; no log row, as posts from before m005 have)."""
    assert archive.claim_post(channel_id, article_id, feed_id)
    archive.record_post(channel_id, article_id, message_id)
    archive.db.execute(
        "UPDATE posts SET claimed_at = ? WHERE channel_id = ? AND article_id = ?", [iso(at), channel_id, article_id]
    )


def update(archive: Archive, article_id: int, feed_id: int, at: float) -> int:
    archive.record_article_update(article_id, feed_id)
    update_id = archive.db.execute("SELECT max(id) FROM delivery_updates").fetchone()[0]
    archive.db.execute("UPDATE delivery_updates SET at = ? WHERE id = ?", [at, update_id])
    return update_id


def test_updates_pending_after_the_post_and_claimed_once(archive):
    now = time.time()
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=CHANNEL)
    quiet, _ = archive.add_feed("https://q.example/feed.xml", channel_id=CHANNEL + 9)
    article_id = store(archive, "g1", feed.id, T0)
    other_id = store(archive, "g2", quiet.id, T0)
    archive.set_feed_options(feed.id, False, "edit", None, [])
    archive.set_feed_options(quiet.id, False, "ignore", None, [])  # updates of its posts are ignored
    archive.db.execute("UPDATE delivery_feed_options SET updated_at = ?", [now - 3 * 3600])
    posted(archive, CHANNEL, article_id, feed.id, now - 3600, 501)  # no log row: its claim's time counts
    posted(archive, CHANNEL + 9, other_id, quiet.id, now - 3600, 502)
    update(archive, article_id, feed.id, now - 7200)  # before the post: old news
    assert archive.pending_updates() == []
    first = update(archive, article_id, feed.id, now - 1800)
    second = update(archive, article_id, feed.id, now - 900)
    update(archive, other_id, quiet.id, now - 900)
    assert archive.pending_updates() == [(CHANNEL, feed.id, article_id, 501, "edit", second)]
    assert archive.pending_updates(max_age_seconds=1000) == [(CHANNEL, feed.id, article_id, 501, "edit", second)]
    assert archive.pending_updates(max_age_seconds=600) == []  # too old
    assert archive.claim_update(CHANNEL, article_id, second) and not archive.claim_update(CHANNEL, article_id, second)
    assert not archive.claim_update(CHANNEL, article_id, first)  # settled by the later one
    assert archive.pending_updates() == []
    # a log word after the update (the update was handled by then) hides it too
    third = update(archive, article_id, feed.id, now - 60)
    assert [r[5] for r in archive.pending_updates()] == [third]
    archive.log_delivery(CHANNEL, article_id, None, "posted", "edited", message_id=501)
    assert archive.pending_updates() == []
    archive.db.execute("UPDATE delivery_feed_options SET updated_at = ? WHERE feed_id = ?", [now, feed.id])
    fourth = update(archive, article_id, feed.id, now + 5)  # after the log word and the options
    assert [r[4:] for r in archive.pending_updates()] == [("edit", fourth)]


def test_an_update_is_claimed_once_across_handles_even_out_of_order(target):
    """Every handle claims another update of one article in one channel (each settling the earlier
    ones), at once: the newest is won once, and no claim deadlocks or fails."""
    archive = Archive(target)
    ids = [update(archive, 42, 1, time.time()) for _ in range(6)]
    order = iter(ids)
    lock = threading.Lock()

    def claim(handle: Archive) -> tuple[int, bool]:
        with lock:
            update_id = next(order)
        return update_id, handle.claim_update(CHANNEL, 42, update_id)

    won = dict(race_threads(target, claim))
    assert sorted(won) == ids and won[ids[-1]]  # the newest cannot be settled by another claim
    rows = archive.db.execute("SELECT update_id FROM delivery_update_claims WHERE channel_id = ?", [CHANNEL])
    assert sorted(r[0] for r in rows) == ids  # every update settled, once
    assert sorted(race_threads(target, lambda h: h.claim_update(CHANNEL + 9, 42, ids[-1]))) == [False] * 5 + [True]
    archive.close()


# -- channel problems --------------------------------------------------------------------------------
def test_a_channel_problem_is_reported_once_until_cleared(target):
    archive = Archive(target)
    won = race_threads(target, lambda h: h.claim_channel_notice(CHANNEL, "missing permissions"))
    assert sorted(won) == [False] * 5 + [True]
    assert not archive.claim_channel_notice(CHANNEL, "another reason")
    assert archive.claim_channel_notice(CHANNEL + 9, "missing permissions")
    archive.clear_channel_notice(CHANNEL)
    archive.clear_channel_notice(CHANNEL)  # nothing to clear: fine
    rows = archive.db.execute("SELECT channel_id, reason FROM delivery_channel_notices").fetchall()
    assert [tuple(r) for r in rows] == [(CHANNEL + 9, "missing permissions")]
    assert archive.claim_channel_notice(CHANNEL, "channel deleted")
    archive.close()


# -- VectorScaleQueries -------------------------------------------------------------------------------
def corpus(archive: Archive) -> dict[str, int]:
    """Three servers' worth of articles: a global feed, the guild's and another's."""
    glob, _ = archive.add_feed("https://g.example/feed.xml")
    mine, _ = archive.add_feed("https://m.example/feed.xml", guild_id=GUILD)
    theirs, _ = archive.add_feed("https://t.example/feed.xml", guild_id=1)
    return {
        "g_old": store(archive, "g_old", glob.id, T0, 3, "Global"),
        "g_new": store(archive, "g_new", glob.id, T0 + 2 * DAY, 2, "Global"),
        "m_mid": store(archive, "m_mid", mine.id, T0 + DAY, 2, "Mine"),
        "t_mid": store(archive, "t_mid", theirs.id, T0 + DAY, 2, "Theirs"),
    }


def pids(archive: Archive, *article_ids: int) -> set[str]:
    return {p.id for a in article_ids for p in archive.article_passages(a)}


def test_rowid_watermark_counts_and_neighbour_lists(archive):
    assert archive.max_passage_rowid() == 0 and archive.passage_sample(10) == []
    ids = corpus(archive)
    every = archive.db.execute("SELECT rowid, id, article_id FROM passages ORDER BY rowid").fetchall()
    assert len(every) == 9 and archive.max_passage_rowid() == every[-1][0]
    assert archive.embedded_passage_count() == 0 and archive.embedded_without_neighbours() == []
    embedded = [r for r in every if r[2] != ids["t_mid"]]
    archive.mark_embedded([r[1] for r in embedded])
    assert archive.embedded_passage_count() == 7
    assert [tuple(r) for r in archive.embedded_without_neighbours()] == [tuple(r) for r in embedded]
    archive.save_neighbours({embedded[0][1]: b"\x00\x00\x80?", embedded[3][1]: b"\x01\x02"})
    assert archive.neighbour_list_count() == 2
    rest = [tuple(r) for r in embedded if r[1] not in {embedded[0][1], embedded[3][1]}]
    assert [tuple(r) for r in archive.embedded_without_neighbours()] == rest
    assert [tuple(r) for r in archive.embedded_without_neighbours(embedded[3][0], limit=2)] == rest[2:4]
    sims = archive.neighbour_sims([embedded[0][1], embedded[0][1], embedded[3][1], "nope"])
    assert sims == {embedded[0][1]: b"\x00\x00\x80?", embedded[3][1]: b"\x01\x02"}
    assert all(type(v) is bytes for v in sims.values())


def test_sample_visibility_and_filtered_ids(archive):
    ids = corpus(archive)
    everything = pids(archive, *ids.values())
    archive.mark_embedded(sorted(everything))
    archive.mark_embedded([f"{ids['g_old']}:0"], value=0)  # one passage not embedded
    embedded = everything - {f"{ids['g_old']}:0"}
    sample = archive.passage_sample(100)
    assert {r[0] for r in sample} == embedded  # fewer passages than asked: all the embedded ones
    by_id = {r[0]: tuple(r[1:]) for r in sample}
    assert by_id[f"{ids['m_mid']}:1"] == (ids["m_mid"], T0 + DAY, "Mine")
    small = archive.passage_sample(4, seed=3)
    assert len(small) <= 4 and {r[0] for r in small} <= embedded
    assert [tuple(r) for r in archive.passage_sample(4, seed=3)] == [tuple(r) for r in small]  # by the seed
    every = list(ids.values())
    assert archive.visible_among(every + every, GUILD) == {ids["g_old"], ids["g_new"], ids["m_mid"]}
    assert archive.visible_among(every, None) == {ids["g_old"], ids["g_new"]}
    assert archive.visible_among([], GUILD) == set()

    def filtered(since, until, outlets, guild, scoped, limit=100, by_date=True):
        found = archive.passage_ids_filtered(since, until, outlets, guild, scoped, limit, by_date=by_date)
        return None if found is None else set(found)

    assert filtered(T0 + DAY / 2, T0 + 1.5 * DAY, None, None, False) == pids(archive, ids["m_mid"], ids["t_mid"])
    assert filtered(None, T0 + DAY / 2, None, None, False) == embedded & pids(archive, ids["g_old"])
    assert filtered(T0 + DAY / 2, None, ["Global", "Mine"], None, False) == pids(archive, ids["g_new"], ids["m_mid"])
    assert filtered(T0 + DAY / 2, None, None, GUILD, True) == pids(archive, ids["g_new"], ids["m_mid"])
    assert filtered(None, None, None, GUILD, True) == embedded - pids(archive, ids["t_mid"])
    assert filtered(None, None, ["Mine", "Theirs"], GUILD, True) == pids(archive, ids["m_mid"])
    assert filtered(None, None, None, None, True) == embedded & pids(archive, ids["g_old"], ids["g_new"])
    assert filtered(T0 + DAY / 2, None, None, None, False, limit=3) is None  # 6 match: past the limit
    assert filtered(T0 + DAY / 2, None, None, None, False, limit=6) == pids(
        archive, ids["g_new"], ids["m_mid"], ids["t_mid"]
    )
    assert filtered(None, None, ["Mine"], None, False) is None  # nothing narrows it by date or server
    # a range keeping most of the archive is not walked: the server's feeds first, the dates a condition
    assert filtered(None, T0 + 10 * DAY, ["Mine"], None, False, by_date=False) is None
    assert filtered(T0 + DAY / 2, None, None, GUILD, True, by_date=False) == pids(archive, ids["g_new"], ids["m_mid"])
    assert filtered(None, T0 + DAY / 2, None, GUILD, True, by_date=False) == embedded & pids(archive, ids["g_old"])


def test_article_facts_narrow_as_the_archive_filters(archive):
    """The engine's arrays of article dates and outlets (index.vectors.facts) read from either
    backend, then only the new articles, then all again after RELOAD_SECONDS."""
    from index.vectors.facts import RELOAD_SECONDS, ArticleFacts

    ids = corpus(archive)
    assert [tuple(r) for r in archive.article_facts()] == [
        (ids["g_old"], T0, "Global"),
        (ids["g_new"], T0 + 2 * DAY, "Global"),
        (ids["m_mid"], T0 + DAY, "Mine"),
        (ids["t_mid"], T0 + DAY, "Theirs"),
    ]
    assert [r[0] for r in archive.article_facts(ids["g_new"])] == [ids["m_mid"], ids["t_mid"]]
    facts = ArticleFacts()
    assert facts.refresh(archive, now=0.0) == 4 and len(facts) == 4
    passage = {name: f"a{aid}-0-x" for name, aid in ids.items()}  # the pipeline's id form
    every = list(passage.values()) + ["a999999-0-x", "other:0"]  # an article not read yet, another form

    def kept(since, until, outlets):
        return {every[i] for i in facts.narrow(every, since, until, outlets)}

    unknown = {"a999999-0-x", "other:0"}  # always left for the archive to decide
    assert kept(None, None, None) == set(every)
    assert kept(T0 + DAY / 2, T0 + 1.5 * DAY, None) == {passage["m_mid"], passage["t_mid"]} | unknown
    assert kept(T0 + DAY / 2, None, ["Global", "Mine"]) == {passage["g_new"], passage["m_mid"]} | unknown
    assert kept(None, None, ["No such outlet"]) == unknown
    newer = store(archive, "g_newer", archive.get_feed("https://g.example/feed.xml").id, T0 + 3 * DAY, 1, "Global")
    assert facts.refresh(archive, now=1.0) == 1  # only the new one
    every.append(f"a{newer}-0-x")
    assert kept(T0 + 2.5 * DAY, None, ["Global"]) == {f"a{newer}-0-x"} | unknown and len(facts) == 5
    with archive.transaction():  # an article rewritten with another date: seen on the next full read
        archive.db.execute("UPDATE articles SET published_ts = ? WHERE id = ?", [T0 + 3 * DAY, ids["g_old"]])
    facts.refresh(archive, now=2.0)
    assert passage["g_old"] not in kept(T0 + 2.5 * DAY, None, None)
    assert facts.refresh(archive, now=3.0 + RELOAD_SECONDS) == 5
    assert passage["g_old"] in kept(T0 + 2.5 * DAY, None, None)


# -- completeness -------------------------------------------------------------------------------------
def test_every_method_of_the_two_mixins_is_exercised():
    source = Path(__file__).read_text()
    for mixin in (DeliveryStore, VectorScaleQueries):
        methods = [n for n, v in vars(mixin).items() if callable(v) and not n.startswith("_")]
        assert methods and [m for m in methods if f".{m}(" not in source] == []


def test_both_mixins_are_ported(archive):
    missing = not_ported(type(archive))
    assert not [m for m in missing if m.split(".")[0] in {"DeliveryStore", "VectorScaleQueries"}]
    assert type(archive).claim_delivery is DeliveryStore.claim_delivery  # not a refusing stub
    assert type(archive).passage_ids_filtered is VectorScaleQueries.passage_ids_filtered
    assert archive.claim_delivery(1, 2, 3) and archive.max_passage_rowid() == 0
