"""Delivery: filters and their test, the delivery log (/feeds why), retries with
backoff, flood control — driven through the unmodified bot in simcord over a real archive and
feeds served on 127.0.0.1 that gain new items."""

from __future__ import annotations

import socket
import time
from datetime import UTC

import discord
import simcord
from support.newsroom import METRO

from bot import create_bot
from bot.delivery import payload_of, visible
from bot.errors import NotAdmin
from bot.exts.delivery import autopost
from index.delivery.outbox import Outbox
from index.errors import BadQuery

DEAD_PID = 2**22 + 12_345  # above Linux's largest pid: no such process


def interval(world) -> float:
    return world.bot.config.feeds.poll_interval_minutes * 60


async def poll(world, desk, *feeds_due) -> None:
    for feed in feeds_due:
        desk.archive.update_feed(feed.id, next_poll_at=0)
    await world.env.advance_time(interval(world) + 1)


def make_due(desk, article_id: int) -> None:
    """A retry's backoff runs on the real clock: make it due now (the log and the outbox)."""
    desk.archive.db.execute("UPDATE delivery_log SET next_try_at = 0 WHERE article_id = ?", [article_id])
    desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0 WHERE key LIKE ?", [f"post:%:{article_id}"])


def titles(channel) -> list[str]:
    return [m.embeds[0].title for m in channel.history() if m.embeds]


STORY = (
    "the city said on Monday, after a long week of talks with unions, commuters and the shop owners "
    "of the old town about the plans for next year."
)


