"""Nobody gets pinged, nothing oversized is sent, no traceback or secret reaches a channel."""

from __future__ import annotations

import logging

import discord
import simcord
from support.discord import message_requests

from bot import render

EVERYONE_QUESTION = "@everyone <@&123> @here what happened with the volcano in Iceland?"
HUGE_TITLE = "Enormous " + " ".join(f"headline{i}" for i in range(120))
HUGE_TEXT = " ".join(
    f"The enormous report sentence number {i} discusses the giant glacier melting." for i in range(700)
)


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= render.EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed.fields) <= render.MAX_FIELDS
    for field in embed.fields:
        assert len(field.name) <= render.FIELD_NAME_LIMIT and len(field.value) <= render.FIELD_VALUE_LIMIT
    assert len(embed.footer.text or "") <= render.FOOTER_LIMIT


def assert_no_pings(env) -> int:
    requests = message_requests(env)
    for request, data in requests:
        if request.method in ("POST", "PATCH"):
            mentions = data.get("allowed_mentions")
            assert mentions is not None and mentions.get("parse") == [], (request.method, request.path, data)
            assert not mentions.get("users") and not mentions.get("roles") and not mentions.get("replied_user")
    return len(requests)


async def test_everyone_in_a_question_pings_no_one(world):
    env = world.env
    result = await world.member.slash(world.general, "ask", question=EVERYONE_QUESTION)
    embed = result.response.embeds[0]
    assert "@\u200beveryone" in embed.title and "<@&\u200b123>" in embed.title and "@\u200bhere" in embed.title
    await env.advance_time(11)
    await world.member.send(world.general, f"{world.bot.user.mention} {EVERYONE_QUESTION}")
    mention_answer = world.general.last_message
    assert mention_answer.embeds and "Grindavik" in mention_answer.embeds[0].description
    await env.advance_time(11)
    await world.member.send_dm(EVERYONE_QUESTION)
    assert world.member.user.dm_channel.last_message.embeds
    await world.member.slash(world.general, "latest")  # a title with @everyone and <@&123> is in the archive
    await world.member.slash(world.general, "search", query="markets rally tech shares")
    assert assert_no_pings(env) >= 5
    for message in world.general.history() + world.member.user.dm_channel.history():
        if message.author.id == world.bot.user.id:
            assert message.mention_everyone is False
            assert not message.role_mentions
    listing = next(
        m for m in world.general.history() if m.embeds and "markets rally" in (m.embeds[0].description or "")
    )
    assert "@\u200beveryone Breaking: <@&\u200b123> markets rally" in listing.embeds[0].description
    assert world.bot.allowed_mentions.to_dict() == {"parse": []}


async def test_every_reply_carries_no_mentions(world, desk, feeds):
    """Admin replies, button replies, page turns and progress edits too."""
    world.set_discord(owners=[world.admin.id], admin_channel=world.admin_log.id)
    answer = await world.member.slash(world.general, "ask", question=EVERYONE_QUESTION)
    await world.member.click(answer.response, label="Show passages")
    await world.member.click(answer.response, label="More like this")
    page = await world.member.slash(world.general, "latest")
    await world.member.click(page.response, label="Next")
    await world.admin.slash(world.general, "feeds list")
    await world.admin.slash(world.general, "reindex", full=True)
    await world.admin.slash(world.general, "status")
    await world.admin.slash(world.general, "sources")
    await world.admin.slash(world.general, "feeds export")
    assert assert_no_pings(world.env) >= 10


async def test_huge_articles_still_render_within_limits(world, desk, feeds):
    huge = feeds.new("huge", "The " + "Very " * 80 + "Long Outlet Name")
    huge.add_item(HUGE_TITLE, HUGE_TEXT, slug="huge")
    desk.feeds.add(huge.url)
    desk.indexing.ingest()
    url = huge.items[0]["link"]

    results = [
        # the question names the huge article's words so that the test embedder ranks it first
        # despite its length correction: what is checked here is rendering, not ranking
        await world.member.slash(
            world.general, "ask", question="What does the enormous report say about the giant glacier melting?"
        ),
        await world.member.slash(world.general, "search", query="enormous report glacier"),
        await world.member.slash(world.general, "article", url_or_id=url),
        await world.member.slash(world.general, "latest", count=50),
        await world.member.slash(world.general, "sources"),
    ]
    for result in results:
        assert result.response is not None and result.response.embeds, result
        for embed in result.response.embeds:
            assert_within_limits(embed)
    answer = results[0].response.embeds[0]
    assert "headline" in answer.description and "…" in answer.description
    card = results[2].response.embeds[0]
    assert card.title.endswith("…") and card.url == url
    passages = await world.member.click(results[0].response, label="Show passages")
    assert_within_limits(passages.response.embeds[0])


async def test_internal_errors_are_short_and_logged(world, desk, monkeypatch, caplog):
    caplog.set_level(logging.ERROR, logger="bot.errors")

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom at /srv/secret/path")

    monkeypatch.setattr(desk.reading, "article", broken)
    result = await world.member.slash(world.general, "article", url_or_id="1")
    assert result.ephemeral
    assert result.response.content == "⚠️ Something went wrong on our side. It has been logged."
    simcord.assert_error(world.env, RuntimeError)

    monkeypatch.setattr(desk.retriever, "search", broken)
    result = await world.member.slash(world.general, "search", query="volcano")
    # after a public "thinking…" the placeholder is replaced by the short message
    assert result.response.content.startswith("⚠️ Something went wrong")
    simcord.assert_error(world.env, RuntimeError)

    for _request, data in message_requests(world.env):
        assert "Traceback" not in str(data) and "boom" not in str(data) and "/srv/secret" not in str(data)
    logged = [r for r in caplog.records if r.name == "bot.errors" and r.exc_info]
    assert logged and "boom at /srv/secret/path" in str(logged[0].exc_info[1])
