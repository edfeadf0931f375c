"""create_bot: intents, mentions, sharding, command metadata, syncing to configured guilds."""

from __future__ import annotations

import dataclasses

import discord
import simcord
from discord import app_commands
from discord.ext import commands

from bot import EXTENSIONS, create_bot


def test_create_bot_defaults(config, desk):
    bot = create_bot(config, desk)
    assert isinstance(bot, commands.Bot) and not isinstance(bot, commands.AutoShardedBot)
    assert bot.desk is desk and bot.config is config
    assert bot.intents.value == discord.Intents.default().value and not bot.intents.message_content
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert bot.heavy.slots == config.discord.max_concurrent_heavy


def test_sharded_when_configured(config, desk):
    sharded = dataclasses.replace(config, discord=dataclasses.replace(config.discord, shards=3))
    bot = create_bot(sharded, desk)
    assert isinstance(bot, commands.AutoShardedBot) and bot.shard_count == 3


def test_builds_its_own_desk(config, feeds):
    bot = create_bot(config)
    try:
        assert bot.desk.config is config and bot._owns_desk
    finally:
        bot.desk.close()


async def test_commands_are_described_and_admin_ones_protected(world):
    tree = world.bot.tree
    top = {c.name: c for c in tree.get_commands()}
    assert set(top) == {
        "ask",
        "latest",
        "search",
        "article",
        "sources",
        "feeds",
        "reindex",
        "status",
        "subscribe",
        "unsubscribe",
        "follow",
        "unfollow",
        "following",
        "digest",  # following stories
        "timeline",
        "compare",
        "watch",  # standing questions
        "unwatch",
        "watches",
    }  # subscribe: members opt in to a feed's ping role; follow: topic alerts
    for command in tree.walk_commands():
        assert command.description and command.description != "…"
        if isinstance(command, app_commands.Command):
            for param in command.parameters:
                assert param.description and param.description != "…", (command.qualified_name, param.name)
    for name in ("feeds", "reindex", "status"):
        assert top[name].default_permissions == discord.Permissions(manage_guild=True)
        assert top[name].guild_only
    for name in ("add", "remove", "list", "import", "export"):
        assert top["feeds"].get_command(name) is not None
    assert {c.name for c in world.bot.synced_commands} == set(top)
    assert len(world.bot.extensions) == len(EXTENSIONS)


async def test_syncs_to_configured_guilds(config, desk):
    guild_id = 1_300_000_000_000_000_001
    scoped = dataclasses.replace(config, discord=dataclasses.replace(config.discord, guilds=[guild_id]))
    env = simcord.Env(create_bot(scoped, desk))
    guild = env.create_guild("Configured", id=guild_id)
    await env.start()
    try:
        assert env.bot.synced_commands and all(c.guild_id == guild_id for c in env.bot.synced_commands)
        channel = guild.create_text_channel("c")
        reader = guild.add_member(env.create_user("r"))
        result = await reader.slash(channel, "sources")
        assert "Daily Planet" in result.response.embeds[0].description
    finally:
        await env.shutdown()


def test_run_bot_runs_with_the_token(config, desk, monkeypatch):
    import bot as bot_package

    seen = {}

    def fake_run(self, token, **kwargs):
        seen.update(bot=self, token=token, kwargs=kwargs)

    monkeypatch.setattr(commands.Bot, "run", fake_run)
    bot_package.run_bot(config, "token-value-123", desk=desk, poll=False)
    assert seen["token"] == "token-value-123" and seen["bot"].desk is desk
    assert seen["bot"].poll_enabled is False and seen["kwargs"] == {"log_handler": None}