async def add_metro(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    return metro, desk.feeds.find(metro.url)


async def test_an_include_filter_passes_only_matching_articles_and_why_explains(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    added = await world.admin.slash(
        world.general, "feeds filter add", feed=metro.url, action="include", pattern="tram, ferry"
    )
    assert added.ephemeral and "include any words `tram, ferry`" in added.response.content
    excluded = await world.admin.slash(
        world.general,
        "feeds filter add",
        feed=metro.url,
        action="exclude",
        pattern=r"strike\s+ends",
        regex=True,
        field="title",
    )
    assert excluded.ephemeral and "exclude title regex" in excluded.response.content

    metro.add_item("TRAM timetable changes on Sunday", "Trams run less often on Sunday, " + STORY, slug="tram")
    harbour = metro.add_item(
        "Harbour festival draws crowds", "The harbour festival drew crowds, " + STORY, slug="harbour"
    )
    strike = metro.add_item("Tram strike ends", "The tram strike ended, " + STORY, slug="strike")
    metro.add_item("Ferry to the islands runs again", "The ferry runs again, " + STORY, slug="ferry")
    metro.add_item("Night market opens", "No trams here: the night market opens downtown, " + STORY, slug="market")
    await poll(world, desk, feed)
    assert titles(world.news) == ["TRAM timetable changes on Sunday", "Ferry to the islands runs again"]

    why = await world.admin.slash(world.general, "feeds why", article=harbour)
    assert why.ephemeral
    assert f"<#{world.news.id}>" in why.response.content and "**filtered**" in why.response.content
    assert "matched no include filter" in why.response.content
    why = await world.admin.slash(world.general, "feeds why", article=strike)
    assert "**filtered**" in why.response.content and "excluded by filter" in why.response.content
    posted_id = desk.reading.article(metro.items[2]["link"]).id
    why = await world.admin.slash(world.general, "feeds why", article=str(posted_id))
    assert "**posted**" in why.response.content and str(world.news.history()[0].id) in why.response.content

    # nothing is posted later or twice: the rejected ones are settled
    await poll(world, desk, feed)
    assert len(world.news.history()) == 2


async def test_filters_are_for_admins_only_even_when_the_command_is_opened(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    feeds_command = next(c for c in world.bot.synced_commands if c.name == "feeds")
    world.guild.set_command_permissions(feeds_command, {world.member: True})
    refused = await world.member.slash(
        world.general, "feeds filter add", feed=metro.url, action="exclude", pattern="tram"
    )
    assert refused.ephemeral and "for server admins" in refused.response.content
    simcord.assert_error(world.env, NotAdmin)
    assert desk.archive.feed_filters(feed.id) == []
    why = await world.member.slash(world.general, "feeds why", article="1")
    assert why.ephemeral and "for server admins" in why.response.content
    simcord.assert_error(world.env, NotAdmin)


async def test_a_bad_regex_is_an_ephemeral_error_naming_it(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    result = await world.admin.slash(
        world.general, "feeds filter add", feed=metro.url, action="include", pattern="tram(", regex=True
    )
    assert (
        result.ephemeral and "tram(" in result.response.content and "bad regular expression" in result.response.content
    )
    simcord.assert_error(world.env, BadQuery)
    assert desk.archive.feed_filters(feed.id) == []


async def test_filter_test_shows_which_recent_articles_pass_and_why_not(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    await world.admin.slash(
        world.general, "feeds filter add", feed=metro.url, action="exclude", pattern="bridge", field="title"
    )
    listing = await world.admin.slash(world.general, "feeds filter list", feed=metro.url)
    assert "exclude title words `bridge`" in listing.response.embeds[0].description
    result = await world.admin.slash(world.general, "feeds filter test", feed=metro.url)
    embed = result.response.embeds[0]
    assert result.ephemeral and embed.footer.text == "1 of the last 2 articles would be posted"
    lines = embed.description.splitlines()
    assert any(line.startswith("✅") and "Metro line extension" in line for line in lines)
    assert any(line.startswith("❌") and "Harbour bridge closed" in line for line in lines)
    assert "excluded by filter" in embed.description

    rule = desk.archive.feed_filters(feed.id)[0]
    removed = await world.admin.slash(world.general, "feeds filter remove", feed=metro.url, filter=str(rule.id))
    assert removed.ephemeral and "Removed filter" in removed.response.content
    again = await world.admin.slash(world.general, "feeds filter test", feed=metro.url)
    assert again.response.embeds[0].footer.text == "2 of the last 2 articles would be posted"


async def test_a_negated_case_sensitive_filter(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    # exclude articles WITHOUT "EU" (case-sensitive): only those naming the EU are posted
    await world.admin.slash(
        world.general,
        "feeds filter add",
        feed=metro.url,
        action="exclude",
        pattern="EU",
        negate=True,
        case_sensitive=True,
    )
    metro.add_item("EU ministers meet on transport", "Ministers met in Brussels, " + STORY, slug="eu")
    metro.add_item("Queue at the museum", "A queue formed at the museum, eu said nobody, " + STORY, slug="queue")
    await poll(world, desk, feed)
    assert titles(world.news) == ["EU ministers meet on transport"]


async def test_a_failed_post_is_retried_with_backoff_reported_once_and_never_doubled(world, desk, feeds, config):
    world.set_discord(admin_channel=world.admin_log.id)
    metro, feed = await add_metro(world, desk, feeds)
    world.env.inject_error("POST", f"/channels/{world.news.id}/messages", status=500, code=0, times=2)
    link = metro.add_item("Library extends opening hours", "The library opens longer, " + STORY, slug="library")
    await poll(world, desk, feed)
    assert world.news.history() == []
    why = await world.admin.slash(world.general, "feeds why", article=link)
    assert "**retry**" in why.response.content and "attempt 1 failed: posting failed (500" in why.response.content

    article_id = desk.reading.article(link).id
    row = desk.archive.db.execute(
        "SELECT attempts, next_try_at FROM delivery_log WHERE article_id = ?", [article_id]
    ).fetchone()
    assert row[0] == 1 and row[1] > 0
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)  # not due yet (backoff on the real clock)
    assert world.news.history() == []

    await world.env.restart_bot(create_bot(config, desk))  # the problem was reported before the restart
    world.set_discord(admin_channel=world.admin_log.id)
    make_due(desk, article_id)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)  # the second attempt fails too
    assert world.news.history() == []
    assert (
        desk.archive.db.execute("SELECT attempts FROM delivery_log WHERE article_id = ?", [article_id]).fetchone()[0]
        == 2
    )
    make_due(desk, article_id)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert titles(world.news) == ["Library extends opening hours"]
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 1 and "posting failed (500" in notices[0]

    # a restart (and more passes) never posts it again
    await world.env.restart_bot(create_bot(config, desk))
    make_due(desk, article_id)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert titles(world.news) == ["Library extends opening hours"]
    why = await world.admin.slash(world.general, "feeds why", article=link)
    assert "**posted**" in why.response.content


async def test_a_post_that_keeps_failing_is_given_up_after_the_maximum_attempts(world, desk, feeds):
    from index.delivery import outbox as service  # the outbox gives up after MAX_ATTEMPTS

    metro, feed = await add_metro(world, desk, feeds)
    world.env.inject_error("POST", f"/channels/{world.news.id}/messages", status=503, code=0, times=50)
    link = metro.add_item("Bridge works delayed", "Works on the bridge are delayed, " + STORY, slug="bridge")
    await poll(world, desk, feed)
    article_id = desk.reading.article(link).id
    for _ in range(service.MAX_ATTEMPTS + 2):
        make_due(desk, article_id)
        await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    state, attempts = desk.archive.db.execute(
        "SELECT state, attempts FROM delivery_log WHERE article_id = ?", [article_id]
    ).fetchone()
    assert (state, attempts) == ("failed", service.MAX_ATTEMPTS)
    why = await world.admin.slash(world.general, "feeds why", article=link)
    assert "**failed**" in why.response.content and "gave up after 5 attempts" in why.response.content


async def test_a_claim_left_unsent_by_a_dead_process_is_sent_after_a_restart(world, desk, feeds, config):
    metro, feed = await add_metro(world, desk, feeds)
    link = metro.add_item("Ferry timetable for winter", "The winter timetable, " + STORY, slug="winter")
    desk.indexing.ingest(feed=metro.url)
    article_id = desk.reading.article(link).id
    dead = Outbox(desk.archive, owner=f"{socket.gethostname()}:{DEAD_PID}:gone")
    assert dead.queue_post(world.news.id, article_id, feed.id, payload_of({"content": "winter"}))
    assert dead.take(f"post:{world.news.id}:{article_id}") is not None  # a process took it, then died
    await world.env.restart_bot(create_bot(config, desk))
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert [visible(m.content) for m in world.news.history()] == ["winter"]  # looked for, not found: sent
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 1


async def test_a_rate_limit_holds_back_counts_and_releases_later(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    set_ = await world.admin.slash(world.general, "feeds limits", channel=world.news, per_window=2, window_minutes=60)
    assert (
        set_.ephemeral
        and "at most 2 posts per 60 min" in set_.response.content
        and "Held back now: 0" in set_.response.content
    )
    links = [metro.add_item(f"Council note {i}", f"Note {i}: " + STORY, slug=f"note-{i}") for i in range(4)]
    await poll(world, desk, feed)
    assert titles(world.news) == ["Council note 0", "Council note 1"]
    shown = await world.admin.slash(world.general, "feeds limits", channel=world.news)
    assert "Held back now: 2" in shown.response.content
    why = await world.admin.slash(world.general, "feeds why", article=links[3])
    assert "**held**" in why.response.content and "rate limit (2 posts per 60 min)" in why.response.content
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)  # still within the window
    assert len(world.news.history()) == 2

    # the window passes (the limit counts real time): the held articles go out, oldest first, once
    desk.archive.db.execute("UPDATE delivery_log SET updated_at = updated_at - 3601 WHERE state = 'posted'")
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert titles(world.news) == [f"Council note {i}" for i in range(4)]
    shown = await world.admin.slash(world.general, "feeds limits", channel=world.news)
    assert "Held back now: 0" in shown.response.content
    held_ever = desk.archive.db.execute(
        "SELECT sum(held) FROM delivery_log WHERE channel_id = ?", [world.news.id]
    ).fetchone()[0]
    assert held_ever == 2
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 4


async def test_a_daily_maximum_and_a_maximum_age(world, desk, feeds):
    from datetime import datetime, timedelta

    metro, feed = await add_metro(world, desk, feeds)
    await world.admin.slash(world.general, "feeds limits", channel=world.news, daily_max=1, max_age_days=3)
    desk.archive.update_feed(feed.id, posting_since=time.time() - 30 * 86400)  # the feed is a month old
    old = metro.add_item(
        "Old story resurfaces",
        "An old story, " + STORY,
        slug="old",
        date=datetime.now(UTC) - timedelta(days=5, hours=-7),
    )
    metro.add_item("Fresh story one", "Fresh, " + STORY, slug="fresh-1")
    second = metro.add_item("Fresh story two", "Fresh too, " + STORY, slug="fresh-2")
    await poll(world, desk, feed)
    assert titles(world.news) == ["Fresh story one"]
    why = await world.admin.slash(world.general, "feeds why", article=old)
    assert "**skipped**" in why.response.content and "maximum age of 3 days" in why.response.content
    why = await world.admin.slash(world.general, "feeds why", article=second)
    assert "**held**" in why.response.content and "daily maximum (1 posts)" in why.response.content


async def test_a_backfill_posts_at_most_n_existing_articles_once(world, desk, feeds, config):
    stories = [(f"Archive story {i}", f"Archive story {i}: " + STORY, i) for i in range(1, 5)]
    metro = feeds.new("metro", "Metro News", stories)
    added = await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news, backfill=2)
    assert "2 existing articles will be posted there too" in added.response.content
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert titles(world.news) == ["Archive story 2", "Archive story 1"]  # the two newest, oldest first
    await world.env.restart_bot(create_bot(config, desk))
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 2

    other = feeds.new("other", "Other News", stories[:2])
    await world.admin.slash(world.general, "feeds add", url=other.url, channel=world.general)  # default 0
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 2)
    assert world.general.history() == []


ALL_PLACEHOLDERS = (
    "T={title} U={url} O={outlet} P={published:%d.%m.%Y %H:%M %Z} S={summary} A={author} C=[{categories}] D={published}"
)


async def test_a_template_renders_every_placeholder_and_rejects_an_unknown_one(world, desk, feeds):
    from datetime import datetime

    metro, feed = await add_metro(world, desk, feeds)
    unknown = await world.admin.slash(
        world.general, "feeds template set", feed=metro.url, template="{title} by {writer}"
    )
    assert unknown.ephemeral and "unknown placeholder {writer}" in unknown.response.content
    simcord.assert_error(world.env, BadQuery)
    for bad, message in (("{title:>20}", "only {published} takes a format"), ("{title", "malformed")):
        result = await world.admin.slash(world.general, "feeds template set", feed=metro.url, template=bad)
        assert message in result.response.content
        simcord.assert_error(world.env, BadQuery)
    zone = await world.admin.slash(
        world.general, "feeds template set", feed=metro.url, template="{title}", timezone="Mars/Olympus"
    )
    assert "unknown time zone 'Mars/Olympus'" in zone.response.content
    simcord.assert_error(world.env, BadQuery)
    assert desk.settings.template(metro.url)[1] is None

    ok = await world.admin.slash(
        world.general,
        "feeds template set",
        feed=metro.url,
        template=ALL_PLACEHOLDERS,
        style="text",
        timezone="Asia/Tokyo",
    )
    assert ok.ephemeral and "Template set" in ok.response.content
    preview = await world.admin.slash(world.general, "feeds template preview", feed=metro.url)
    assert preview.ephemeral and "T=Metro line extension opens to passengers" in preview.response.content

    moment = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)
    link = metro.add_item(
        "@everyone Tram *strike* ends",
        "The tram strike ended on Sunday. Trams run again from "
        "Monday, the operator said. A third sentence is not in the summary.",
        slug="tram",
        date=moment,
    )
    metro.items[-1]["author"] = "desk@example.com (Ada Reporter)"
    metro.publish()
    desk.archive.update_feed(feed.id, posting_since=moment.timestamp() - 86400)
    await poll(world, desk, feed)
    [message] = world.news.history()
    text = message.content
    assert not message.embeds and message.mention_everyone is False
    assert "T=@\u200beveryone Tram \\*strike\\* ends" in text
    assert f"U={link} " in text and "O=Metro News " in text
    assert "P=02.03.2026 07:30 JST" in text and "D=2026-03-02 07:30 JST" in text
    assert "S=The tram strike ended on Sunday. Trams run again from Monday, the operator said. A=" in text
    assert "third sentence" not in text
    assert "A=Ada Reporter" in text and "C=[]" in text
    assert "{" not in text


async def test_an_embed_template_stays_within_discords_limits_and_preview_does_not_save(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    await world.admin.slash(
        world.general,
        "feeds template set",
        feed=metro.url,
        template="📰 {outlet}: {summary}\n" + "x" * 1400 + "\n{url}",
    )
    tried = await world.admin.slash(
        world.general, "feeds template preview", feed=metro.url, template="Only {title}", style="text"
    )
    assert tried.response.content == "Only Metro line extension opens to passengers"
    assert "x" * 1400 in desk.settings.template(metro.url)[1].body  # the saved one is unchanged
    metro.add_item("Very long story", " ".join(["Word"] * 3000) + ".", slug="long")
    await poll(world, desk, feed)
    [message] = world.news.history()
    embed = message.embeds[0]
    assert embed.title == "Very long story" and embed.description.startswith("📰 Metro News: Word Word")
    assert len(embed.description) <= 4096 and len(embed) <= 6000
    cleared = await world.admin.slash(world.general, "feeds template clear", feed=metro.url)
    assert "default teaser" in cleared.response.content


def pinged_roles(world, message) -> list[int]:
    return world.env.backend.get_message(message.channel.id, message.id).ping_role_ids


def member_roles(world, member) -> list[int]:
    return world.env.backend.guilds[world.guild.id].members[member.id].role_ids


def pinged_users(world, message) -> list[int]:
    return world.env.backend.get_message(message.channel.id, message.id).ping_user_ids


async def test_a_role_is_pinged_only_where_set_and_nobody_else_ever(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    other = feeds.new("other", "Other News", METRO)
    await world.admin.slash(world.general, "feeds add", url=other.url, channel=world.general)
    other_feed = desk.feeds.find(other.url)
    transit = world.guild.create_role("Transit", mentionable=True)
    alerts = world.guild.create_role("Alerts", mentionable=True)
    result = await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=transit)
    assert result.ephemeral and transit.mention in result.response.content
    await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=alerts, pattern="strike")
    everyone = await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=world.guild.default_role)
    assert "never pinged" in everyone.response.content
    simcord.assert_error(world.env, BadQuery)

    carol = world.guild.add_member(world.env.create_user("carol"))
    metro.add_item(
        f"@everyone @here Tram strike ends <@&{world.guild.id}> <@{carol.id}> <@&{alerts.id}>",
        f"The strike ended, <@{carol.id}> and @everyone said, " + STORY,
        slug="strike",
    )
    metro.add_item("Bus timetable changes", "Buses run differently, " + STORY, slug="bus")
    other.add_item(f"Other city news <@&{transit.id}>", f"Nothing for transit <@&{transit.id}>, " + STORY, slug="other")
    await poll(world, desk, feed, other_feed)

    strike, bus = world.news.history()
    assert pinged_roles(world, strike) == [transit.id, alerts.id]
    assert pinged_roles(world, bus) == [transit.id]
    [elsewhere] = world.general.history()
    assert pinged_roles(world, elsewhere) == []
    for message in (strike, bus, elsewhere):
        assert pinged_users(world, message) == [] and message.mention_everyone is False
    requests = [
        r
        for r in world.env.http_requests
        if r.method == "POST" and r.path.endswith("/messages") and "allowed_mentions" in (r.json or {})
    ]
    assert requests and all(r.json["allowed_mentions"].get("parse") == [] for r in requests)
    assert {tuple(map(int, r.json["allowed_mentions"].get("roles", []))) for r in requests} == {
        (transit.id, alerts.id),
        (transit.id,),
        (),
    }

    listing = await world.admin.slash(world.general, "feeds ping list", feed=metro.url)
    assert f"<@&{alerts.id}> when any matches `strike`" in listing.response.content
    await world.admin.slash(world.general, "feeds ping remove", feed=metro.url, role=transit)
    metro.add_item("Tram depot opens", "The tram depot opened, " + STORY, slug="depot")
    await poll(world, desk, feed)
    assert pinged_roles(world, world.news.history()[-1]) == []


