"""A host whose article pages keep failing is not hammered: after a few failed page fetches in a
row, the rest of the pass archives its entries from their feed text without fetching; the next
pass tries their pages again (and takes the full text once the host answers)."""

from __future__ import annotations

import dataclasses
import http.server
import logging
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from support.archive import articles
from support.feeds import Item, article_page, rss20

from index.ingest import pipeline
from index.ingest.hosts import HOST_FAILURE_LIMIT

NOW = datetime.now(UTC)
ENTRIES = 7
TEASER = "Only the opening of the story is in the feed; the rest is on the page…"
PARAGRAPHS = [
    "The regional ferry operator cancelled every crossing on Friday after a storm damaged the pier at the "
    "northern terminal, leaving hundreds of passengers waiting in the harbour hall overnight.",
    "Engineers expect repairs to take at least a week, and the operator said it would add extra sailings "
    "from the southern terminal in the meantime.",
]


def free_port() -> int:
    """A loopback port nothing listens on: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tries(monkeypatch) -> dict[str, int]:
    """Connection attempts per host:port made by the ingest's fetcher (each retry counts); its
    retry back-off does not sleep."""
    made: dict[str, int] = {}

    class CountingFetcher(pipeline.Fetcher):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.sleep = lambda seconds: None

        def _get_once(self, url, *args):
            netloc = url.split("/")[2]
            made[netloc] = made.get(netloc, 0) + 1
            return super()._get_once(url, *args)

    monkeypatch.setattr(pipeline, "Fetcher", CountingFetcher)
    return made


def serve_pages_on(port: int) -> http.server.ThreadingHTTPServer:
    page = article_page("Storm closes the ferry pier", PARAGRAPHS)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_refusing_host_costs_a_bounded_number_of_tries_per_pass_and_its_pages_come_later(
    site, make_desk, config, tries, caplog
):
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, retries=2, fetch_full_text="auto"))
    desk = make_desk(config)
    dead = f"127.0.0.1:{free_port()}"
    feed_url = site.serve(
        "/backoff.xml",
        rss20(
            "Harbour Wire",
            [
                Item(
                    f"Ferry news {i}",
                    f"{TEASER} ({i})",
                    link=f"http://{dead}/story/{i}.html",
                    guid=f"ferry-{i}",
                    date=NOW - timedelta(hours=i),
                )
                for i in range(ENTRIES)
            ],
        ),
    )
    desk.feeds.add(feed_url)
    attempts = config.feeds.retries + 1

    with caplog.at_level(logging.WARNING, logger="index.ingest.hosts"):
        report = desk.indexing.ingest()
    # every entry archived from its feed text; the host tried for HOST_FAILURE_LIMIT pages only
    assert report.articles_new == ENTRIES and report.feeds_ok == 1
    rows = articles(desk)
    assert len(rows) == ENTRIES and all(r["text"].startswith(TEASER) for r in rows)
    assert all(r["text_source"] == "feed-summary (page later)" for r in rows)
    assert tries[dead] == HOST_FAILURE_LIMIT * attempts < ENTRIES * attempts
    assert sum("stop for this pass" in r.getMessage() for r in caplog.records) == 1

    # the next pass tries the pages again (the feed is read anew, not answered with a 304)
    tries.clear()
    report = desk.indexing.ingest()
    assert tries[dead] == HOST_FAILURE_LIMIT * attempts
    assert report.articles_new == 0 and len(articles(desk)) == ENTRIES

    # the host answers again: the pass after takes every page's full text
    server = serve_pages_on(int(dead.split(":")[1]))
    try:
        tries.clear()
        report = desk.indexing.ingest()
    finally:
        server.shutdown()
        server.server_close()
    assert tries[dead] == ENTRIES and report.articles_updated == ENTRIES
    rows = articles(desk)
    assert all(r["text_source"] == "page" and "ferry operator" in r["text"] for r in rows)
    # and a pass after that fetches no page: nothing is left to try
    tries.clear()
    desk.indexing.ingest()
    assert dead not in tries


def test_a_host_that_answers_with_errors_is_not_held_off(site, make_desk, config, tries):
    """A 404 is the page's answer, not a failing host: every entry's page is tried, once."""
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, retries=2, fetch_full_text="auto"))
    desk = make_desk(config)
    feed_url = site.serve(
        "/gone.xml",
        rss20(
            "Gone Gazette",
            [
                Item(f"Gone {i}", f"{TEASER} [{i}]", link=site.url(f"/gone/{i}.html"), guid=f"gone-{i}", date=NOW)
                for i in range(ENTRIES)
            ],
        ),
    )
    desk.feeds.add(feed_url)
    desk.indexing.ingest()
    assert all(len(site.hits(f"/gone/{i}.html")) == 1 for i in range(ENTRIES))
    assert all(r["text_source"] == "feed-summary (page failed)" for r in articles(desk))
