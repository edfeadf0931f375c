"""index.following through the service: digest windows and schedules (due runs, period keys,
claims raced by several OS processes on one archive file), timelines under --as-of, figures."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime, timedelta

import pytest
from support import stories as S

from index import policy
from index.archive import Archive
from index.errors import BadQuery
from index.following import digests as D
from index.following.compare import disagreements, figures
from index.models import Article, DigestSchedule


@pytest.fixture
def server(feed_server):
    return feed_server  # the session's feed server (tests/conftest.py); each test serves its own paths


@pytest.fixture
def room(server, tmp_path) -> S.Newsroom:
    return S.serve(server, f"/{tmp_path.name}")


@pytest.fixture
def filled(desk, room):
    for name, feed in room.feeds.items():
        desk.feeds.add(feed.url, name)
    assert desk.indexing.ingest().articles_new == len(S.ITEMS)
    return desk


def schedule(period="daily", minute=8 * 60, weekday=0, created=0.0) -> DigestSchedule:
    return DigestSchedule(1, 10, 20, period, minute, weekday, None, None, created)


def test_due_runs_and_period_keys():
    wed = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)  # a Wednesday
    run = D.due_run(schedule(), wed)
    assert run.period_key == "2026-12-02" and run.until == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert run.since == run.until - timedelta(days=1)
    early = D.due_run(schedule(), datetime(2026, 12, 2, 7, 59, tzinfo=UTC))
    assert early.period_key == "2026-12-01"
    weekly = D.due_run(schedule("weekly", 8 * 60, 0), wed)
    assert weekly.period_key == "2026-W49" and weekly.until == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert weekly.since == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    # a run whose time came before the schedule was made is not due
    assert D.due_run(schedule(created=wed.timestamp() - 60), wed) is None
    assert D.parse_time("mon 07:15", "weekly") == (435, 0) and D.parse_time("sunday 23:59", "weekly") == (1439, 6)
    for bad in ("25:00", "7:60", "noon"):
        with pytest.raises(BadQuery):
            D.parse_time(bad, "daily")
    with pytest.raises(BadQuery, match="weekday only goes with weekly"):
        D.parse_time("tue 08:00", "daily")
    with pytest.raises(BadQuery, match="unknown period"):
        D.parse_period("monthly")


def _claim(path: str, barrier, results) -> None:
    archive = Archive(path)
    barrier.wait()
    results.put(archive.claim_digest_run(1, "2026-12-02"))
    archive.close()


def test_one_process_of_many_wins_a_period(tmp_path):
    path = str(tmp_path / "archive.db")
    archive = Archive(path)
    assert archive.add_digest_schedule(10, 20, "daily", 480, 0, None, None, 5).id == 1
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(path, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    wins = [results.get(timeout=5) for _ in procs]
    assert sorted(wins) == [False, False, False, True]
    assert archive.claim_digest_run(1, "2026-12-02") is False
    assert archive.claim_digest_run(1, "2026-12-03") is True
    assert archive.remove_digest_schedule(1, 10)
    assert archive.claim_digest_run(1, "2026-12-04") is False  # cancelled


def test_schedules_per_server_survive_a_reopen_and_are_limited(filled, config, make_desk):
    for n in range(policy.DIGEST_SCHEDULES_PER_GUILD):
        filled.digests.schedule(7, 70 + n, "weekly", f"fri {n}:30", topic="storm")
    with pytest.raises(BadQuery, match="already has 5"):
        filled.digests.schedule(7, 99, "daily")
    other = filled.digests.schedule(8, 80, "daily")  # another server has its own limit
    again = make_desk(config)  # another process, after a restart
    mine = again.digests.schedules(S_scope(7))
    assert [s.channel_id for s in mine] == [70, 71, 72, 73, 74]
    assert mine[0].when == "Fridays 00:30 UTC" and mine[0].topic == "storm"
    assert [s.id for s in again.digests.schedules(S_scope(8))] == [other.id]
    with pytest.raises(Exception, match="no digest schedule"):
        again.digests.cancel(other.id, S_scope(7))


def S_scope(guild_id):
    from index.models import Scope

    return Scope(guild_id=guild_id, everything=False)


def test_digest_ranks_by_coverage_and_restricts_by_topic(filled, room):
    digest = filled.digests.make()
    assert [len(s.outlets) for s in digest.stories] == [3, 2, 1]
    first = digest.stories[0]
    assert {a.url for a in first.articles} == {
        room.links[k] for k in ("agents-herald", "agents-courier", "agents-wire")
    }
    assert first.extract.startswith("The federal immigration agency sent 700 agents")
    assert digest.articles == len(S.TODAY)
    weekly = filled.digests.make(period="weekly")
    assert len(weekly.stories) == 4 and "Bridge toll" not in str(digest.to_dict())
    topical = filled.digests.make(period="weekly", topic="bridge toll")
    assert [len(s.articles) for s in topical.stories] == [2]
    old = filled.digests.make(
        since=(room.now - timedelta(days=13)).isoformat(), until=(room.now - timedelta(days=7)).isoformat()
    )
    assert {a.title for s in old.stories for a in s.articles} >= {"Volcano erupts near Grindavik"}
    with pytest.raises(BadQuery, match="since is after until"):
        filled.digests.make(since="2026-11-10", until="2026-11-01")


def test_timeline_as_of_counts_nothing_published_or_archived_later(filled, room):
    before = filled.stories.timeline("volcano", render=False)
    assert before.total == len(S.VOLCANO)
    time.sleep(1.1)
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    time.sleep(1.1)
    # archived after the moment, though published well before it
    room.add(
        S.COURIER,
        "volcano-late",
        "Volcano quiet again",
        "The volcano has been quiet for a week.",
        room.now - timedelta(days=11),
    )
    filled.indexing.ingest()
    now = filled.stories.timeline("volcano", render=False)
    assert now.total == len(S.VOLCANO) + 1
    then = filled.stories.timeline("volcano", as_of=moment, render=False)
    assert then.total == len(S.VOLCANO) and then.counts == before.counts
    assert sum(then.counts[S.COURIER]) == 1 and sum(now.counts[S.COURIER]) == 2
    spans = filled.stories.timeline("volcano", since="2024-01-01", until=room.now.isoformat(), render=False)
    assert spans.bucket == "month" and spans.total == len(S.VOLCANO) + 1
    with pytest.raises(BadQuery):
        filled.stories.timeline("   ")


def article(outlet: str, text: str, ts: float = 0.0) -> Article:
    return Article(1, "g", "u", "", outlet, (), None, ts, "", "", None, "", text, "")


def test_figures_attach_numbers_to_their_nouns_and_skip_years_and_dates():
    found = {
        (f.value, f.unit)
        for f in figures(
            article(
                "A",
                "In 2024, about 1,200 troops and six hundred police left on 3 March. "
                "The $1.5 billion plan covers 12% of costs.",
            )
        )
    }
    assert found == {(1200.0, "troops"), (600.0, "police left"), (1.5e9, "$"), (12.0, "percent")}
    claims = disagreements(
        [
            article("A", "Officials said 700 agents arrived.", 1),
            article("B", "Some 600 federal agents arrived.", 2),
            article("C", "The 700 agents stayed.", 3),
            article("A", "They met 40 protesters.", 4),
            article("B", "They met 40 protesters.", 5),
        ]
    )
    assert [(unit, [(c.article.outlet, c.value) for c in cs]) for unit, cs in claims] == [
        ("agents", [("A", 700.0), ("B", 600.0), ("C", 700.0)])
    ]


def test_a_server_digest_sees_its_own_feeds_and_the_global_ones_only(desk, room):
    for name, feed in room.feeds.items():
        desk.feeds.add(feed.url, name, guild_id=1 if name == S.WIRE else None)
    desk.indexing.ingest()
    own = desk.digests.make(scope=S_scope(1))
    other = desk.digests.make(scope=S_scope(2))
    assert [len(s.outlets) for s in own.stories] == [3, 2, 1]
    assert [s.outlets for s in other.stories][:2] == [[S.COURIER, S.HERALD], [S.HERALD]]
    assert S.WIRE not in str(other.to_dict())
    assert desk.stories.timeline("volcano", scope=S_scope(2), render=False).counts.get(S.WIRE) is None
    assert sum(desk.stories.timeline("volcano", scope=S_scope(1), render=False).counts[S.WIRE]) == 2
