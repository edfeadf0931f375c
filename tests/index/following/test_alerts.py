"""Topic alerts, service level: a real archive and index filled from feeds served on 127.0.0.1
that gain items between ingests; follows, scoring, story folding, claims, limits, DM pauses."""

from __future__ import annotations

import itertools

import pytest
from support.newsroom import STORIES, WIRE_STORIES, make_feed

from index import policy
from index.errors import BadQuery, LimitReached, NotFound, PermissionDenied
from index.following import alerts as following
from index.following.relevance import score_articles
from index.models import GLOBAL, Scope
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

# the hash embedder's scale (bag-of-words cosines): matches score ~0.4-0.6, unrelated stories < 0.2
HASH_THRESHOLD = 0.3
GUILD, OTHER_GUILD = 1001, 2002
CHANNEL = 501

_prefixes = itertools.count(1)

VOLCANO = (
    "Volcano erupts again on the Reykjanes peninsula",
    "The volcano near Grindavik erupted again overnight, sending lava toward the evacuated town. Geologists "
    "said the eruption on the Reykjanes peninsula could last for days.",
)
TRAM = ("Tram timetable changes on Sunday", "Trams run less often on Sunday while engineers replace the rails.")


@pytest.fixture
def newsroom(desk, feed_server):
    """Two global feeds (Daily Planet, Wire Service) ingested once."""
    prefix = f"/f{next(_prefixes)}"
    planet = make_feed(feed_server, "planet", "Daily Planet", STORIES, prefix)
    wire = make_feed(feed_server, "wire", "Wire Service", WIRE_STORIES, prefix)
    desk.feeds.add(planet.url, "Daily Planet")
    desk.feeds.add(wire.url, "Wire Service")
    desk.indexing.ingest()
    desk.following.threshold = HASH_THRESHOLD
    return planet, wire


def queued_titles(desk) -> list[str]:
    return [a.article.title for b in desk.following.batches() for a in b.alerts + b.overflow]


def test_a_follow_gets_the_new_matching_article_once_and_nothing_else(desk, newsroom):
    planet, _ = newsroom
    follow = desk.following.add("volcano eruption", guild_id=GUILD, channel_id=CHANNEL)
    assert desk.following.plan() == 0  # what was archived before the follow is never alerted
    planet.add_item(*VOLCANO, slug="volcano-again")
    planet.add_item(*TRAM, slug="tram")
    desk.indexing.ingest()
    assert desk.following.plan() == 1
    batches = desk.following.batches()
    assert [(b.follow.id, [a.article.title for a in b.alerts]) for b in batches] == [(follow.id, [VOLCANO[0]])]
    alert = batches[0].alerts[0]
    assert alert.score >= HASH_THRESHOLD and alert.also == []
    assert desk.following.claim(follow.id, alert.article.id)
    assert not desk.following.claim(follow.id, alert.article.id)  # claimed once, whoever asks next
    desk.following.sent(follow.id, alert.article.id, 777)
    assert desk.following.plan() == 0 and desk.following.batches() == []
    rows = desk.archive.follow_alert_rows(follow.id)
    assert [(r["state"], r["message_id"]) for r in rows] == [("sent", 777)]


def test_relevance_is_the_hybrid_score_not_only_keywords(desk, newsroom):
    ids = list(desk.archive.articles_by_ids(range(1, 100)))
    hits = score_articles(desk.retriever, "lava eruption in Iceland grounds flights", ids, GLOBAL)
    top = hits[0]
    assert "Volcano" in top.article.title and top.dense > 0.2 and 0 < top.keyword < 1
    # every article is scored (the candidates are exactly the given ones), unrelated ones far below
    assert len({h.article.id for h in hits}) == len(ids)
    assert max(h.score for h in hits if "Volcano" not in h.article.title) < HASH_THRESHOLD


def test_other_outlets_copies_are_folded_in_also_in_a_later_pass(desk, newsroom):
    planet, wire = newsroom
    follow = desk.following.add("volcano eruption", user_id=42)
    planet.add_item(*VOLCANO, slug="volcano-planet")
    wire.add_item(VOLCANO[0], "Wire report: " + VOLCANO[1], slug="volcano-wire")
    desk.indexing.ingest()
    assert desk.following.plan() == 1
    (batch,) = desk.following.batches()
    (alert,) = batch.alerts
    assert {alert.article.outlet, *[a.outlet for a in alert.also]} == {"Daily Planet", "Wire Service"}
    # a third copy arriving later folds into the story already alerted
    desk.following.claim(follow.id, alert.article.id)
    desk.following.sent(follow.id, alert.article.id, 1)
    planet.add_item(VOLCANO[0], "Update: " + VOLCANO[1], slug="volcano-update")
    desk.indexing.ingest()
    assert desk.following.plan() == 0 and desk.following.batches() == []
    states = [r["state"] for r in desk.archive.follow_alert_rows(follow.id)]
    assert states.count("folded") == 2 and states.count("sent") == 1


