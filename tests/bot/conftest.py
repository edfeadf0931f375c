"""Shared fixtures for the Discord layer: a real Newsdesk on a temporary data dir, filled
from small RSS feeds served over HTTP on 127.0.0.1, and a simcord world around the bot."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import discord
import pytest
from support.newsroom import STORIES, WIRE_STORIES, Feeds, make_feed

from bot import create_bot
from index.config import Config, DataConfig, DiscordConfig, EmbeddingConfig, FeedsConfig
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

_test_ids = itertools.count(1)


@pytest.fixture
def feeds(feed_server) -> Feeds:
    prefix = f"/t{next(_test_ids)}"
    return Feeds(
        make_feed(feed_server, "planet", "Daily Planet", STORIES, prefix),
        make_feed(feed_server, "wire", "Wire Service", WIRE_STORIES, prefix),
        prefix,
        feed_server,
    )


@pytest.fixture
def discord_config() -> DiscordConfig:
    """Override in a test module to change the bot's Discord settings."""
    return DiscordConfig()


@pytest.fixture
def config(tmp_path, discord_config) -> Config:
    # healthy feeds on 127.0.0.1: a generous timeout, so a loaded CI machine cannot fail them (seen at 5 s)
    return Config(
        data=DataConfig(dir=str(tmp_path / "data")),
        embedding=EmbeddingConfig(model="hash-embedder-256"),
        feeds=FeedsConfig(
            allow_private_networks=True, fetch_full_text="never", workers=4, retries=0, timeout_seconds=20.0
        ),
        discord=discord_config,
    )


@pytest.fixture
def desk(config, feeds):
    desk = Newsdesk(config, embedder=HashEmbedder())
    desk.feeds.add(feeds.planet.url, "Daily Planet")
    desk.feeds.add(feeds.wire.url, "Wire Service")
    report = desk.indexing.ingest()
    assert report.feeds_failed == 0 and report.articles_new == len(STORIES) + len(WIRE_STORIES), report.to_dict()
    yield desk
    desk.close()


@pytest.fixture
def simcord_bot(config, desk):
    return create_bot(config, desk)


@dataclass
class World:
    env: object
    guild: object
    general: object
    news: object
    admin_log: object
    admin: object
    member: object

    @property
    def bot(self):
        return self.env.bot

    def set_discord(self, **changes) -> None:
        """Change the running bot's Discord settings (e.g. owners, admin_channel)."""
        cfg = self.env.bot.config
        self.env.bot.config = dataclasses.replace(cfg, discord=dataclasses.replace(cfg.discord, **changes))


@pytest.fixture
def world(simcord_env) -> World:
    env = simcord_env
    guild = env.create_guild("Newsroom")
    general = guild.create_text_channel("general")
    news = guild.create_text_channel("news")
    admin_log = guild.create_text_channel("admin-log")
    editors = guild.create_role("Editors", permissions=discord.Permissions(manage_guild=True))
    admin = guild.add_member(env.create_user("alice"), roles=[editors])
    member = guild.add_member(env.create_user("bob"))
    return World(env, guild, general, news, admin_log, admin, member)
