"""Fixtures for the index tests: a real HTTP server on 127.0.0.1, real SQLite and embedded Chroma
in temporary directories, and the deterministic hash embedder."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from support.config import make_config
from support.feeds import Item, long_text, rss20
from support.http import Site

import index.ingest.pipeline as pipeline
from index.feeds.fetch import Fetcher
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

_prefixes = itertools.count(1)
NOW = datetime.now(UTC)


@pytest.fixture
def site(http_server) -> Site:
    """This test's paths on the shared server."""
    return Site(http_server, f"/s{next(_prefixes)}")


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path / "data")


@pytest.fixture
def make_desk():
    """Newsdesk(config, HashEmbedder()), closed at the end of the test; embedder=None loads the
    model the config names."""
    desks = []

    def make(config, embedder="hash"):
        desk = Newsdesk(config, embedder=HashEmbedder() if embedder == "hash" else embedder)
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.close()


@pytest.fixture
def desk(make_desk, config):
    return make_desk(config)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """Retry back-off delays the ingest's fetcher asked for; nothing actually sleeps."""
    delays: list[float] = []

    class RecordingFetcher(Fetcher):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.sleep = delays.append

    monkeypatch.setattr(pipeline, "Fetcher", RecordingFetcher)
    return delays


def serve(site: Site, name: str, topics: list[str]) -> str:
    return site.serve(
        f"/{name}.xml",
        rss20(
            f"{name.title()} Post",
            [
                Item(
                    f"{t.title()} news",
                    long_text(t, 6),
                    link=site.url(f"/{name}/{t}.html"),
                    guid=f"{name}-{t}",
                    date=NOW - timedelta(days=i + 1),
                )
                for i, t in enumerate(topics)
            ],
        ),
    )


@pytest.fixture
def two_servers(desk, site):
    """Guild 1 owns a feed, guild 2 owns another, and one feed is global."""
    one, _ = desk.feeds.add(serve(site, "north", ["volcano", "bank"]), guild_id=1)
    two, _ = desk.feeds.add(serve(site, "south", ["octopus"]), guild_id=2)
    shared, _ = desk.feeds.add(serve(site, "wire", ["football"]))
    report = desk.indexing.ingest()
    assert report.articles_new == 4 and not report.errors
    return desk, one, two, shared