async def test_members_subscribe_themselves_to_a_subscribable_ping_only(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    transit = world.guild.create_role("Transit", mentionable=True)
    staff = world.guild.create_role("Staff")
    await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=transit, subscribable=True)
    refused = await world.member.slash(world.general, "subscribe", role=staff)
    assert refused.ephemeral and "not a role you can subscribe to" in refused.response.content
    simcord.assert_error(world.env, BadQuery)
    assert staff.id not in member_roles(world, world.member)

    done = await world.member.slash(world.general, "subscribe", role=transit)
    assert done.ephemeral and "Subscribed" in done.response.content
    assert transit.id in member_roles(world, world.member)
    gone = await world.member.slash(world.general, "unsubscribe", role=transit)
    assert "Unsubscribed" in gone.response.content
    assert transit.id not in member_roles(world, world.member)


async def test_only_a_role_without_permissions_below_both_top_roles_can_be_handed_out(world, desk, feeds):
    """/subscribe gives a role to whoever asks, so an admin can open only a role that gives nothing
    but the pings: no permissions, below the admin's top role and the bot's; and /subscribe checks
    again when it hands the role out."""
    metro, _ = await add_metro(world, desk, feeds)
    powerful = world.guild.create_role("Moderators", permissions=discord.Permissions(administrator=True))
    above = world.guild.create_role("Above", position=50)  # above the admin's (and the bot's) top role
    refusals = []
    for role in (powerful, above):
        refused = await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=role, subscribable=True)
        refusals.append(refused.response.content)
        simcord.assert_error(world.env, BadQuery)
    assert "carries permissions" in refusals[0] and "not below" in refusals[1], refusals
    assert desk.settings.pings(metro.url)[1] == []
    # pinging a powerful role without handing it out stays possible
    await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=powerful)
    assert not desk.archive.role_subscribable(world.guild.id, powerful.id)

    transit = world.guild.create_role("Transit")
    made = await world.admin.slash(world.general, "feeds ping add", feed=metro.url, role=transit, subscribable=True)
    assert "Members can subscribe" in made.response.content
    # the role gains a permission after it was opened: /subscribe no longer hands it out
    world.env.backend.edit_role(
        world.guild.id, transit.id, {"permissions": discord.Permissions(kick_members=True).value}
    )
    await world.env.settle()
    refused = await world.member.slash(world.general, "subscribe", role=transit)
    assert refused.ephemeral and "carries permissions" in refused.response.content
    simcord.assert_error(world.env, BadQuery)
    assert transit.id not in member_roles(world, world.member)


