"""Client-server Chroma: a real `chroma run` on 127.0.0.1 gives the same ingest, search and
doctor results as the embedded store. Skipped when the server cannot be started."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from support.archive import assert_consistent
from support.config import with_index
from support.feeds import Item, long_text, rss20
from support.http import free_port

from index.errors import IndexUnavailable

pytestmark = pytest.mark.chroma_server
NOW = datetime.now(UTC)
QUERIES = [
    "lava fissures near the crater",
    "interest rates and mortgage repayments",
    "deep-sea octopus eggs",
    "championship final goal in extra time",
    "harbour",
]


def fill(site, desk):
    topics = ("volcano", "bank", "octopus", "football")
    desk.feeds.add(
        site.serve(
            "/server.xml",
            rss20(
                "Server Times",
                [
                    Item(
                        f"{t.title()} story {i}",
                        f"Story {i}. " + long_text(t, 6 + i),
                        link=site.url(f"/{t}-{i}.html"),
                        guid=f"{t}-{i}",
                        date=NOW - timedelta(hours=3 * i + j),
                    )
                    for i in range(3)
                    for j, t in enumerate(topics)
                ],
            ),
        )
    )
    return desk.indexing.ingest()


def results(desk) -> list[list[tuple[str, float]]]:
    return [[(h.article.guid, round(h.score, 4)) for h in desk.retriever.search(q).hits] for q in QUERIES]


def test_server_mode_gives_the_same_results_as_embedded_mode(chroma_server, site, make_desk, config, tmp_path):
    url = chroma_server.url
    embedded = make_desk(config)
    served_config = with_index(
        dataclasses.replace(config, data=dataclasses.replace(config.data, dir=str(tmp_path / "s"))),
        chroma_url=url,
        collection="server_mode",
    )
    served = make_desk(served_config)

    first, second = fill(site, embedded), fill(site, served)
    assert first.to_dict() | {"seconds": 0} == second.to_dict() | {"seconds": 0}
    assert served.health.stats()["index"] == url
    assert served.parts.store_or_open().count() == served.archive.counts()["passages"] > 0
    assert results(served) == results(embedded)
    assert all(results(served))
    assert served.health.doctor().ok and served.health.doctor().problems == []
    assert_consistent(served)

    # an update goes through the server too: old vectors deleted, new ones written
    site.serve(
        "/server.xml",
        rss20(
            "Server Times",
            [
                Item(
                    "Volcano story 0",
                    "Story 0 rewritten. " + long_text("octopus", 9),
                    link=site.url("/volcano-0.html"),
                    guid="volcano-0",
                    date=NOW,
                )
            ],
        ),
    )
    report = served.indexing.ingest()
    assert report.articles_updated == 1 and report.vectors_deleted > 0
    assert_consistent(served)
    assert served.health.doctor().problems == []


def test_an_unreachable_server_stops_the_ingest_before_anything_is_archived(site, make_desk, config):
    port = free_port()  # a port where no server listens
    desk = make_desk(with_index(config, chroma_url=f"http://127.0.0.1:{port}"))
    desk.feeds.add(
        site.serve(
            "/gone.xml", rss20("Gone", [Item("A story", long_text("bank", 5), link=site.url("/a.html"), guid="a")])
        )
    )
    with pytest.raises(IndexUnavailable, match=f"vector index at http://127.0.0.1:{port} is unavailable"):
        desk.indexing.ingest()
    assert desk.archive.counts()["articles"] == 0
