"""/ask, its buttons, questions by mention and in DMs, follow-ups, cooldowns, concurrency."""

from __future__ import annotations

import asyncio
import re

import pytest
import simcord
from discord import app_commands
from support.archive import archived_urls
from support.discord import message_requests

from bot import create_bot
from index.errors import BadQuery

VOLCANO = "What happened with the volcano in Iceland?"
LINK = re.compile(r"\[([^\]]*)\]\((https?://[^)]+)\)")


def sources_of(embed):
    head, _, sources = embed.description.partition("\n\n**Sources**\n")
    return head, LINK.findall(sources)


def custom_ids(response):
    return [c["custom_id"] for row in response.components for c in row["components"] if "custom_id" in c]


async def test_ask_answers_with_sources_from_the_archive(world, desk):
    result = await world.member.slash(world.general, "ask", question=VOLCANO)
    assert result.acknowledged and not result.ephemeral
    # deferred at once (public "thinking…"), then the answer filled it
    assert any(r.path.endswith("/callback") and r.json == {"type": 5} for r in world.env.http_requests)
    embed = result.response.embeds[0]
    assert embed.title == VOLCANO
    answer, links = sources_of(embed)
    assert "[1]" in answer and "Grindavik" in answer
    assert links, embed.description
    archive = archived_urls(desk)
    for _title, url in links:
        assert url in archive
    assert any("Volcano erupts near Grindavik" in title for title, _ in links)
    # the answer is a public message in the channel
    assert world.general.last_message.embeds[0].title == VOLCANO
    # persistent buttons carry the cited article ids
    ids = custom_ids(result.response)
    passages = next(i for i in ids if i.startswith("nd:passages:"))
    cited = [int(x) for x in passages.split(":")[2].split(".")]
    assert {desk.reading.article(a).url for a in cited} == {url for _, url in links}
    assert any(i.startswith("nd:more:") for i in ids)


async def test_show_passages_and_more_like_this(world, desk):
    answer = (await world.member.slash(world.general, "ask", question=VOLCANO)).response
    shown = await world.admin.click(answer, label="Show passages")
    assert shown.ephemeral
    text = shown.response.embeds[0].description
    assert "Grindavik" in text and "**" in text  # the cited sentence in bold inside its passage
    assert any(url in archived_urls(desk) for _, url in LINK.findall(text))

    more = await world.admin.click(answer, label="More like this")
    assert more.ephemeral
    embed = more.response.embeds[0]
    assert embed.title.startswith("More like:")
    top = int(next(i for i in custom_ids(answer) if i.startswith("nd:more:")).split(":")[2])
    listed = [url for _, url in LINK.findall(embed.description)]
    assert listed and desk.reading.article(top).url not in listed
    assert set(listed) <= archived_urls(desk)


async def test_answer_buttons_work_after_restart(world, config, desk):
    answer = (await world.member.slash(world.general, "ask", question=VOLCANO)).response
    await world.env.restart_bot(create_bot(config, desk))
    shown = await world.member.click(answer, label="Show passages")
    assert shown.ephemeral and "Grindavik" in shown.response.embeds[0].description


async def test_bad_date_is_a_short_ephemeral_error(world):
    result = await world.member.slash(world.general, "ask", question=VOLCANO, since="the day after never")
    assert result.ephemeral
    assert "since" in result.response.content and "cannot understand" in result.response.content
    simcord.assert_error(world.env, BadQuery)
    for _request, data in message_requests(world.env):
        assert "Traceback" not in str(data)
    assert world.general.history() == []  # nothing public


async def test_since_after_until_and_unknown_source(world):
    result = await world.member.slash(world.general, "ask", question=VOLCANO, since="2025-06-01", until="2025-01-01")
    assert result.ephemeral and "since is after until" in result.response.content
    await world.env.advance_time(11)
    result = await world.member.slash(world.general, "ask", question=VOLCANO, source="Nonexistent Gazette")
    assert result.ephemeral and "unknown source" in result.response.content
    assert len(world.env.errors) == 2


async def test_source_option_and_autocomplete(world, desk):
    choices = await world.member.autocomplete(world.general, "ask", "source", "wir")
    assert [c["value"] for c in choices] == ["Wire Service"]
    result = await world.member.slash(world.general, "ask", question=VOLCANO, source="Wire Service")
    _answer, links = sources_of(result.response.embeds[0])
    assert links and all("/wire-" in url for _, url in links)


async def test_abstention_lists_the_closest_articles(world, desk):
    result = await world.member.slash(world.general, "ask", question="Explain quantum entanglement photonics")
    embed = result.response.embeds[0]
    assert "couldn't find" in embed.description
    assert "**Sources**" not in embed.description and "**Closest articles**" in embed.description
    closest = [url for _, url in LINK.findall(embed.description)]
    assert closest and set(closest) <= archived_urls(desk)
    # no citations: no "Show passages", but "More like this" on the closest article
    assert [i.split(":")[1] for i in custom_ids(result.response)] == ["more"]


