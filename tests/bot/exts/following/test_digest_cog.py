"""/digest, /timeline and /compare through the unmodified bot in simcord, over a real
archive ingested from three outlets served on 127.0.0.1 that report the same stories on different
days with different figures."""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import simcord
from support import stories as S
from support.discord import message_requests

from bot import create_bot
from bot.errors import NotAdmin
from index.config import DiscordConfig
from index.errors import BadQuery, NotFound
from index.following import timeline as timelines
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

# a chart (matplotlib's first import and font cache) or a digest may take seconds on a loaded machine
pytestmark = pytest.mark.simcord(settle_timeout=60)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LINK = re.compile(r"\]\(<?(http[^)>]+)>?\)")

# the following-stories archive: three outlets reporting the same stories with different figures

_ids = itertools.count(1)


@pytest.fixture
def discord_config() -> DiscordConfig:
    return DiscordConfig(search_cooldown_seconds=0)  # several commands in a row per test


@pytest.fixture
def newsroom(feed_server) -> S.Newsroom:
    return S.serve(feed_server, f"/following{next(_ids)}")


@pytest.fixture
def desk(config, newsroom):
    desk = Newsdesk(config, embedder=HashEmbedder())
    for name, feed in newsroom.feeds.items():
        desk.feeds.add(feed.url, name)
    report = desk.indexing.ingest()
    assert report.feeds_failed == 0 and report.articles_new == len(S.ITEMS), report.to_dict()
    yield desk
    desk.close()


def digests_cog(bot):
    return bot.get_cog("Digests")


def assert_never_pings(env) -> None:
    for _, data in message_requests(env):
        allowed = data.get("allowed_mentions")
        assert allowed is not None and allowed.get("parse") == [], data
        assert not allowed.get("roles") and not allowed.get("users"), data


def story_titles(embed) -> list[str]:
    return re.findall(r"\*\*\d+\.\*\* \[([^\]]+)\]", embed.description)


async def test_a_scheduled_digest_is_posted_once_across_passes_restarts_and_processes(world, desk, newsroom, config):
    now = datetime.now(UTC)
    at = (now - timedelta(minutes=2)).strftime("%H:%M")
    made = await world.admin.slash(world.general, "digest schedule", channel=world.news, period="daily", time=at)
    assert made.ephemeral and "Scheduled digest `#1`" in made.response.content
    cog = digests_cog(world.bot)
    assert await cog.post_due() == 0  # today's run time came before the schedule was made
    assert world.news.history() == []

    # as if the schedule had been made yesterday: today's run is due
    with sqlite3.connect(config.archive_path) as db:
        db.execute("UPDATE digest_schedules SET created_ts = created_ts - 86400")
    assert await cog.post_due() == 1
    assert await cog.post_due() == 0  # a second pass
    posted = world.news.history()
    assert len(posted) == 1
    embed = posted[0].embeds[0]
    assert embed.title.startswith("Daily digest")
    # the day's stories, most outlets first, each with its outlets' links
    assert story_titles(embed) == [
        "Immigration agency sends 700 agents to Minneapolis",
        "Coastal flooding after overnight storm surge",
        "Central library reopens after renovation",
    ]
    links = LINK.findall(embed.description)
    assert set(links) >= {newsroom.links[k] for k in S.TODAY}
    assert all(any(link == newsroom.links[k] for k in S.TODAY) for link in links)
    assert "3 outlets, 3 articles" in embed.description and "2 outlets, 2 articles" in embed.description
    assert "Bridge toll" not in embed.description and "olcano" not in embed.description

    # a restarted bot with its own Newsdesk (its own connections) on the same archive posts nothing
    second = Newsdesk(config, embedder=HashEmbedder())
    try:
        await world.env.restart_bot(create_bot(config, second))
        assert await digests_cog(world.bot).post_due() == 0
        assert await digests_cog(world.bot).post_due(now=datetime.now(UTC).timestamp() + 3600) == 0
    finally:
        second.close()
    assert len(world.news.history()) == 1
    listing = await world.member.slash(world.general, "digest list")
    assert listing.ephemeral and "`#1`" in listing.response.content and "posted" in listing.response.content
    assert_never_pings(world.env)


