"""The one sender (bot/delivery.py) over the archive's outbox (index/delivery/outbox.py), driven
through the unmodified bot in simcord over a real archive and feeds served on 127.0.0.1:

* a send whose outcome is unknown (Discord took the message, the answer was lost) is found in
  the channel's history and recorded, never sent again;
* one that never reached Discord is looked for, not found, and sent once;
* a send Discord refuses is retried with growing backoff, given up after the maximum, and the
  giving up is reported once;
* a delivery held by a process that died is settled by the next process (found or sent)."""

from __future__ import annotations

import socket

import aiohttp
import discord
import pytest
from support.newsroom import METRO

from bot import create_bot
from bot.delivery import marked_token, marker, payload_of, send_kwargs, visible
from bot.exts.delivery import autopost
from index.delivery.outbox import Outbox, delivery_token

DEAD_PID = 2**22 + 12_345  # above Linux's largest pid: no such process
STORY = (
    "the city said on Monday, after a long week of talks with unions, commuters and the shop owners "
    "of the old town about the plans for next year."
)


def interval(world) -> float:
    return world.bot.config.feeds.poll_interval_minutes * 60


async def poll(world, desk, feed) -> None:
    desk.archive.update_feed(feed.id, next_poll_at=0)
    await world.env.advance_time(interval(world) + 1)


async def add_metro(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    return metro, desk.feeds.find(metro.url)


def make_due(desk) -> None:
    """Backoff runs on the real clock: make every waiting delivery due now."""
    desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0")


def outbox_row(desk, key: str) -> dict:
    row = desk.archive.outbox_row(key)
    assert row is not None, key
    return row


@pytest.fixture
def lossy_send(monkeypatch):
    """Sends to Discord that raise a network error: ``after`` the message reached the channel
    (Discord took it; the answer was lost), or ``before`` it left. One plan entry per send."""
    plan: list[str] = []
    real = discord.abc.Messageable.send

    async def send(self, *args, **kwargs):
        step = plan.pop(0) if plan else "ok"
        if step == "before":
            raise aiohttp.ClientOSError(104, "Connection reset by peer")
        message = await real(self, *args, **kwargs)
        if step == "after":
            raise aiohttp.ClientOSError(104, "Connection reset by peer")
        return message

    monkeypatch.setattr(discord.abc.Messageable, "send", send)
    return plan


def test_the_marker_carries_the_token_invisibly():
    token = delivery_token("post:1:2")
    text = "Hello" + marker(token)
    assert marked_token(text) == token and visible(text) == "Hello"
    assert marked_token("Hello") is None and marked_token(marker(token)[:-1]) is None


async def test_an_unknown_outcome_found_in_history_is_recorded_not_resent(world, desk, feeds, lossy_send):
    metro, feed = await add_metro(world, desk, feeds)
    lossy_send.append("after")  # Discord takes the post; the bot sees a connection reset
    link = metro.add_item("Tram strike ends", "The tram strike ended, " + STORY, slug="tram")
    await poll(world, desk, feed)
    article_id = desk.reading.article(link).id
    key = f"post:{world.news.id}:{article_id}"
    (message,) = world.news.history()
    assert outbox_row(desk, key)["state"] == "unknown"  # it may have gone out: never blindly resent
    make_due(desk)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    assert [m.id for m in world.news.history()] == [message.id]  # found, not sent again
    row = outbox_row(desk, key)
    assert (row["state"], row["message_id"]) == ("sent", message.id)
    posts = desk.archive.db.execute("SELECT message_id FROM posts WHERE article_id = ?", [article_id]).fetchall()
    assert posts == [(message.id,)]
    assert world.bot._newsdesk_sender.found == 1
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 1


async def test_an_unknown_outcome_not_found_is_sent_once(world, desk, feeds, lossy_send):
    metro, feed = await add_metro(world, desk, feeds)
    lossy_send.append("before")  # the connection drops before Discord took anything
    link = metro.add_item("Ferry timetable for winter", "The winter timetable, " + STORY, slug="winter")
    await poll(world, desk, feed)
    assert world.news.history() == []
    key = f"post:{world.news.id}:{desk.reading.article(link).id}"
    assert outbox_row(desk, key)["state"] == "unknown"
    make_due(desk)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    (message,) = world.news.history()
    assert message.embeds[0].url == link
    # an embed-only post carries its key at the end of the embed's footer: no text line of its own
    assert not message.content and marked_token(message.embeds[0].footer.text) == delivery_token(key)
    assert outbox_row(desk, key)["message_id"] == message.id
    make_due(desk)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 1


async def test_a_refused_send_is_retried_with_backoff_and_its_giving_up_reported_once(world, desk, feeds, config):
    world.set_discord(admin_channel=world.admin_log.id)
    metro, feed = await add_metro(world, desk, feeds)
    world.env.inject_error("POST", f"/channels/{world.news.id}/messages", status=400, code=0, times=None)
    link = metro.add_item("Bridge works delayed", "Works on the bridge are delayed, " + STORY, slug="bridge")
    await poll(world, desk, feed)
    key = f"post:{world.news.id}:{desk.reading.article(link).id}"
    outbox = desk.outbox
    waits = []
    for attempt in range(1, outbox.max_attempts):
        row = outbox_row(desk, key)
        assert (row["state"], row["attempts"]) == ("retry", attempt)
        waits.append(row["next_try_at"] - row_updated(desk, key))
        await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)  # not due yet: nothing is tried
        assert outbox_row(desk, key)["attempts"] == attempt
        make_due(desk)
        if attempt == 2:  # a restart in between changes nothing
            await world.env.restart_bot(create_bot(config, desk))
            world.set_discord(admin_channel=world.admin_log.id)
        await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    row = outbox_row(desk, key)
    assert (row["state"], row["attempts"], row["reported"]) == ("failed", outbox.max_attempts, 1)
    assert waits == sorted(waits) and waits[0] == pytest.approx(outbox.retry_seconds, rel=0.01)
    assert waits[-1] == pytest.approx(outbox.retry_seconds * 4 ** (len(waits) - 1), rel=0.01)
    gave_up = [visible(m.content) for m in world.admin_log.history() if "Gave up" in m.content]
    assert len(gave_up) == 1 and f"article {desk.reading.article(link).id}" in gave_up[0] and "400" in gave_up[0]
    make_due(desk)
    await world.env.restart_bot(create_bot(config, desk))
    world.set_discord(admin_channel=world.admin_log.id)
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len([m for m in world.admin_log.history() if "Gave up" in m.content]) == 1  # reported once
    assert world.news.history() == []
    why = await world.admin.slash(world.general, "feeds why", article=link)
    assert "**failed**" in why.response.content and f"gave up after {outbox.max_attempts} attempts" in (
        why.response.content
    )


