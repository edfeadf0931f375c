"""HTTP fetching against real misbehaving servers on 127.0.0.1: errors, hangs, trickles,
huge bodies, redirect loops, Retry-After and conditional GET."""

from __future__ import annotations

import dataclasses
import gzip
import time
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from support.archive import feed_row
from support.feeds import Item, article_page, rss20
from support.http import (
    conditional,
    endless,
    hang,
    redirect,
    sequence,
    static,
    trickle_body,
    trickle_headers,
)

import index.ingest.drafts as drafts
from index.errors import FetchError
from index.feeds.fetch import Fetcher

NOW = datetime.now(UTC)


def good_feed(site, path="/good.xml", n=3, title="Good News"):
    items = [
        Item(
            f"{title} story {i}",
            f"Complete story number {i} about the harbour, the council and the weather "
            "in enough words that it is not a teaser at all, so no page is fetched for it.",
            link=site.url(f"/good-{i}.html"),
            guid=f"{path}#{i}",
            date=NOW - timedelta(hours=i),
        )
        for i in range(n)
    ]
    return site.serve(path, rss20(title, items))


def fetcher(config, **changes) -> Fetcher:
    f = Fetcher(dataclasses.replace(config.feeds, **changes))
    f.sleeps = []  # what it would have slept, instead of sleeping
    f.sleep = f.sleeps.append
    return f


# -- failures that are retried ------------------------------------------------------
def test_500_is_retried_then_recorded_against_the_feed_and_other_feeds_still_ingest(site, make_desk, config, sleeps):
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, retries=2))
    desk = make_desk(config)
    bad = site.serve("/broken.xml", b"internal error", status=500, content_type="text/plain")
    good = good_feed(site)
    desk.feeds.add(bad)
    desk.feeds.add(good)
    report = desk.indexing.ingest()
    assert len(site.hits("/broken.xml")) == 3  # first try + 2 retries
    assert sleeps == [1.0, 2.0]  # exponential back-off, asked of fetcher.sleep
    assert report.errors == {bad: "HTTP 500"}
    assert report.feeds_failed == 1 and report.feeds_ok == 1 and report.articles_new == 3
    row = feed_row(desk, bad)
    assert row["status"] == "error" and row["last_error"] == "HTTP 500" and row["failures"] == 1
    assert row["next_poll_at"] > time.time()  # backed off
    assert feed_row(desk, good)["status"] == "ok"
    assert desk.feeds.find(good).articles == 3 and desk.feeds.find(bad).articles == 0


def test_a_404_is_not_retried(site, config):
    url = site.serve("/gone.xml", b"nope", status=404, content_type="text/plain")
    with fetcher(config, retries=3) as f:
        with pytest.raises(FetchError, match="HTTP 404"):
            f.get(url)
        assert f.sleeps == []
    assert len(site.hits("/gone.xml")) == 1


def test_a_transient_500_recovers_on_retry(site, config):
    body = rss20("Flaky", [Item("One", "text", link="http://news.example/1", guid="1")])
    url = site.route("/flaky.xml", sequence(static(b"oops", status=500), static(body)))
    with fetcher(config, retries=1) as f:
        response = f.get(url)
    assert response.status == 200 and response.content == body
    assert f.sleeps == [1.0]


def test_retry_after_on_503_is_honoured(site, config):
    body = rss20("Busy", [Item("One", "text", link="http://news.example/1", guid="1")])
    url = site.route("/busy.xml", sequence(static(b"busy", status=503, headers={"Retry-After": "7"}), static(body)))
    with fetcher(config, retries=2) as f:
        response = f.get(url)
    assert response.status == 200
    assert f.sleeps == [7.0]
    assert len(site.hits("/busy.xml")) == 2


def test_retry_after_as_an_http_date(site, config):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    body = rss20("Busy", [Item("One", "text", link="http://news.example/1", guid="1")])
    url = site.route(
        "/busy-date.xml", sequence(static(b"busy", status=429, headers={"Retry-After": when}), static(body))
    )
    with fetcher(config, retries=1) as f:
        assert f.get(url).status == 200
    assert len(f.sleeps) == 1 and 20 < f.sleeps[0] <= 31


