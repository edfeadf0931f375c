"""/watch, /unwatch, /watches and the watch loop, through the unmodified bot in simcord over a real
archive whose feeds (on 127.0.0.1) gain items: a watch posts when, and only when, new coverage
changes its cited answer — once, whichever process sees it."""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import signal
import time
from types import SimpleNamespace

import discord
import pytest
import simcord
from support.discord import message_requests
from support.watching import AGAIN, QUESTION, RELATED, UNRELATED

from bot import create_bot
from bot.errors import NotAdmin
from bot.exts.following import watches as watches_ext
from index.config import Config, DataConfig, EmbeddingConfig, FeedsConfig
from index.errors import BadQuery, NotFound, PermissionDenied
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder


@pytest.fixture
def config(tmp_path, discord_config) -> Config:
    """The bot tests' config with one sentence per answer: a better sentence supersedes the old one."""
    base = Config(
        data=DataConfig(dir=str(tmp_path / "data")),
        embedding=EmbeddingConfig(model="hash-embedder-256"),
        feeds=FeedsConfig(
            allow_private_networks=True, fetch_full_text="never", workers=4, retries=0, timeout_seconds=5.0
        ),
        discord=discord_config,
    )
    return dataclasses.replace(base, answers=dataclasses.replace(base.answers, max_sentences=1))


async def poll(world, desk) -> None:
    """Every feed due now; the poll runs, then a watch pass."""
    for feed in desk.archive.list_feeds():
        desk.archive.update_feed(feed.id, next_poll_at=0)
    await world.env.advance_time(world.bot.config.feeds.poll_interval_minutes * 60 + 1)
    await world.env.advance_time(watches_ext.WATCH_INTERVAL_SECONDS + 1)


def bot_posts(channel, bot_id):
    return [m for m in channel.history() if m.author.id == bot_id]


async def test_a_watch_posts_once_when_new_coverage_changes_its_answer(world, desk, feeds, config):
    bot_id = world.bot.user.id
    added = await world.admin.slash(world.general, "watch", question=QUESTION, channel=world.news)
    assert (
        added.ephemeral
        and "Watching **#1**" in added.response.content
        and f"<#{world.news.id}>" in added.response.content
    )
    mine = await world.member.slash(world.general, "watch", question=QUESTION)
    assert mine.ephemeral and "DMs" in mine.response.content
    first = desk.archive.get_watch(1)
    assert first.answer and first.guild_id == world.guild.id
    assert first.answer[0][0][:40] in added.response.embeds[0].description  # the answer it watches

    feeds.planet.add_item(*UNRELATED, slug="ferry")
    await poll(world, desk)
    assert desk.reading.article(feeds.planet.items[-1]["link"])  # ingested
    assert bot_posts(world.news, bot_id) == []
    assert bot_posts(world.member.user.dm_channel, bot_id) == []

    link = feeds.planet.add_item(*RELATED, slug="ended")
    await poll(world, desk)
    posted = bot_posts(world.news, bot_id)
    assert len(posted) == 1
    embed = posted[0].embeds[0]
    assert embed.title == "Update: " + QUESTION
    new, _, rest = embed.description.partition("**No longer in it (superseded)**")
    assert "lava stopped flowing" in new and link in rest
    superseded = rest.split("**New sources**")[0]
    assert "~~" in superseded and all(s[:40] in superseded.replace("\\", "") for s, _ in first.answer)
    dm = bot_posts(world.member.user.dm_channel, bot_id)
    assert len(dm) == 1 and "lava stopped flowing" in dm[0].embeds[0].description

    # a second pass, a restarted bot, and a second bot process on the same archive: no duplicate
    await world.env.advance_time(watches_ext.WATCH_INTERVAL_SECONDS * 3)
    await world.env.restart_bot(create_bot(config, Newsdesk(config, embedder=HashEmbedder())))
    await world.env.advance_time(watches_ext.WATCH_INTERVAL_SECONDS * 2)
    assert len(bot_posts(world.news, bot_id)) == 1 and len(bot_posts(world.member.user.dm_channel, bot_id)) == 1

    # another process (a second bot, here its service) claims the next change first: this bot posts nothing
    feeds.planet.add_item(*AGAIN, slug="again")
    other = Newsdesk(config, embedder=HashEmbedder())
    desk.indexing.ingest()
    claimed = other.watches.check(True)
    assert sorted(c.watch.id for c in claimed) == [1, 2]
    await world.env.advance_time(watches_ext.WATCH_INTERVAL_SECONDS + 1)
    assert len(bot_posts(world.news, bot_id)) == 1
    other.close()

    # nothing the watch sent can ping
    sent = [
        (r, data)
        for r, data in message_requests(world.env)
        if r.path.endswith("/messages") and any("Update:" in (e.get("title") or "") for e in data.get("embeds") or [])
    ]
    assert len(sent) == 2  # the channel's and the DM's
    assert all(data.get("allowed_mentions") == {"parse": []} for _, data in sent)