def test_a_servers_follow_sees_global_feeds_and_its_own_not_another_servers(desk, newsroom, feed_server):
    prefix = f"/g{next(_prefixes)}"
    old = [("Harbour festival draws crowds", "The harbour festival drew crowds on the quay.", 3)]
    own = make_feed(feed_server, "own", "Own Gazette", old, prefix)
    other = make_feed(feed_server, "other", "Other Courier", old, prefix)
    desk.feeds.add(own.url, "Own Gazette", guild_id=GUILD)
    desk.feeds.add(other.url, "Other Courier", guild_id=OTHER_GUILD)
    desk.indexing.ingest()
    mine = desk.following.add("octopus species", guild_id=GUILD, channel_id=CHANNEL)
    theirs = desk.following.add("octopus species", guild_id=OTHER_GUILD, channel_id=CHANNEL + 1)
    own.add_item("New octopus species found", "Divers found a new octopus species on the reef.", slug="o1")
    other.add_item("Giant octopus species filmed", "A giant octopus species was filmed in the trench.", slug="o2")
    desk.indexing.ingest()
    desk.following.plan()
    got = {b.follow.id: [a.article.outlet for a in b.alerts] for b in desk.following.batches()}
    assert got == {mine.id: ["Own Gazette"], theirs.id: ["Other Courier"]}


def test_a_flood_is_capped_per_target_and_pass(desk, newsroom):
    planet, _ = newsroom
    follow = desk.following.add("volcano eruption", guild_id=GUILD, channel_id=CHANNEL)
    places = ["Hekla", "Katla", "Askja", "Grimsvotn", "Krafla", "Eyjafjallajokull", "Bardarbunga"]
    for i, place in enumerate(places):
        planet.add_item(
            f"{place} volcano eruption begins",
            f"The {place} volcano began an eruption; {' '.join(f'{place.lower()}{j}' for j in range(i + 8))}.",
            slug=f"flood{i}",
        )
    desk.indexing.ingest()
    assert desk.following.plan() == len(places)
    (batch,) = desk.following.batches()
    assert len(batch.alerts) == following.MAX_ALERTS_PER_TARGET
    assert len(batch.overflow) == len(places) - following.MAX_ALERTS_PER_TARGET
    for alert in batch.overflow:
        assert desk.following.summarise(follow.id, alert.article.id)
    assert all(a.follow.id == follow.id for a in batch.alerts)
    assert len(desk.following.batches()[0].alerts) == following.MAX_ALERTS_PER_TARGET  # the summarised are gone


def test_two_processes_plan_and_claim_each_alert_once(desk, newsroom, config):
    planet, wire = newsroom
    other = Newsdesk(config, embedder=HashEmbedder())  # another bot process (or the worker) on the archive
    other.following.threshold = HASH_THRESHOLD
    try:
        follow = desk.following.add("volcano eruption", guild_id=GUILD, channel_id=CHANNEL)
        planet.add_item(*VOLCANO, slug="v1")
        wire.add_item(VOLCANO[0], "Wire report: " + VOLCANO[1], slug="v2")
        desk.indexing.ingest()
        assert desk.following.plan() + other.following.plan() == 1
        listed = [(d, a) for d in (desk, other) for b in d.following.batches() for a in b.alerts]  # both list it
        assert len(listed) == 2
        wins = [a.article.id for d, a in listed if d.following.claim(follow.id, a.article.id)]
        assert len(wins) == 1
    finally:
        other.close()


def test_follows_survive_a_restart(desk, newsroom, config):
    planet, _ = newsroom
    follow = desk.following.add("volcano eruption", user_id=42, guild_id=GUILD)
    desk.close()
    again = Newsdesk(config, embedder=HashEmbedder())
    again.following.threshold = HASH_THRESHOLD
    try:
        assert again.following.list_follows(guild_id=GUILD, user_id=42) == [follow]
        planet.add_item(*VOLCANO, slug="after-restart")
        again.indexing.ingest()
        assert again.following.plan() == 1 and queued_titles(again) == [VOLCANO[0]]
    finally:
        again.close()


