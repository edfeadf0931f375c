"""index.service.Newsdesk, the one API the bot and the command line call: validation before any
search, server scope on every read, and deliveries claimed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.feeds import Item, long_text, rss20
from support.http import Site

from index.errors import BadQuery, NotFound, PermissionDenied
from index.models import GLOBAL, Scope

NOW = datetime.now(UTC)


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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"question": "   "}, "empty"),
        ({"question": "?!"}, "no words"),
        ({"question": "volcano", "since": "not a date at all"}, "since"),
        ({"question": "volcano", "since": "2024-05-02", "until": "2024-05-01"}, "since is after until"),
    ],
)
def test_check_query_refuses_before_searching(desk, kwargs, message):
    question = kwargs.pop("question")
    with pytest.raises(BadQuery, match=message):
        desk.reading.check_query(question, **kwargs)


def test_check_query_knows_the_sources_in_scope(two_servers):
    desk, *_ = two_servers
    desk.reading.check_query("volcano", source="North Post", scope=Scope(1, everything=False))
    with pytest.raises(BadQuery, match="unknown source 'North Post'"):
        desk.reading.check_query("volcano", source="North Post", scope=Scope(2, everything=False))
    desk.reading.check_query(None, source="Wire Post", scope=Scope(2, everything=False))  # options only


def test_reads_are_scoped_to_the_server(two_servers):
    desk, one, two, shared = two_servers
    guild1, guild2 = Scope(1, everything=False), Scope(2, everything=False)
    assert {f.id for f in desk.archive.list_feeds(guild1)} == {one.id, shared.id}
    assert {f.id for f in desk.archive.list_feeds(GLOBAL)} == {one.id, two.id, shared.id}
    hits = desk.retriever.search("volcano bank octopus football", limit=10, scope=guild2).hits
    assert hits and {h.article.outlet for h in hits} <= {"South Post", "Wire Post"}
    north = next(h.article for h in desk.retriever.search("volcano", limit=5).hits if h.article.outlet == "North Post")
    assert desk.reading.article(north.id, guild1).id == north.id
    with pytest.raises(NotFound):
        desk.reading.article(north.id, guild2)
    with pytest.raises(NotFound):
        desk.reading.passage_texts(north.id, guild2)
    article, texts = desk.reading.passage_texts(north.id, guild1)
    assert article.id == north.id and texts and all(t in article.text for t in texts[:1])


def test_feeds_are_managed_by_their_server_only(two_servers):
    desk, one, two, shared = two_servers
    with pytest.raises(NotFound):
        desk.feeds.find(two.id, Scope(1, everything=False), manage=True)
    with pytest.raises(PermissionDenied):
        desk.feeds.find(shared.id, Scope(1, everything=False), manage=True)
    assert desk.feeds.find(shared.id, Scope(1, everything=False)).id == shared.id  # seeing is not managing


def test_each_post_and_notice_is_claimed_once(two_servers):
    desk, one, *_ = two_servers
    article = desk.retriever.search("volcano", limit=1).hits[0].article
    assert desk.archive.claim_delivery(555, article.id, one.id) is True
    assert desk.archive.claim_delivery(555, article.id, one.id) is False
    assert desk.archive.claim_delivery(556, article.id, one.id) is True  # another channel is another delivery
    assert desk.archive.unannounced_feed_health() == []  # every feed fetched fine: nothing to announce
    assert desk.archive.claim_feed_notice(one.id, "error") is True
    assert desk.archive.claim_feed_notice(one.id, "error") is False