def test_a_retry_after_too_long_gives_up_at_once(site, config):
    url = site.serve("/later.xml", b"come back tomorrow", status=503, headers={"Retry-After": "86400"})
    with fetcher(config, retries=3) as f:
        with pytest.raises(FetchError, match="Retry-After 86400s is too long"):
            f.get(url)
        assert f.sleeps == []
    assert len(site.hits("/later.xml")) == 1


# -- hangs, trickles, floods --------------------------------------------------------
def test_a_server_that_hangs_times_out(site, http_server, config):
    url = site.route("/hang.xml", hang(http_server))
    with fetcher(config, timeout_seconds=1.0, retries=1) as f:
        with pytest.raises(FetchError, match="timed out"):
            f.get(url)
        assert f.sleeps == [1.0]
    assert len(site.hits("/hang.xml")) == 2


def test_a_hanging_feed_fails_alone(site, http_server, make_desk, config, sleeps):
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, timeout_seconds=1.0))
    desk = make_desk(config)
    slow = site.route("/hang.xml", hang(http_server))
    good = good_feed(site)
    desk.feeds.add(slow)
    desk.feeds.add(good)
    report = desk.indexing.ingest()
    assert report.errors[slow].startswith("timed out")
    assert report.articles_new == 3 and report.feeds_ok == 1
    assert feed_row(desk, slow)["status"] == "error"


def test_a_body_trickled_one_byte_a_second_hits_the_overall_deadline(site, http_server, config):
    body = rss20("Slow", [Item("One", "text " * 50, link="http://news.example/1", guid="1")])
    url = site.route("/trickle.xml", trickle_body(body, 1.0, http_server))
    # each byte arrives within the read timeout, so only the overall deadline can stop it
    with fetcher(config, timeout_seconds=1.5, retries=0) as f:
        with pytest.raises(FetchError, match="timed out"):
            f.get(url)


def test_headers_trickled_one_byte_at_a_time_hit_the_overall_deadline(site, http_server, config):
    # a redirect whose status line and headers arrive a byte every 0.1 s: every byte beats the
    # read timeout, and a 3xx has no body whose reading would notice the deadline afterwards
    target = good_feed(site)
    url = site.route(
        "/trickle-head.xml",
        trickle_headers(b"", 0.1, http_server, status="301 Moved Permanently", extra={"Location": target}),
    )
    with fetcher(config, timeout_seconds=1.5, retries=0) as f:  # overall deadline: 2 x 1.5 s
        with pytest.raises(FetchError, match="timed out"):
            f.get(url)
    assert site.hits("/good.xml") == []


def test_fifty_megabytes_are_cut_at_max_body_bytes_without_reading_them_all(site, config):
    sent: list[int] = []
    total = 50_000_000
    url = site.route("/flood.xml", endless(total, sent=sent))
    tracemalloc.start()
    try:
        with fetcher(config, max_body_bytes=1_000_000) as f:
            response = f.get(url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.truncated and len(response.content) == 1_000_000
    assert peak < 8_000_000, f"peak Python allocation {peak} bytes for a 1 MB cap"
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent and sent[0] < total  # the reader hung up long before 50 MB


def test_a_50mb_feed_is_ingested_from_its_first_bytes_with_a_warning(site, make_desk, config):
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, max_body_bytes=300_000))
    desk = make_desk(config)
    words = " ".join(f"word{n}" for n in range(40))
    items = [
        Item(
            f"Flood story {i}",
            f"Story {i} of a feed that never ends, {words}.",
            link=site.url(f"/flood/{i}"),
            guid=f"flood-{i}",
            date=NOW - timedelta(minutes=i),
        )
        for i in range(40)
    ]
    head = rss20("Flood", items).replace(b"</channel></rss>\n", b"")
    filler = (
        f"<item><title>Filler</title><link>{site.url('/filler')}</link><guid>filler</guid>"
        f"<description>filler {words}</description></item>"
    ).encode() * 200
    url = site.route("/flood.xml", endless(50_000_000, head=head, chunk=filler))
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.feeds_ok == 1, report.errors
    assert report.warnings[url].startswith("feed cut off at 300000 bytes")
    assert feed_row(desk, url)["status"] == "warning"
    titles = {r[0] for r in desk.archive.db.execute("SELECT title FROM articles")}
    assert {f"Flood story {i}" for i in range(40)} <= titles