def test_closed_dms_pause_the_members_follows_until_they_come_back(desk, newsroom):
    planet, _ = newsroom
    follow = desk.following.add("volcano eruption", user_id=42)
    planet.add_item(*VOLCANO, slug="v-closed")
    desk.indexing.ingest()
    desk.following.plan()
    (alert,) = desk.following.batches()[0].alerts
    assert desk.following.claim(follow.id, alert.article.id)
    desk.following.failed(follow.id, alert.article.id, "403 Cannot send messages to this user", dm_closed=True)
    assert desk.following.list_follows(user_id=42)[0].paused
    planet.add_item("Volcano eruption ends", "The volcano eruption near Grindavik ended, lava cooling.", slug="v2")
    desk.indexing.ingest()
    assert desk.following.plan() == 0 and desk.following.batches() == []  # nothing queued, nothing retried
    assert desk.following.resume(42) == 1 and desk.following.list_follows(user_id=42)[0].paused is None
    planet.add_item(
        "Volcano eruption on Iceland resumes", "The volcano eruption resumed and lava flows again.", slug="v3"
    )
    desk.indexing.ingest()
    assert desk.following.plan() == 1 and queued_titles(desk) == ["Volcano eruption on Iceland resumes"]


def test_bad_topics_duplicates_and_limits(desk, monkeypatch):
    with pytest.raises(BadQuery, match="empty"):
        desk.following.add("   ", user_id=1)
    with pytest.raises(BadQuery, match="at most 200"):
        desk.following.add("x" * 201, user_id=1)
    with pytest.raises(BadQuery, match="no words"):
        desk.following.add("?!", user_id=1)
    desk.following.add("volcano", user_id=1)
    with pytest.raises(BadQuery, match="already following"):
        desk.following.add("  Volcano ", user_id=1)
    monkeypatch.setattr(policy, "DM_FOLLOWS_PER_MEMBER", 3)
    monkeypatch.setattr(policy, "CHANNEL_FOLLOWS_PER_GUILD", 2)
    desk.following.add("ferry", user_id=1, guild_id=GUILD)
    desk.following.add("tram", user_id=1, guild_id=OTHER_GUILD)  # per member, across servers
    with pytest.raises(LimitReached, match="at most 3 DM follows"):
        desk.following.add("bridge", user_id=1)
    desk.following.add("bridge", user_id=2)  # another member has their own allowance
    desk.following.add("a", guild_id=GUILD, channel_id=1)
    desk.following.add("b", guild_id=GUILD, channel_id=2)
    with pytest.raises(LimitReached, match="at most 2 channel follows"):
        desk.following.add("c", guild_id=GUILD, channel_id=3)
    desk.following.add("c", guild_id=OTHER_GUILD, channel_id=3)  # per server


def test_who_may_remove_a_follow(desk):
    channel = desk.following.add("volcano", guild_id=GUILD, channel_id=CHANNEL)
    dm = desk.following.add("volcano", guild_id=GUILD, user_id=7)
    with pytest.raises(NotFound, match="no follow '999'"):
        desk.following.remove(999, everything=True)
    with pytest.raises(NotFound):
        desk.following.remove("nonsense", guild_id=GUILD, user_id=7)
    with pytest.raises(PermissionDenied):
        desk.following.remove(channel.id, guild_id=GUILD, user_id=7, admin=False)
    with pytest.raises(NotFound):
        desk.following.remove(channel.id, guild_id=OTHER_GUILD, user_id=7, admin=True)
    with pytest.raises(NotFound):
        desk.following.remove(dm.id, guild_id=GUILD, user_id=8, admin=True)  # an admin does not remove a member's DMs
    assert desk.following.remove(dm.id, user_id=7) == dm
    assert desk.following.remove(f"#{channel.id}", guild_id=GUILD, user_id=9, admin=True) == channel
    assert desk.following.list_follows(everything=True) == []


def test_unfollow_stops_the_queued_alerts(desk, newsroom):
    planet, _ = newsroom
    follow = desk.following.add("volcano eruption", user_id=5)
    planet.add_item(*VOLCANO, slug="v-un")
    desk.indexing.ingest()
    desk.following.plan()
    assert queued_titles(desk) == [VOLCANO[0]]
    desk.following.remove(follow.id, user_id=5)
    assert desk.following.batches() == [] and desk.following.plan() == 0


def test_preview_shows_what_follows_would_get_without_queuing(desk, newsroom):
    planet, _ = newsroom
    follow = desk.following.add("interest rates inflation")  # a command-line follow: no target
    assert follow.kind == "cli"
    found = desk.following.preview(since="2000-01-01")
    assert [a.article.title for a in found] == ["Central bank raises interest rates to curb inflation"]
    assert desk.following.preview() == []  # nothing arrived after it was made
    planet.add_item("Inflation slows as rates bite", "Inflation slowed as higher interest rates bite.", slug="inf")
    desk.indexing.ingest()
    assert [a.article.title for a in desk.following.preview()] == ["Inflation slows as rates bite"]
    assert desk.following.plan() == 0 and desk.following.batches() == []  # command-line follows are only previewed


def test_a_dm_follow_made_outside_a_server_sees_only_global_feeds(desk):
    follow = desk.following.add("volcano", user_id=3)
    assert following.follow_scope(follow) == Scope(guild_id=None, everything=False)
    assert following.follow_scope(desk.following.add("volcano")) == GLOBAL
