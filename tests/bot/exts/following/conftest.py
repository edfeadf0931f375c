"""The following-stories tests' archive: three outlets reporting the same stories with different
figures (support.stories), served on 127.0.0.1 and ingested by a real Newsdesk."""

from __future__ import annotations

import itertools

import pytest
from support import stories

from index.config import DiscordConfig
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

_ids = itertools.count(1)


@pytest.fixture
def discord_config() -> DiscordConfig:
    return DiscordConfig(search_cooldown_seconds=0)  # several commands in a row per test


@pytest.fixture
def newsroom(feed_server) -> stories.Newsroom:
    return stories.serve(feed_server, f"/following{next(_ids)}")


@pytest.fixture
def desk(config, newsroom):
    desk = Newsdesk(config, embedder=HashEmbedder())
    for name, feed in newsroom.feeds.items():
        desk.add_feed(feed.url, name)
    report = desk.ingest()
    assert report.feeds_failed == 0 and report.articles_new == len(stories.ITEMS), report.to_dict()
    yield desk
    desk.close()