async def test_a_thread_opens_per_posted_article(world, desk, feeds):
    metro, feed = await add_metro(world, desk, feeds)
    set_ = await world.admin.slash(world.general, "feeds options", feed=metro.url, thread=True)
    assert set_.ephemeral and "thread per post on" in set_.response.content
    metro.add_item("Tram strike ends after agreement", "The strike ended, " + STORY, slug="strike")
    metro.add_item("Bus timetable changes", "Buses run differently, " + STORY, slug="bus")
    await poll(world, desk, feed)
    posts = [m for m in world.news.history() if m.embeds]
    threads = world.news.threads
    assert len(posts) == 2 and sorted(t.name for t in threads) == [
        "Bus timetable changes",
        "Tram strike ends after agreement",
    ]
    assert {t.id for t in threads} == {m.id for m in posts}  # each opened on its post


async def test_posts_into_a_forum_with_a_title_template_and_tags_by_filter(world, desk, feeds):
    import discord

    handle = world.guild.create_forum_channel("news-forum")
    forum = world.bot.get_channel(handle.id)
    await forum.edit(available_tags=[discord.ForumTag(name="Transit"), discord.ForumTag(name="Weather")])
    metro = feeds.new("metro", "Metro News", METRO)
    added = await world.admin.slash(world.general, "feeds add", url=metro.url, channel=handle)
    assert handle.mention in added.response.content
    feed = desk.feeds.find(metro.url)
    bad = await world.admin.slash(world.general, "feeds options", feed=metro.url, forum_title="{headline}")
    assert "unknown placeholder {headline}" in bad.response.content
    simcord.assert_error(world.env, BadQuery)
    await world.admin.slash(
        world.general,
        "feeds options",
        feed=metro.url,
        forum_title="{outlet}: {title}",
        forum_tags="Transit=trams, bus; Weather=storm, rain",
    )
    metro.add_item("Storm stops the trams", "A storm stopped the trams, " + STORY, slug="storm")
    metro.add_item("Museum reopens", "The museum reopened, " + STORY, slug="museum")
    await poll(world, desk, feed)
    posts = {t.name: t for t in handle.threads}
    assert set(posts) == {"Metro News: Storm stops the trams", "Metro News: Museum reopens"}
    tag_ids = {t.name: t.id for t in world.bot.get_channel(handle.id).available_tags}
    applied = {name: sorted(world.env.backend.get_channel(t.id).applied_tags) for name, t in posts.items()}
    assert applied == {
        "Metro News: Storm stops the trams": sorted([tag_ids["Transit"], tag_ids["Weather"]]),
        "Metro News: Museum reopens": [],
    }
    storm = posts["Metro News: Storm stops the trams"].history()
    assert storm and storm[0].embeds[0].title == "Storm stops the trams"