async def test_digest_now_in_the_channel_or_privately_weekly_and_on_a_topic(world, desk):
    daily = await world.member.slash(world.general, "digest now")
    assert not daily.ephemeral
    embed = daily.followups[0].embeds[0] if daily.followups else daily.response.embeds[0]
    assert story_titles(embed)[0] == "Immigration agency sends 700 agents to Minneapolis"
    assert len(story_titles(embed)) == 3

    weekly = await world.member.slash(world.general, "digest now", period="weekly", private=True)
    assert weekly.ephemeral
    embed = (weekly.followups or [weekly.response])[0].embeds[0]
    titles = story_titles(embed)
    assert titles[0] == "Immigration agency sends 700 agents to Minneapolis"
    assert set(titles[1:3]) == {
        "Coastal flooding after overnight storm surge",
        "Harbour bridge toll to rise for deck repairs",
    }
    assert titles[3] == "Central library reopens after renovation"

    topical = await world.member.slash(world.general, "digest now", topic="storm flooding", period="weekly")
    embed = (topical.followups or [topical.response])[0].embeds[0]
    assert story_titles(embed) == ["Coastal flooding after overnight storm surge"]
    assert_never_pings(world.env)


async def test_digest_now_takes_a_past_window_or_a_named_week(world, desk):
    today = datetime.now(UTC).date()
    past = await world.member.slash(
        world.general,
        "digest now",
        since=(today - timedelta(days=13)).isoformat(),
        until=(today - timedelta(days=7)).isoformat(),
    )
    embed = (past.followups or [past.response])[0].embeds[0]
    titles = story_titles(embed)
    assert titles and any("Grindavik" in t or "Volcan" in t for t in titles), titles  # that window's eruption
    assert "Immigration agency sends 700 agents to Minneapolis" not in titles  # this week's
    named = (today - timedelta(days=10)).isoformat()
    week = await world.member.slash(world.general, "digest now", since=f"week of {named}")
    embed = (week.followups or [week.response])[0].embeds[0]
    monday = date.fromisoformat(named) - timedelta(days=date.fromisoformat(named).weekday())
    assert f"{monday:%Y-%m-%d}" in embed.title or f"{monday:%d %b}".lstrip("0") in embed.title, embed.title
    assert story_titles(embed)  # that week's coverage, not "No stories in this period"
    wrong = await world.member.slash(world.general, "digest now", since="2026-11-10", until="2026-11-01")
    assert wrong.ephemeral and "since is after until" in wrong.response.content
    simcord.assert_error(world.env, BadQuery)


@pytest.mark.parametrize(
    ("command", "options", "error"),
    [
        ("digest now", {"period": "fortnightly"}, BadQuery),
        ("digest now", {"topic": "   "}, BadQuery),
        ("digest schedule", {"period": "hourly"}, BadQuery),
        ("digest schedule", {"period": "daily", "time": "25:00"}, BadQuery),
        ("digest cancel", {"schedule": "99"}, NotFound),
        ("timeline", {"topic": "volcano", "since": "not a date at all"}, BadQuery),
        ("timeline", {"topic": "volcano", "since": "2026-11-10", "until": "2026-11-01"}, BadQuery),
        ("timeline", {"topic": "?!"}, BadQuery),
        ("compare", {"story": "987654"}, NotFound),
    ],
)
async def test_bad_arguments_get_an_ephemeral_error(world, desk, command, options, error):
    if command == "digest schedule":
        options = {"channel": world.news, **options}
    result = await world.admin.slash(world.general, command, **options)
    assert result.ephemeral, result
    assert result.response.content.startswith("⚠️")
    assert "Traceback" not in result.response.content
    simcord.assert_error(world.env, error)
    assert world.news.history() == []


async def test_scheduling_is_for_admins_and_limited_per_server(world, desk):
    refused = await world.member.slash(world.general, "digest schedule", channel=world.news, period="daily")
    assert refused.ephemeral and "for server admins" in refused.response.content
    simcord.assert_error(world.env, NotAdmin)
    for n in range(5):
        ok = await world.admin.slash(
            world.general, "digest schedule", channel=world.news, period="weekly", time=f"mon 0{n}:00"
        )
        assert ok.ephemeral and f"`#{n + 1}`" in ok.response.content
    over = await world.admin.slash(world.general, "digest schedule", channel=world.news, period="daily")
    assert over.ephemeral and "already has 5 digest schedules" in over.response.content
    simcord.assert_error(world.env, BadQuery)
    refused = await world.member.slash(world.general, "digest cancel", schedule="1")
    assert refused.ephemeral and "for server admins" in refused.response.content
    simcord.assert_error(world.env, NotAdmin)
    cancelled = await world.admin.slash(world.general, "digest cancel", schedule="#1")
    assert cancelled.ephemeral and "Cancelled digest `#1`" in cancelled.response.content
    listing = await world.admin.slash(world.general, "digest list")
    assert "`#1`" not in listing.response.content and "`#2`" in listing.response.content