def row_updated(desk, key: str) -> float:
    return desk.archive.db.execute("SELECT updated_at FROM delivery_outbox WHERE key = ?", [key]).fetchone()[0]


@pytest.mark.parametrize("went_out", [True, False])
async def test_a_delivery_held_by_a_process_that_died_is_settled_once(world, desk, feeds, config, went_out):
    metro, feed = await add_metro(world, desk, feeds)
    link = metro.add_item("Library opens longer", "The library opens longer, " + STORY, slug="library")
    desk.indexing.ingest(feed=metro.url)
    article_id = desk.reading.article(link).id
    key = f"post:{world.news.id}:{article_id}"
    dead = Outbox(desk.archive, owner=f"{socket.gethostname()}:{DEAD_PID}:gone")
    assert dead.queue_post(world.news.id, article_id, feed.id, payload_of({"content": "library"}))
    assert dead.take(key) is not None  # claimed, then the process was killed…
    if went_out:  # …after Discord took the message
        sent = await world.bot.get_channel(world.news.id).send(
            content="library" + marker(delivery_token(key)), allowed_mentions=discord.AllowedMentions.none()
        )
    await world.env.restart_bot(create_bot(config, desk))
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS)
    history = world.news.history()
    assert [visible(m.content) for m in history] == ["library"]
    row = outbox_row(desk, key)
    assert row["state"] == "sent"
    if went_out:
        assert row["message_id"] == sent.id
    await world.env.advance_time(autopost.POST_INTERVAL_SECONDS * 3)
    assert len(world.news.history()) == 1


async def test_a_topic_alert_whose_send_failed_is_retried_and_arrives_once(world, desk, feeds, config):
    desk.following.threshold = 0.3  # the hash embedder's scale (see tests/index/following)
    follow = desk.following.add("volcano eruption", guild_id=world.guild.id, channel_id=world.news.id, created_by=1)
    world.env.inject_error("POST", f"/channels/{world.news.id}/messages", status=503, code=0, times=1)
    feeds.planet.add_item(
        "Volcano erupts again on the Reykjanes peninsula",
        "The volcano near Grindavik erupted again overnight, sending lava toward the evacuated town. "
        "Geologists said the eruption on the Reykjanes peninsula could last for days.",
        slug="volcano-again",
    )
    desk.indexing.ingest()
    await world.env.advance_time(61)
    assert world.news.history() == []  # the send failed: not lost, waiting for its retry
    (row,) = desk.archive.follow_alert_rows(follow.id)
    assert row["state"] == "sending"
    make_due(desk)
    await world.env.restart_bot(create_bot(config, desk))  # a restart in between loses nothing
    await world.env.advance_time(61)
    titles = [m.embeds[0].title for m in world.news.history()]
    assert titles == ["Volcano erupts again on the Reykjanes peninsula"]
    (row,) = desk.archive.follow_alert_rows(follow.id)
    assert row["state"] == "sent" and row["message_id"] == world.news.history()[0].id
    make_due(desk)
    await world.env.advance_time(61 * 3)
    assert len(world.news.history()) == 1


def test_a_text_ending_in_a_link_keeps_the_link_whole():
    """The marker is no whitespace: glued to a trailing link it would become part of the link."""
    token = delivery_token("post:1:2")
    text = "Ferry timetable: https://news.example/ferry"
    sent = send_kwargs({"content": text, "embeds": []}, token)["content"]
    assert sent.startswith(text + " ") and marked_token(sent) == token
    assert visible(sent) == text