# -- redirects and wrong content ------------------------------------------------------
def test_a_redirect_loop_is_an_error(site, config):
    a = site.route("/loop-a.xml", redirect(site.url("/loop-b.xml")))
    site.route("/loop-b.xml", redirect(site.url("/loop-a.xml"), status=301))
    with fetcher(config, retries=0) as f:
        with pytest.raises(FetchError, match="redirect loop"):
            f.get(a)
    assert len(site.hits("/loop-a.xml")) == 1 and len(site.hits("/loop-b.xml")) == 1


def test_too_many_redirects_is_an_error(site, config):
    for i in range(8):
        site.route(f"/hop{i}.xml", redirect(site.url(f"/hop{i + 1}.xml"), status=307))
    good_feed(site, "/hop8.xml")
    with fetcher(config, retries=0, max_redirects=5) as f:
        with pytest.raises(FetchError, match="too many redirects"):
            f.get(site.url("/hop0.xml"))
    with fetcher(config, retries=0, max_redirects=10) as f:
        response = f.get(site.url("/hop0.xml"))
    assert response.status == 200 and response.url == site.url("/hop8.xml")


def test_a_redirected_feed_ingests_from_its_new_home(site, make_desk, config):
    desk = make_desk(config)
    new_home = good_feed(site, "/new-home.xml")
    old = site.route("/old-home.xml", redirect(new_home, status=301))
    desk.feeds.add(old)
    report = desk.indexing.ingest()
    assert report.articles_new == 3 and not report.errors


def test_redirect_loop_and_html_page_are_per_feed_errors(site, make_desk, config):
    desk = make_desk(config)
    loop = site.route("/loop.xml", redirect(site.url("/loop.xml")))
    page = site.serve(
        "/page.html",
        article_page("Not a feed", ["This is a web page, not a feed."]),
        content_type="text/html; charset=utf-8",
    )
    good = good_feed(site)
    for url in (loop, page, good):
        desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert "redirect loop" in report.errors[loop]
    assert report.errors[page] == "the URL returned an HTML web page, not an RSS or Atom feed"
    assert report.feeds_ok == 1 and report.articles_new == 3
    assert feed_row(desk, page)["status"] == "error"


# -- conditional GET ------------------------------------------------------------------
def test_conditional_get_304_costs_no_parsing(site, make_desk, config, monkeypatch):
    desk = make_desk(config)
    etag, modified = '"v1-abc"', "Wed, 21 Oct 2015 07:28:00 GMT"
    items = [
        Item(
            f"Story {i}",
            f"Full text of story {i}, long enough to be an article by itself in the archive "
            "without any page fetch at all.",
            link=site.url(f"/c{i}.html"),
            guid=f"c{i}",
            date=NOW - timedelta(hours=i),
        )
        for i in range(3)
    ]
    url = site.route("/cond.xml", conditional(rss20("Conditional", items), etag, modified))
    desk.feeds.add(url)
    first = desk.indexing.ingest()
    assert first.articles_new == 3 and first.passages_embedded >= 3
    assert "if-none-match" not in site.hits("/cond.xml")[0].headers
    row = feed_row(desk, url)
    assert row["etag"] == etag and row["last_modified"] == modified

    parsed = []
    real_parse = drafts.parse_feed
    monkeypatch.setattr(drafts, "parse_feed", lambda *a, **k: parsed.append(a) or real_parse(*a, **k))
    second = desk.indexing.ingest()
    hit = site.hits("/cond.xml")[-1]
    assert hit.headers.get("if-none-match") == etag and hit.headers.get("if-modified-since") == modified
    assert second.feeds_not_modified == 1 and second.feeds_ok == 1
    assert (second.articles_new, second.articles_updated, second.articles_unchanged) == (0, 0, 0)
    assert second.passages_embedded == 0 and parsed == []
    assert feed_row(desk, url)["etag"] == etag  # validators kept for the next poll

    full = desk.indexing.ingest(full=True)  # --full ignores the validators and re-reads every entry
    assert "if-none-match" not in site.hits("/cond.xml")[-1].headers
    assert len(parsed) == 1 and full.feeds_not_modified == 0
    assert full.articles_unchanged == 3 and full.articles_new == 0 and full.passages_embedded == 0