def archive_counts(config, word: str) -> dict[str, dict[str, int]]:
    """Per outlet and day, the archive's articles mentioning the word (independently of the service)."""
    with sqlite3.connect(config.archive_path) as db:
        rows = db.execute(
            """SELECT outlet, date(published_ts, 'unixepoch'), count(*) FROM articles
               WHERE lower(title || ' ' || text) LIKE ? GROUP BY 1, 2""",
            [f"%{word}%"],
        ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for outlet, day, n in rows:
        out.setdefault(outlet, {})[day] = n
    return out


async def test_timeline_sends_a_png_chart_and_a_cited_chronology_matching_the_archive(
    world, desk, newsroom, config, monkeypatch
):
    threads = []
    draw = timelines.render_png

    def recording(timeline):
        threads.append(threading.current_thread() is threading.main_thread())
        return draw(timeline)

    monkeypatch.setattr(timelines, "render_png", recording)
    result = await world.member.slash(world.general, "timeline", topic="volcano")
    assert threads == [False]  # drawn in a worker thread, never on the event loop's
    message = (result.followups or [result.response])[0]
    assert not result.ephemeral
    attachment = message.attachments[0]
    assert attachment.filename == "timeline.png"
    data = await attachment.read()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 800 and height >= 400

    expected = archive_counts(config, "volcano")
    assert sum(sum(d.values()) for d in expected.values()) == len(S.VOLCANO)
    # the numbers in the message are the archive's
    text = message.content
    for outlet, days in expected.items():
        assert f"{outlet} {sum(days.values())}" in text
    assert "Volcanic ash" not in text
    links = LINK.findall(text)
    assert links and set(links) <= {newsroom.links[k] for k in S.VOLCANO}
    assert newsroom.links["volcano-1"] in links and newsroom.links["volcano-2"] in links  # the first, the peak
    assert "peak: 3 articles" in text

    # the series the service returns, per outlet and day, are the archive's counts
    timeline = desk.stories.timeline("volcano", render=False)
    assert timeline.bucket == "day"
    got = {
        outlet: {day: n for day, n in zip(timeline.buckets, counts, strict=True) if n}
        for outlet, counts in timeline.counts.items()
    }
    assert got == expected
    assert_never_pings(world.env)


async def test_compare_names_the_first_outlet_and_quotes_the_differing_figures(world, desk, newsroom):
    result = await world.member.slash(world.general, "compare", story="immigration agents sent to Minneapolis")
    embed = (result.followups or [result.response])[0].embeds[0]
    assert f"**First reported by {S.HERALD}**" in embed.description
    for key in ("agents-herald", "agents-courier", "agents-wire"):
        assert newsroom.links[key] in embed.description
    field = next(f for f in embed.fields if f.name.startswith("Figures differ"))
    assert "agents" in field.name
    assert "**700** — Harbour Herald" in field.value and "**600** — Coast Courier" in field.value
    assert "> The federal immigration agency sent 700 agents to Minneapolis" in field.value
    assert "> Some 600 agents of the federal immigration agency arrived in Minneapolis" in field.value

    # the same story from an article's URL; a story whose outlets agree has no disagreement
    by_url = await world.member.slash(world.general, "compare", story=newsroom.links["agents-wire"])
    assert f"**First reported by {S.HERALD}**" in (by_url.followups or [by_url.response])[0].embeds[0].description
    storm = await world.member.slash(world.general, "compare", story=newsroom.links["storm-herald"])
    embed = (storm.followups or [storm.response])[0].embeds[0]
    assert f"**First reported by {S.WIRE}**" in embed.description
    assert [f.value for f in embed.fields] == ["No figure differs between the outlets' articles."]
    assert_never_pings(world.env)