async def test_an_updated_article_is_ignored_edited_or_reposted_as_the_admin_chooses(world, desk, feeds, config):
    metro, feed = await add_metro(world, desk, feeds)
    metro.add_item("Tram strike talks continue", "Talks continue, " + STORY, slug="talks")
    await poll(world, desk, feed)
    [post] = world.news.history()
    item = metro.items[-1]

    def republish(title: str, text: str) -> None:
        item["title"], item["text"] = title, text
        metro.publish()

    republish("Tram strike talks continue (ignored)", "Talks continue still, " + STORY)  # default: ignore
    await poll(world, desk, feed)
    assert [m.embeds[0].title for m in world.news.history()] == ["Tram strike talks continue"]

    done = await world.admin.slash(world.general, "feeds options", feed=metro.url, updates="edit")
    assert "updated articles: edit" in done.response.content
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert world.news.history()[0].embeds[0].title == "Tram strike talks continue"  # old updates stay ignored
    await world.env.advance_time(2)
    republish("Tram strike ends after talks", "The strike ended after talks, " + STORY)
    await poll(world, desk, feed)
    history = world.news.history()
    assert len(history) == 1 and history[0].id == post.id
    assert history[0].embeds[0].title == "Tram strike ends after talks" and history[0].edited_at is not None
    why = await world.admin.slash(world.general, "feeds why", article=item["link"])
    assert "edited after the feed updated the article" in why.response.content

    await world.admin.slash(world.general, "feeds options", feed=metro.url, updates="repost")
    republish("Tram strike ends: deal signed", "The deal was signed, " + STORY)
    await poll(world, desk, feed)
    history = world.news.history()
    assert len(history) == 2 and visible(history[1].content) == "🔄 Updated"
    assert history[1].embeds[0].title == "Tram strike ends: deal signed"
    # handled once: more passes and a restart change nothing
    await world.env.restart_bot(create_bot(config, desk))
    await poll(world, desk, feed)
    assert len(world.news.history()) == 2


