"""One feed's share of a poll: a time budget, and caps on the new entries it archives and the
linked pages it fetches. What does not fit waits for the next poll (nothing is dropped); a feed
past its time is recorded as failing, and the other feeds go on."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from support.archive import archived_urls, feed_row
from support.feeds import Item, article_page, rss20
from support.http import HTML_TYPE, delayed, static

NOW = datetime.now(UTC)
LONG = (
    "A complete story about the harbour, the council and the weather, told in enough words that it "
    "is no teaser at all, so the feed's own text is what the archive keeps and no page is fetched."
)


def shared(config, **feeds):
    return dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, **feeds))


def full_text_feed(site, n: int) -> str:
    items = [
        Item(f"Story {i}", LONG, link=site.url(f"/full-{i}.html"), guid=f"full-{i}", date=NOW - timedelta(hours=i))
        for i in range(n)
    ]
    return site.serve("/full.xml", rss20("Full", items))


def teaser_feed(site, n: int, *, page_delay: float = 0.0, server=None) -> str:
    items = []
    for i in range(n):
        page = article_page(f"Teaser {i}", [f"The whole story number {i}, as the page tells it. " * 12])
        handler = static(page, content_type=HTML_TYPE)
        site.route(f"/teaser-{i}.html", delayed(handler, page_delay, server) if page_delay else handler)
        items.append(
            Item(
                f"Teaser {i}",
                "It starts…",
                link=site.url(f"/teaser-{i}.html"),
                guid=f"t-{i}",
                date=NOW - timedelta(hours=i),
            )
        )
    return site.serve("/teasers.xml", rss20("Teasers", items))


def test_new_entries_past_the_cap_wait_for_the_next_poll(site, make_desk, config):
    desk = make_desk(shared(config, max_entries_per_poll=2))
    url = full_text_feed(site, 5)
    desk.feeds.add(url)

    first = desk.indexing.ingest()
    assert first.articles_new == 2
    assert "3 more entries wait for the next poll" in first.warnings[url]
    assert feed_row(desk, url)["etag"] is None  # read in full again next time
    assert desk.indexing.ingest().articles_new == 2
    assert desk.indexing.ingest().articles_new == 1
    assert archived_urls(desk) == {site.url(f"/full-{i}.html") for i in range(5)}  # nothing dropped
    last = desk.indexing.ingest()
    assert last.articles_new == 0 and url not in last.warnings


def test_page_fetches_past_the_cap_wait_for_the_next_poll(site, make_desk, config):
    desk = make_desk(shared(config, max_page_fetches_per_poll=2))
    url = teaser_feed(site, 5)
    desk.feeds.add(url)

    assert desk.indexing.ingest().articles_new == 2
    assert sum(len(site.hits(f"/teaser-{i}.html")) for i in range(5)) == 2
    assert desk.indexing.ingest().articles_new == 2
    assert desk.indexing.ingest().articles_new == 1
    assert sum(len(site.hits(f"/teaser-{i}.html")) for i in range(5)) == 5  # each page once
    sources = {r[0] for r in desk.archive.db.execute("SELECT text_source FROM articles")}
    assert sources == {"page"}  # every teaser got its full text, none was archived short


def test_a_feed_past_its_time_is_recorded_as_failing_and_the_others_go_on(site, http_server, make_desk, config):
    # each page answers after 0.6 s: the slow feed passes its 1 s budget by its third entry
    desk = make_desk(shared(config, feed_budget_seconds=1.0))
    slow = teaser_feed(site, 6, page_delay=0.6, server=http_server)
    fine = full_text_feed(site, 3)
    desk.feeds.add(slow)
    desk.feeds.add(fine)

    report = desk.indexing.ingest()

    assert "longer than its budget of 1 s" in report.errors[slow]
    assert "the rest is read on the next poll" in report.errors[slow]
    assert feed_row(desk, slow)["status"] == "error" and "budget" in feed_row(desk, slow)["last_error"]
    assert feed_row(desk, fine)["status"] == "ok" and desk.feeds.find(fine).articles == 3
    kept = desk.feeds.find(slow).articles
    assert 1 <= kept < 6  # what it read before its time ran out is archived

    # with time enough, the next poll reads the rest (the archived ones are recognised, not re-fetched)
    desk.parts.config = shared(config, feed_budget_seconds=120.0)  # each ingest reads this config
    desk.indexing.ingest()
    assert desk.feeds.find(slow).articles == 6
    assert all(len(site.hits(f"/teaser-{i}.html")) == 1 for i in range(6))
