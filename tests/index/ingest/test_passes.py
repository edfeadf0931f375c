"""A one-shot ingest reads on until every feed is complete: the feeds with entries past their poll
share are read again, pass after pass, each pass with the same share; a poll stays one pass."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from support.archive import archived_urls, feed_row
from support.cli import Cli, write_config
from support.feeds import Item, article_page, rss20
from support.http import HTML_TYPE, static

from index.worker import run_worker

NOW = datetime.now(UTC)
LONG = (
    "A complete story about the harbour, the council and the weather, told in enough words that it "
    "is no teaser at all, so the feed's own text is what the archive keeps and no page is fetched."
)


def shared(config, **feeds):
    return dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, **feeds))


def full_text_feed(site, n: int, name: str = "full") -> str:
    items = [
        Item(f"{name} {i}", LONG, link=site.url(f"/{name}-{i}.html"), guid=f"{name}-{i}", date=NOW - timedelta(hours=i))
        for i in range(n)
    ]
    return site.serve(f"/{name}.xml", rss20(name, items))


def teaser_feed(site, n: int) -> str:
    items = []
    for i in range(n):
        page = article_page(f"Teaser {i}", [f"The whole story number {i}, as the page tells it. " * 12])
        site.route(f"/teaser-{i}.html", static(page, content_type=HTML_TYPE))
        link = site.url(f"/teaser-{i}.html")
        items.append(Item(f"Teaser {i}", "It starts…", link=link, guid=f"t-{i}", date=NOW - timedelta(hours=i)))
    return site.serve("/teasers.xml", rss20("Teasers", items))


def test_a_one_shot_ingest_archives_every_entry_pass_after_pass(site, make_desk, config):
    desk = make_desk(shared(config, max_entries_per_poll=3))
    url = full_text_feed(site, 7)
    desk.feeds.add(url)
    events: list[tuple[str, dict]] = []

    report = desk.indexing.ingest(complete=True, progress=lambda event, **info: events.append((event, info)))

    assert report.articles_new == 7 and report.passes == 3
    assert archived_urls(desk) == {site.url(f"/full-{i}.html") for i in range(7)}
    assert len(site.hits("/full.xml")) == 3  # one read per pass
    assert report.feeds_ok == 1 and report.feeds_failed == 0  # the feed counted once
    assert url not in report.warnings and report.deferred == {}  # its last state: complete
    assert feed_row(desk, url)["status"] == "ok"
    assert [info["feeds"] for event, info in events if event in ("start", "pass")] == [1, 1, 1]
    assert sum(event == "feed" for event, _ in events) == 3


def test_a_poll_archives_one_share(site, make_desk, config):
    desk = make_desk(shared(config, max_entries_per_poll=3))
    url = full_text_feed(site, 7)
    desk.feeds.add(url)

    run_worker(desk, once=True)  # the worker's (and the bot's) poll: ingest(due_only=True)

    assert desk.feeds.find(url).articles == 3
    assert len(site.hits("/full.xml")) == 1
    assert "4 more entries wait for the next poll" in feed_row(desk, url)["warning"]


def test_only_the_deferred_feeds_are_read_again(site, make_desk, config):
    desk = make_desk(shared(config, max_entries_per_poll=3, max_page_fetches_per_poll=3))
    big = full_text_feed(site, 7)
    teasers = teaser_feed(site, 5)  # five page fetches: two passes
    small = full_text_feed(site, 2, "small")
    for url in (big, teasers, small):
        desk.feeds.add(url)

    report = desk.indexing.ingest(complete=True)

    assert report.passes == 3 and report.feeds_ok == 3
    assert report.articles_new == 7 + 5 + 2 and report.articles_unchanged == 0
    assert len(site.hits("/small.xml")) == 1
    assert len(site.hits("/teasers.xml")) == 2
    assert len(site.hits("/full.xml")) == 3
    assert all(len(site.hits(f"/teaser-{i}.html")) == 1 for i in range(5))  # each page once


def test_a_feed_that_makes_no_progress_stops(site, make_desk, config):
    # no page fetch allowed: every teaser waits, pass after pass; the second pass shows no progress
    desk = make_desk(shared(config, max_page_fetches_per_poll=0))
    url = teaser_feed(site, 4)
    desk.feeds.add(url)

    report = desk.indexing.ingest(complete=True)

    assert report.passes == 2
    assert len(site.hits("/teasers.xml")) == 2
    assert report.articles_new == 0 and report.deferred == {desk.feeds.find(url).id: 4}
    assert "4 more entries wait for the next poll" in report.warnings[url]


def test_the_cli_reads_on_and_one_pass_stops_at_the_share(site, tmp_path):
    url = full_text_feed(site, 7)
    path = write_config(tmp_path / "cli")
    path.write_text(path.read_text().replace("[feeds]\n", "[feeds]\nmax_entries_per_poll = 3\n"))
    run = Cli(path)
    run("feeds", "add", url)

    first = run.json("ingest", "--json", "--one-pass")
    assert first["articles_new"] == 3 and "wait for the next poll" in first["warnings"][url]
    rest = run.json("ingest", "--json")
    assert rest["articles_new"] == 4 and rest["feeds_ok"] == 1 and rest["warnings"] == {}