def test_an_unchanged_feed_without_validators_re_embeds_nothing(site, desk):
    url = good_feed(site)
    desk.feeds.add(url)
    assert desk.indexing.ingest().articles_new == 3
    again = desk.indexing.ingest()
    assert again.feeds_not_modified == 0
    assert (again.articles_new, again.articles_updated, again.articles_unchanged) == (0, 0, 3)
    assert again.passages_embedded == 0 and again.vectors_deleted == 0


def test_user_agent_and_accept_headers_are_sent(site, config):
    url = good_feed(site)
    with fetcher(config) as f:
        f.get(url)
    headers = site.hits("/good.xml")[-1].headers
    assert headers["user-agent"].startswith("newsdesk/")
    assert "application/rss+xml" in headers["accept"]


# -- compressed bodies: the cap counts decompressed bytes as they come -------------------
def gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzip-compressed (about size / 1000), built a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1_000_000)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


def peak_while(call) -> tuple[object, int]:
    """(what the call returned or raised, the peak of Python allocations during it, bytes)."""
    tracemalloc.start()
    try:
        try:
            result: object = call()
        except Exception as exc:  # noqa: BLE001 - returned for the test to look at
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stacked_gzip_is_refused_and_never_expanded(site, config):
    # 200 MB of zeros, gzipped twice: a few hundred bytes on the wire
    body = gzip.compress(gzip_of_zeros(200_000_000), 9)
    assert len(body) < 2_000
    url = site.serve("/bomb.xml", body, headers={"Content-Encoding": "gzip, gzip"})
    with fetcher(config, max_body_bytes=1_000_000, retries=0) as f:
        result, peak = peak_while(lambda: f.get(url))
    assert isinstance(result, FetchError) and "stacked content encodings" in str(result)
    assert peak < 20_000_000  # never near the 200 MB inside


def test_a_gzip_bomb_is_cut_at_the_cap_counted_decompressed(site, config):
    body = gzip_of_zeros(200_000_000)  # ~200 KB on the wire
    url = site.serve("/zeros.xml", body, headers={"Content-Encoding": "gzip"})
    with fetcher(config, max_body_bytes=1_000_000, retries=0) as f:
        result, peak = peak_while(lambda: f.get(url))
    assert not isinstance(result, Exception), result
    assert result.truncated and result.content == bytes(1_000_000)
    assert peak < 20_000_000  # the cap and a chunk or two, not the 200 MB inside


def test_gzip_and_deflate_bodies_still_read_whole(site, config):
    feed = rss20("Packed", [Item("Packed story", "text", link=site.url("/p"), guid="p")])
    gz = site.serve("/gz.xml", gzip.compress(feed), headers={"Content-Encoding": "gzip"})
    zl = site.serve("/zl.xml", zlib.compress(feed), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    rd = site.serve("/rd.xml", raw.compress(feed) + raw.flush(), headers={"Content-Encoding": "deflate"})
    with fetcher(config, retries=0) as f:
        for url in (gz, zl, rd):
            response = f.get(url)
            assert response.content == feed and not response.truncated
