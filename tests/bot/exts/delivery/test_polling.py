"""Background polling: auto-posting exactly once, failing-feed notices, broken channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord
import pytest
from support.newsroom import METRO

from bot import create_bot
from bot.delivery import visible
from bot.exts.delivery import autopost


def interval(world) -> float:
    return world.bot.config.feeds.poll_interval_minutes * 60


async def poll(world, desk, *feeds_due) -> None:
    """Make the given feeds due (next_poll_at is real time) and let the virtual clock reach the next poll."""
    for feed in feeds_due:
        desk.archive.update_feed(feed.id, next_poll_at=0)
    await world.env.advance_time(interval(world) + 1)


def bot_messages(channel, bot_id):
    return [m for m in channel.history() if m.author.id == bot_id]


async def test_new_article_is_posted_once_even_across_restarts(world, desk, feeds, config):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    feed = desk.feeds.find(metro.url)
    assert world.news.history() == []  # the backlog is not posted

    link = metro.add_item(
        "@everyone Tram strike ends after <@&42> agreement",
        "The tram strike ended after unions and the city reached an agreement on wages. "
        "Trams will run on the normal timetable from Monday morning, the operator said.",
    )
    await poll(world, desk, feed)
    posted = world.news.history()
    assert len(posted) == 1
    message = posted[0]
    assert message.author.id == world.bot.user.id
    embed = message.embeds[0]
    assert embed.url == link and desk.reading.article(link).url == link
    assert "Tram strike ends" in embed.title and "@\u200beveryone" in embed.title and "<@&\u200b42>" in embed.title
    assert len(embed.description) <= 300 and "Metro News" in embed.footer.text
    assert message.mention_everyone is False
    post = desk.archive.db.execute("SELECT channel_id, feed_id, message_id FROM posts").fetchall()
    assert post == [(world.news.id, feed.id, message.id)]
    request = [r for r in world.env.http_requests if r.path == f"/channels/{world.news.id}/messages"]
    assert request and all(r.json["allowed_mentions"] == {"parse": []} for r in request)

    await poll(world, desk, feed)  # nothing new
    assert len(world.news.history()) == 1

    # restart with the same data dir and desk: the first poll runs at once and posts nothing again
    desk.archive.update_feed(feed.id, next_poll_at=0)
    await world.env.restart_bot(create_bot(config, desk))
    assert world.bot.get_cog("Polling").runs == 1
    assert len(world.news.history()) == 1

    metro.add_item(
        "Night buses return to the city centre",
        "Night buses return to the city centre next month after a two-year pause, the transport "
        "authority announced, with six routes running every half hour.",
        slug="night-buses",
    )
    await poll(world, desk, feed)
    titles = [m.embeds[0].title for m in world.news.history()]
    assert len(titles) == 2 and titles[1] == "Night buses return to the city centre"


async def test_a_feeds_first_fetch_is_backlog_and_not_posted(world, desk, feeds):
    fresh = feeds.new("fresh", "Fresh Times")
    fresh.add_item(
        "Backlog story from an hour ago",
        "This story was already in the feed when it was added, an hour before the first poll, "
        "so it is backlog and must not be posted.",
        date=datetime.now(UTC) - timedelta(hours=1),
    )
    feed, _ = desk.feeds.add(
        fresh.url, "Fresh", guild_id=world.guild.id, channel_id=world.news.id
    )  # e.g. an OPML import
    await poll(world, desk, feed)
    assert desk.feeds.find(fresh.url).articles == 1
    assert world.news.history() == []
    fresh.add_item(
        "First real news",
        "Now a new story appears after the first fetch, and it is posted to the "
        "channel exactly once as the feed's first auto-post.",
        slug="first-news",
    )
    await poll(world, desk, feed)
    assert [m.embeds[0].title for m in world.news.history()] == ["First real news"]


async def test_an_article_in_two_feeds_of_one_channel_is_posted_once(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    city = feeds.new("city", "City Wire", METRO[:1])
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    await world.admin.slash(world.general, "feeds add", url=city.url, channel=world.news)
    a, b = desk.feeds.find(metro.url), desk.feeds.find(city.url)
    for feed in (metro, city):  # the same entry (same guid and link) in both feeds
        feed.add_item(
            "Ferry service resumes after storm",
            "The ferry service between the islands resumed after the storm passed, with extra "
            "sailings to clear the backlog of passengers and freight.",
            slug="ferry",
        )
        feed.items[-1]["guid"] = "shared-guid-ferry"
        feed.items[-1]["link"] = feeds.server.base + "/shared/ferry.html"
        feed.publish()
    await poll(world, desk, a, b)
    posted = bot_messages(world.news, world.bot.user.id)
    assert [m.embeds[0].title for m in posted] == ["Ferry service resumes after storm"]


async def test_failing_feed_is_reported_once_and_again_on_recovery(world, desk, feeds):
    world.set_discord(admin_channel=world.admin_log.id)
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url)
    feed = desk.feeds.find(metro.url)

    metro.fail(500)
    await poll(world, desk, feed)
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 1 and "Metro News" in notices[0] and "is failing" in notices[0] and "HTTP 500" in notices[0]
    await poll(world, desk, feed)
    assert len(world.admin_log.history()) == 1  # still failing: no repeat

    metro.publish()
    await poll(world, desk, feed)
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 2 and "working again" in notices[1]


async def test_missing_channel_or_permission_is_reported_once_without_crashing(world, desk, feeds):
    world.set_discord(admin_channel=world.admin_log.id)
    bot_role = world.guild.roles[world.bot.user.name]  # the bot's managed role
    closed = world.guild.create_text_channel(
        "closed", overwrites={bot_role: discord.PermissionOverwrite(send_messages=False)}
    )
    metro = feeds.new("metro", "Metro News", METRO)
    gone = feeds.new("gone", "Gone Gazette", METRO[1:])
    added = await world.admin.slash(world.general, "feeds add", url=metro.url, channel=closed)
    assert f"I can't post embeds in {closed.mention}" in added.response.content
    desk.feeds.add(gone.url, "Gone", guild_id=world.guild.id, channel_id=999_999_999_999_999_999)
    desk.indexing.ingest(feed=gone.url)  # its backlog
    a, b = desk.feeds.find(metro.url), desk.feeds.find(gone.url)

    for round_ in range(2):
        for feed in (metro, gone):
            feed.add_item(
                f"Update {round_} from {feed.title}",
                f"Round {round_}: the council published its weekly update on roads, parks and the "
                "library opening hours for residents.",
                slug=f"update-{round_}",
            )
        await poll(world, desk, a, b)

    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 2, notices
    assert any(f"<#{closed.id}>" in n and "missing" in n for n in notices)
    assert any("999999999999999999" in n and "no longer exists" in n for n in notices)
    assert closed.history() == []
    polling = world.bot.get_cog("Polling")
    assert polling.loop.is_running() and polling.runs >= 3


async def test_a_failed_send_does_not_stop_the_loop(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    feed = desk.feeds.find(metro.url)
    world.env.inject_error("POST", f"/channels/{world.news.id}/messages", status=500, code=0, times=1)
    metro.add_item(
        "Library extends opening hours",
        "The central library extends its opening hours to ten in the evening on weekdays, the city "
        "said, after a survey of students and commuters.",
        slug="library",
    )
    await poll(world, desk, feed)
    assert world.news.history() == []  # claimed, the send failed: retried later with backoff (test_delivery.py)
    metro.add_item(
        "Park renovation finished",
        "The renovation of the old city park is finished, with new playgrounds, a pond and more "
        "than two hundred new trees planted by volunteers.",
        slug="park",
    )
    await poll(world, desk, feed)
    assert [m.embeds[0].title for m in world.news.history()] == ["Park renovation finished"]


@pytest.mark.parametrize("poll_enabled", [False])
async def test_no_polling_when_disabled(world, config, desk, poll_enabled):
    await world.env.restart_bot(create_bot(config, desk, poll=poll_enabled))
    cog = world.bot.get_cog("Polling")
    autopost = world.bot.get_cog("AutoPost")
    assert cog is not None and not cog.loop.is_running()
    assert autopost.loop.is_running()  # posting does not depend on polling (a worker may ingest)
    await world.env.advance_time(interval(world) * 3)
    assert cog.runs == 0 and autopost.post_passes > 1


async def test_articles_ingested_elsewhere_are_posted_by_a_bot_that_does_not_poll(world, config, desk, feeds):
    await world.env.restart_bot(create_bot(config, desk, poll=False))
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    link = metro.add_item(
        "Tram strike ends",
        "The tram strike ended after unions and the city reached an "
        "agreement on wages, and trams run on the normal timetable again.",
        slug="tram",
    )
    desk.indexing.ingest(feed=metro.url)  # e.g. `newsdesk worker` in another process
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert [m.embeds[0].url for m in world.news.history()] == [link]
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 5)
    assert len(world.news.history()) == 1


def burst(metro, n: int) -> list[str]:
    return [
        metro.add_item(
            f"Council update {i}",
            f"Update {i}: the council published its weekly notes on roads, "
            "parks and the library opening hours for residents.",
            slug=f"update-{i}",
        )
        for i in range(n)
    ]


async def test_a_burst_of_twenty_is_posted_in_full_over_passes_by_default(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    feed = desk.feeds.find(metro.url)
    links = burst(metro, 20)
    await poll(world, desk, feed)
    first = world.news.history()
    assert len(first) == autopost.MAX_POSTS_PER_CHANNEL and all(m.embeds for m in first)  # paced, not dropped
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    urls = [m.embeds[0].url for m in world.news.history() if m.embeds]
    assert sorted(urls) == sorted(links)  # every one of the 20, once, no summary line
    assert len(world.news.history()) == 20
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 20


async def test_a_summary_in_place_of_posts_is_a_limit_the_admin_chooses_and_why_tells(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    set_ = await world.admin.slash(world.general, "feeds limits", channel=world.news, summarise_over=5)
    assert "past 5 new articles in one pass, a one-line summary" in set_.response.content
    feed = desk.feeds.find(metro.url)
    links = burst(metro, 8)
    await poll(world, desk, feed)
    history = world.news.history()
    assert len([m for m in history if m.embeds]) == 5
    assert [visible(m.content) for m in history if not m.embeds] == ["…and 3 more new articles (see `/latest`)."]
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 6  # the summarised ones are never posted later
    posted = {m.embeds[0].url for m in world.news.history() if m.embeds}
    (left_out, *_) = [link for link in links if link not in posted]
    why = await world.admin.slash(world.general, "feeds why", article=left_out)
    assert "summarised in one line, as /feeds limits set" in why.response.content


async def test_feed_health_is_announced_once_when_a_worker_polls_and_no_bot_does(world, config, desk, feeds):
    world.set_discord(admin_channel=world.admin_log.id)
    await world.env.restart_bot(create_bot(config, desk, poll=False))
    world.set_discord(admin_channel=world.admin_log.id)
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert world.admin_log.history() == []  # a healthy feed: nothing to say

    metro.fail(500)
    desk.indexing.ingest(feed=metro.url)  # `newsdesk worker` in another process
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 1 and "Metro News" in notices[0] and "is failing" in notices[0] and "HTTP 500" in notices[0]

    # another bot process (here: a restarted bot) sees the same state and says nothing more
    await world.env.restart_bot(create_bot(config, desk, poll=False))
    world.set_discord(admin_channel=world.admin_log.id)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.admin_log.history()) == 1

    metro.publish()
    desk.indexing.ingest(feed=metro.url)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 2 and "working again" in notices[1]


async def test_a_channel_problem_notice_whose_send_failed_is_retried_and_arrives_once(world, desk, feeds):
    """The "can't post to this channel" notice goes through the outbox: a send Discord refused
    is retried, and the notice arrives once (sent directly, it was lost)."""
    world.set_discord(admin_channel=world.admin_log.id)
    bot_role = world.guild.roles[world.bot.user.name]
    closed = world.guild.create_text_channel(
        "closed", overwrites={bot_role: discord.PermissionOverwrite(send_messages=False)}
    )
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=closed)
    feed = desk.feeds.find(metro.url)
    world.env.inject_error("POST", f"/channels/{world.admin_log.id}/messages", status=503, code=0, times=1)
    metro.add_item(
        "Library extends opening hours",
        "The central library extends its opening hours to ten in the evening on weekdays, the city "
        "said, after a survey of students and commuters.",
        slug="library",
    )
    await poll(world, desk, feed)
    assert world.admin_log.history() == []  # the first send failed
    for _ in range(3):
        desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0")  # backoff runs on the real clock
        await poll(world, desk, feed)
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 1 and f"<#{closed.id}>" in notices[0] and "missing" in notices[0], notices
    assert closed.history() == []