def serve_page(feeds, name: str, links: list[tuple[str, str]]) -> str:
    path = f"{feeds.prefix}/{name}.html"
    tags = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="{title}" href="{href}">' for title, href in links
    )
    feeds.server.files[path] = (
        200,
        f"<!doctype html><html><head><title>Site</title>{tags}</head><body><p>Welcome</p></body></html>".encode(),
    )
    return feeds.server.base + path


async def test_feeds_add_discovers_a_sites_feeds_and_offers_them(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    city = feeds.new("city", "City Wire", METRO[:1])
    one = serve_page(feeds, "one", [("Metro", metro.url.replace(feeds.server.base, ""))])  # a relative link
    result = await world.admin.slash(world.general, "feeds add", url=one, channel=world.news)
    text = result.followups[0].content if result.followups else result.response.content
    assert f"Found the feed at {metro.url}" in text.replace("\\", "") and "Added **" in text
    assert desk.feeds.find(metro.url).channel_id == world.news.id

    both = serve_page(feeds, "both", [("Metro", metro.url), ("City wire", city.url)])
    offered = await world.admin.slash(world.general, "feeds add", url=both)
    menu = offered.followups[0] if offered.followups else offered.response
    assert "offers 2 feeds" in menu.content
    assert desk.archive.find_feed(city.url) is None
    chosen = await world.admin.select(menu, [city.url])
    reply = chosen.followups[0].content if chosen.followups else chosen.response.content
    assert f"Chose {city.url}" in reply.replace("\\", "") and desk.archive.find_feed(city.url) is not None

    nothing = serve_page(feeds, "nothing", [])
    none = await world.admin.slash(world.general, "feeds add", url=nothing)
    text = none.followups[0].content if none.followups else none.response.content
    assert "I found no feed there" in text and desk.archive.find_feed(nothing) is None


async def test_a_post_teaser_skips_the_pages_dateline_and_furniture(world, desk, feeds):
    live = feeds.new(
        "live",
        "Coast Live",
        [
            (
                "Storm closes the coast road",
                "Updated Feb. 9, 2026, 7:02 a.m. ET Share this update Police closed the coast road after waves "
                "swept debris across both lanes overnight.",
                0,
            )
        ],
    )
    await world.admin.slash(world.general, "feeds add", url=live.url, channel=world.news, backfill=1)
    await world.env.advance_time(interval(world) + 1)
    posts = [m.embeds[0] for m in world.news.history() if m.embeds]
    assert [p.title for p in posts] == ["Storm closes the coast road"]
    assert posts[0].description.startswith("Police closed the coast road"), posts[0].description