async def test_cooldown_is_per_user_and_polite(world):
    first = await world.member.slash(world.general, "ask", question=VOLCANO)
    assert first.response.embeds
    again = await world.member.slash(world.general, "ask", question=VOLCANO)
    assert again.ephemeral and "Slow down" in again.response.content
    simcord.assert_error(world.env, app_commands.CommandOnCooldown)
    other = await world.admin.slash(world.general, "ask", question=VOLCANO)  # someone else is not slowed
    assert other.response.embeds
    await world.env.advance_time(world.bot.config.discord.ask_cooldown_seconds + 1)
    assert (await world.member.slash(world.general, "ask", question=VOLCANO)).response.embeds


async def test_mention_answers_and_a_reply_is_a_follow_up(world, desk, monkeypatch):
    calls = []
    real_ask = desk.reading.ask

    def spy(question, **kwargs):
        calls.append((question, kwargs))
        return real_ask(question, **kwargs)

    monkeypatch.setattr(desk.reading, "ask", spy)
    bot_user = world.bot.user
    asked = await world.member.send(world.general, f"{bot_user.mention} {VOLCANO}")
    reply = world.general.last_message
    assert reply.author.id == bot_user.id and reply.reference.message_id == asked.id
    assert reply.embeds[0].title == VOLCANO and "Grindavik" in reply.embeds[0].description
    assert calls[-1][0] == VOLCANO and calls[-1][1]["context"] is None
    assert calls[-1][1]["scope"].guild_id == world.guild.id and calls[-1][1]["scope"].scoped

    await world.env.advance_time(11)
    await world.member.send(world.general, "Were the residents evacuated?", reply_to=reply)
    follow = world.general.last_message
    assert follow.author.id == bot_user.id and follow.embeds[0].title == "Were the residents evacuated?"
    assert calls[-1][0] == "Were the residents evacuated?"
    assert calls[-1][1]["context"] == VOLCANO

    # a message that neither mentions the bot nor replies to an answer is ignored
    before = len(world.general.history())
    await world.member.send(world.general, "just chatting about volcanoes")
    assert len(world.general.history()) == before + 1


async def test_dm_question(world):
    await world.member.send_dm("Did the central bank raise interest rates?")
    answer = world.member.user.dm_channel.last_message
    assert answer.embeds and "interest rate" in answer.embeds[0].description.lower()
    assert "Central bank raises interest rates" in answer.embeds[0].description


async def test_empty_mention_gets_help(world):
    await world.member.send(world.general, world.bot.user.mention)
    assert "Ask me about the news" in world.general.last_message.content


@pytest.mark.simcord(settle_timeout=60)
async def test_fifty_concurrent_asks_all_get_answers(world, desk):
    env = world.env
    members = [world.guild.add_member(env.create_user(f"reader{i}")) for i in range(50)]
    questions = [
        VOLCANO,
        "Did the central bank raise interest rates?",
        "Who won the football championship final?",
        "What did scientists discover about the octopus?",
        "Did the heatwave break records in Europe?",
    ]

    # simcord runs one actor operation at a time and settles after each; to have the bot handle all
    # fifty interactions at once, dispatch them without settling, then settle once.
    async def no_settle(**_kwargs):
        return None

    real_settle = env._settle_internal
    env._settle_internal = no_settle
    try:
        results = await asyncio.gather(
            *(m.slash(world.general, "ask", question=questions[i % len(questions)]) for i, m in enumerate(members))
        )
    finally:
        env._settle_internal = real_settle
    await env.settle(timeout=60)

    archive = archived_urls(desk)
    for i, result in enumerate(results):
        assert result.response is not None and not result.ephemeral, i
        embed = result.response.embeds[0]
        assert embed.title == questions[i % len(questions)]
        _answer, links = sources_of(embed)
        assert links and {url for _, url in links} <= archive
    gate = world.bot.heavy
    assert 1 < gate.peak <= world.bot.config.discord.max_concurrent_heavy
    assert gate.running == 0 and gate.waiting == 0


async def test_busy_when_the_heavy_queue_is_full(world):
    gate = world.bot.heavy
    gate.waiting = gate.max_waiting  # as if that many questions were queued
    try:
        result = await world.member.slash(world.general, "ask", question=VOLCANO)
    finally:
        gate.waiting = 0
    assert result.ephemeral and "busy" in result.response.content
    simcord.assert_error(world.env)
    assert (await world.member.slash(world.general, "ask", question=VOLCANO)).response.embeds