async def test_unwatch_stops_it_and_bad_arguments_are_ephemeral(world, desk, feeds):
    bot_id = world.bot.user.id
    await world.admin.slash(world.general, "watch", question=QUESTION, channel=world.news)
    await world.member.slash(world.general, "watch", question=QUESTION)

    refused = await world.member.slash(world.general, "watch", question=QUESTION, channel=world.news)
    assert refused.ephemeral and "for server admins" in refused.response.content
    simcord.assert_error(world.env, NotAdmin)
    bot_role = world.guild.roles[world.bot.user.name]
    closed = world.guild.create_text_channel(
        "closed", overwrites={bot_role: discord.PermissionOverwrite(send_messages=False)}
    )
    shut = await world.admin.slash(world.general, "watch", question=QUESTION, channel=closed)
    assert shut.ephemeral and "I can't post in" in shut.response.content
    simcord.assert_error(world.env, BadQuery)
    bad = await world.member.slash(world.general, "unwatch", watch="first")
    assert bad.ephemeral and "by its number" in bad.response.content
    simcord.assert_error(world.env, BadQuery)
    missing = await world.member.slash(world.general, "unwatch", watch="99")
    assert missing.ephemeral and "Not found" in missing.response.content
    simcord.assert_error(world.env, NotFound)
    theirs = await world.member.slash(world.general, "unwatch", watch="1")
    assert theirs.ephemeral and "someone else's" in theirs.response.content
    simcord.assert_error(world.env, PermissionDenied)
    empty = await world.member.slash(world.general, "watch", question="   ?  ")
    assert empty.ephemeral and "didn't work" in empty.response.content
    simcord.assert_error(world.env, BadQuery)

    listing = await world.member.slash(world.general, "watches")
    assert listing.ephemeral and "#2" in listing.response.embeds[0].description
    assert "#1" not in listing.response.embeds[0].description  # a member sees their own
    everything = await world.admin.slash(world.general, "watches")
    assert "#1" in everything.response.embeds[0].description and "#2" in everything.response.embeds[0].description

    stopped = await world.admin.slash(world.general, "unwatch", watch="1")
    assert stopped.ephemeral and "Stopped watch #1" in stopped.response.content
    stopped = await world.member.slash(world.general, "unwatch", watch="#2")
    assert stopped.ephemeral and "Stopped watch #2" in stopped.response.content
    assert desk.watches.list_watches() == []

    feeds.planet.add_item(*RELATED, slug="ended")
    await poll(world, desk)
    assert bot_posts(world.news, bot_id) == [] and bot_posts(world.member.user.dm_channel, bot_id) == []


async def test_limits_per_member(world, desk):
    for i in range(5):
        ok = await world.member.slash(world.general, "watch", question=f"{QUESTION} ({i})")
        assert ok.ephemeral and "Watching" in ok.response.content
    over = await world.member.slash(world.general, "watch", question=QUESTION)
    assert over.ephemeral and "at most 5" in over.response.content
    simcord.assert_error(world.env, BadQuery)
    assert len(desk.watches.list_watches()) == 5


async def _run(fn, *args, **kwargs):
    return fn(*args, **kwargs)


def _watch_pass_killed_before_the_outbox(config, stopped) -> None:
    """A second bot process's watch pass (the cog's own code, its Discord side left out) that
    stops for good as it writes the notice into the outbox: the parent SIGKILLs it there."""
    desk = Newsdesk(config, embedder=HashEmbedder())

    def stop(*args, **kwargs):
        stopped.set()
        time.sleep(600)

    desk.archive.outbox_add = stop
    bot = SimpleNamespace(desk=desk, call=_run, heavy_call=_run, _newsdesk_sender=object())
    asyncio.run(watches_ext.Watches.post_changes(SimpleNamespace(bot=bot, sent=0)))


async def test_a_watch_notice_survives_a_kill_between_its_claim_and_the_outbox(world, desk, feeds, config):
    """A bot process killed (SIGKILL) while it queues a change's notice: the change is claimed
    and queued in one transaction, so the kill leaves neither, and the next pass (this bot) posts
    the notice once. (Claimed in one transaction and queued in another, it was lost.)"""
    bot_id = world.bot.user.id
    await world.admin.slash(world.general, "watch", question=QUESTION, channel=world.news)
    feeds.planet.add_item(*RELATED, slug="ended")
    desk.indexing.ingest()

    ctx = multiprocessing.get_context("spawn")
    stopped = ctx.Event()
    child = ctx.Process(target=_watch_pass_killed_before_the_outbox, args=(config, stopped))
    child.start()
    try:
        assert stopped.wait(120), "the child's watch pass never reached the outbox"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    assert desk.outbox.states() == {}  # the killed process queued nothing

    await world.env.advance_time(watches_ext.WATCH_INTERVAL_SECONDS + 1)
    posted = bot_posts(world.news, bot_id)
    assert len(posted) == 1 and "lava stopped flowing" in posted[0].embeds[0].description
    await world.env.advance_time(watches_ext.WATCH_INTERVAL_SECONDS * 3)
    assert len(bot_posts(world.news, bot_id)) == 1
    notices = desk.archive.watch_notices(1)
    assert len(notices) == 1 and notices[0][1] == posted[0].id
