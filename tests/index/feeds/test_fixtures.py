"""Real-world feeds from ../shared/fixtures/feeds (see its MANIFEST.txt), all served over HTTP and
ingested in one run: nothing escapes, each feed ends with articles or with its own error, and a
good feed in the same run is unaffected. Skipped when ../shared is absent."""

from __future__ import annotations

import dataclasses
import re

import pytest
from support.config import SHARED, make_config
from support.feeds import Item, rss20
from support.http import Site, static

from index.errors import FeedError
from index.feeds.parse import parse_feed
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

FIXTURES = SHARED / "fixtures" / "feeds"
FILES = (
    sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".xml", ".rss", ".json", ".rdf", ".atom"))
    if FIXTURES.is_dir()
    else []
)
pytestmark = pytest.mark.skipif(not FILES, reason="../shared/fixtures/feeds is absent")


def name(path) -> str:
    return str(path.relative_to(FIXTURES))


def content_type(path) -> str:
    return "application/feed+json" if path.suffix == ".json" else "application/xml"


def expected(path) -> tuple[str, int]:
    """What parse_feed makes of the file on its own: ('entries', n), ('empty', 0) or ('error', 0)."""
    try:
        parsed = parse_feed(path.read_bytes(), "http://fixtures.example/" + name(path), content_type(path))
    except FeedError:
        return "error", 0
    return ("entries", len(parsed.entries)) if parsed.entries else ("empty", 0)


@pytest.fixture(scope="module")
def ingested(http_server, tmp_path_factory):
    site = Site(http_server, "/fixtures")
    config = make_config(tmp_path_factory.mktemp("fixtures") / "data")
    # the fixtures link to the real web: read what the feeds carry, fetch no pages
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, fetch_full_text="never"))
    desk = Newsdesk(config, embedder=HashEmbedder())
    urls = {}
    for path in FILES:
        urls[name(path)] = site.route("/" + name(path), static(path.read_bytes(), content_type=content_type(path)))
        desk.feeds.add(urls[name(path)])
    good = site.serve(
        "/good.xml",
        rss20(
            "Good Control Feed",
            [
                Item(
                    f"Control story {i}",
                    f"Control story {i} is an ordinary item in an ordinary feed, long enough to be archived as it is.",
                    link=site.url(f"/control/{i}.html"),
                    guid=f"control-{i}",
                )
                for i in range(3)
            ],
        ),
    )
    desk.feeds.add(good)
    report = desk.indexing.ingest()  # no exception may escape
    yield desk, report, urls, good
    desk.close()


def test_the_run_completes_and_the_good_feed_is_ingested(ingested):
    desk, report, urls, good = ingested
    assert report.feeds_ok + report.feeds_failed == len(urls) + 1
    assert desk.feeds.find(good).articles == 3 and desk.feeds.find(good).status == "ok"
    assert not [e for e in report.errors.values() if e.startswith("internal error")]
    assert desk.parts.store_or_open().all_ids() == desk.archive.all_passage_ids()


def test_a_second_run_over_the_same_feeds_changes_nothing(ingested):
    # (laminas/ holds a blog's Atom and RSS feeds: the same GUIDs with slightly different text)
    desk, _, urls, _ = ingested
    before = desk.archive.counts()
    again = desk.indexing.ingest()
    assert (again.articles_new, again.articles_updated, again.passages_embedded, again.vectors_deleted) == (0, 0, 0, 0)
    assert desk.archive.counts() == before


@pytest.mark.parametrize("path", FILES, ids=name)
def test_each_fixture_ends_with_articles_or_its_own_error(ingested, path):
    desk, report, urls, _ = ingested
    feed = desk.feeds.find(urls[name(path)])
    outcome, entries = expected(path)
    if outcome == "entries":
        assert feed.status in ("ok", "warning"), feed.last_error
        assert 0 < feed.articles <= entries
        if feed.status == "warning":
            assert feed.warning
    elif outcome == "error":
        assert feed.status == "error" and feed.last_error and feed.articles == 0
        assert report.errors[feed.url] == feed.last_error
    else:  # a valid feed that lists no entries: archived nothing, and says so
        assert feed.status == "warning" and feed.articles == 0
        assert "lists no entries" in feed.warning


def texts_of(desk, url) -> list[str]:
    feed = desk.feeds.find(url)
    return [
        r[0]
        for r in desk.archive.db.execute(
            "SELECT a.title || '\n' || a.text FROM articles a JOIN article_feeds af ON af.article_id = a.id "
            "WHERE af.feed_id = ?",
            [feed.id],
        )
    ]


def test_wordpress_trailers_are_gone(ingested):
    desk, _, urls, _ = ingested
    key = "codehollow/Rss20CodeHollowCom.xml"
    if key not in urls:
        pytest.skip(f"{key} not in this fixture set")
    texts = texts_of(desk, urls[key])
    assert len(texts) == 10
    assert not [t for t in texts if "appeared first on" in t]


def test_encodings_come_out_as_text(ingested):
    desk, _, urls, _ = ingested
    checks = {
        "miniflux/encoding_WINDOWS-1251.xml": re.compile(r"[А-Яа-я]{4}"),
        "miniflux/urdu_UTF8.xml": re.compile(r"[\u0600-\u06ff]{3}"),
        "codehollow/Rss091Stadtfeuerwehr.xml": re.compile(r"[äöüß]"),
        "feedparser/encoding__utf-16le-bom.xml": None,
    }
    for key, pattern in checks.items():
        if key not in urls or pattern is None:
            continue
        texts = texts_of(desk, urls[key])
        assert texts and any(pattern.search(t) for t in texts), key
        assert not any("\ufffd" in t for t in texts), key


def test_mojibake_is_repaired(ingested):
    desk, _, urls, _ = ingested
    key = "codehollow/Rss20LeMonde.xml"
    if key not in urls:
        pytest.skip(f"{key} not in this fixture set")
    joined = "\n".join(texts_of(desk, urls[key]))
    assert "Ã©" not in joined and "é" in joined


def test_json_feed_fixture_is_read(ingested):
    desk, _, urls, _ = ingested
    key = "feedjira/json_feed.json"
    if key not in urls:
        pytest.skip(f"{key} not in this fixture set")
    feed = desk.feeds.find(urls[key])
    assert feed.status == "ok" and feed.articles == 20
