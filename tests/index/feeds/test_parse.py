"""Feed formats and odd feeds, parsed and ingested over HTTP; OPML import and export."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from support.archive import articles, feed_row
from support.feeds import Item, atom, json_feed, rss091, rss092, rss10, rss20
from support.http import HTML_TYPE

from index.errors import FeedError
from index.feeds.opml import parse_opml
from index.feeds.parse import parse_feed

NOW = datetime.now(UTC)
BODY = (
    "reported from the harbour where the council met late into the evening to decide the budget for "
    "the coming year, with residents filling the public gallery"
)


def items(site, tag: str, n: int = 2, **extra) -> list[Item]:
    return [
        Item(
            f"{tag} headline {i}",
            f"{tag} story {i} {BODY}.",
            link=site.url(f"/{tag}/{i}.html"),
            guid=f"{tag}-{i}",
            date=(NOW - timedelta(hours=i + 1)).replace(microsecond=0),
            **extra,
        )
        for i in range(n)
    ]


def test_every_feed_format_is_ingested(site, desk):
    feeds = {
        "rss091": site.serve(
            "/rss091.xml", rss091("RSS 0.91 Times", items(site, "rss091")), content_type="text/xml; charset=iso-8859-1"
        ),
        "rss092": site.serve("/rss092.xml", rss092("RSS 0.92 Times", items(site, "rss092"))),
        "rss10": site.serve("/rss10.rdf", rss10("RDF Times", items(site, "rss10")), content_type="application/rdf+xml"),
        "rss20": site.serve(
            "/rss20.xml", rss20("RSS 2 Times", items(site, "rss20", author="ada@example.com (Ada Byline)"))
        ),
        "atom": site.serve(
            "/atom.xml",
            atom("Atom Times", items(site, "atom", author="Grace Byline")),
            content_type="application/atom+xml",
        ),
        "json": site.serve(
            "/feed.json",
            json_feed("JSON Times", items(site, "json", author="Linus Byline")),
            content_type="application/feed+json",
        ),
    }
    for url in feeds.values():
        desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.errors == {} and report.feeds_ok == 6 and report.articles_new == 12
    rows = {r["title"]: r for r in articles(desk)}
    for tag, url in feeds.items():
        feed = desk.feeds.find(url)
        assert feed.articles == 2 and feed.status == "ok", (tag, feed)
        for i in range(2):
            row = rows[f"{tag} headline {i}"]
            assert row["text"] == f"{tag} story {i} {BODY}."
            assert row["url"] == site.url(f"/{tag}/{i}.html")
            assert row["text_source"] == "feed-summary" or row["text_source"] == "feed-content"
    assert feed_row(desk, feeds["json"])["title"] == "JSON Times"
    assert rows["atom headline 0"]["authors"] == '["Grace Byline"]'
    assert rows["json headline 1"]["authors"] == '["Linus Byline"]'
    assert "Ada Byline" in rows["rss20 headline 0"]["authors"]
    for tag in ("rss10", "rss20", "atom", "json"):  # the formats that carry dates
        row = rows[f"{tag} headline 1"]
        assert row["date_source"] == "feed"
        assert abs(row["published_ts"] - (NOW - timedelta(hours=2)).replace(microsecond=0).timestamp()) < 1
    for tag in ("rss091", "rss092"):  # undated: the fetch time stands in
        assert rows[f"{tag} headline 0"]["date_source"] == "fetched"


def test_json_feed_version_1_with_content_html_and_relative_urls():
    body = (
        b'{"version": "https://jsonfeed.org/version/1", "title": "J", "home_page_url": "https://j.example/",'
        b'"author": {"name": "Feed Author"},'
        b'"items": [{"id": 7, "url": "/posts/7", "title": "Seven", "content_html": "<p>Hello <b>world</b></p>",'
        b'"summary": "Hi", "date_modified": "2024-02-03T04:05:06Z"},'
        b'{"id": "x", "external_url": "https://other.example/x", "content_text": "Para one.\\n\\nPara <two>."},'
        b'"not an item"]}'
    )
    parsed = parse_feed(body, "https://j.example/feed.json", "application/json")
    assert parsed.title == "J" and len(parsed.entries) == 2
    first, second = parsed.entries
    assert first.guid == "7" and first.link == "https://j.example/posts/7"
    assert first.content_html == "<p>Hello <b>world</b></p>" and first.summary_html == "Hi"
    assert first.published == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert first.authors == ("Feed Author",)
    assert second.link == "https://other.example/x" and second.published is None
    assert second.content_html == "<p>Para one.</p><p>Para &lt;two&gt;.</p>"


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"title": "not a feed", "items": []}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "empty JSON Feed"),
    ],
)
def test_json_that_is_not_a_usable_feed_is_a_feed_error(body, message):
    with pytest.raises(FeedError, match=message):
        parse_feed(body, "https://j.example/feed.json")


def test_a_malformed_feed_that_still_yields_entries_is_ingested_with_a_warning(site, desk):
    good = rss20("Sloppy Gazette", items(site, "sloppy"))
    sloppy = good.replace(b"</channel></rss>", b"<item><title>Broken & unescaped</title></channel>")  # unclosed
    url = site.serve("/sloppy.xml", sloppy)
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.feeds_ok == 1 and report.articles_new >= 2
    assert report.warnings[url].startswith("malformed feed:")
    row = feed_row(desk, url)
    assert row["status"] == "warning" and row["warning"].startswith("malformed feed:")
    titles = {r["title"] for r in articles(desk)}
    assert {"sloppy headline 0", "sloppy headline 1"} <= titles


@pytest.mark.parametrize(
    "body, message",
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut', "no entries"),
        (b"just some text, nothing like a feed", "not a recognisable RSS or Atom feed"),
        (b"", "no entries"),
        (b"<html><body><p>hello</p></body></html>", "HTML web page"),
    ],
)
def test_a_feed_with_no_entries_is_a_feed_error(site, desk, body, message):
    url = site.serve("/empty.xml", body)
    good = site.serve("/good.xml", rss20("Good", items(site, "good")))
    desk.feeds.add(url)
    desk.feeds.add(good)
    report = desk.indexing.ingest()
    assert message in report.errors[url]
    assert feed_row(desk, url)["status"] == "error"
    assert report.articles_new == 2  # the other feed is unaffected


def test_a_web_page_that_links_its_feed_says_where_the_feed_is(site, desk):
    page = (
        b'<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="/feeds/all.xml">'
        b"</head><body><p>Home page</p></body></html>"
    )
    url = site.serve("/home", page, content_type=HTML_TYPE)
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.errors[url] == (
        "the URL returned an HTML web page, not an RSS or Atom feed; "
        f"the page names a feed at {site.base}/feeds/all.xml"
    )


def test_a_well_formed_feed_with_no_items_is_fetched_fine_with_nothing_to_archive(site, desk):
    url = site.serve("/quiet.xml", rss20("Quiet Times", []))
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.feeds_ok == 1 and report.articles_new == 0 and not report.errors
    assert feed_row(desk, url)["title"] == "Quiet Times"


def test_items_without_links_or_dates(site, desk):
    feed = [
        Item("No link", f"An item without a link {BODY}.", guid="nolink-1", date=NOW - timedelta(hours=3)),
        Item("No date", f"An item without a date {BODY}.", link=site.url("/nodate.html"), guid="nodate-1"),
        Item("Nothing", f"An item with neither a link, a guid nor a date {BODY}."),
        Item("", ""),  # nothing at all: skipped
    ]
    url = site.serve("/bare.xml", rss20("Bare", feed))
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.articles_new == 3 and not report.errors
    rows = {r["title"]: r for r in articles(desk)}
    assert rows["No link"]["url"] == "" and rows["No link"]["guid"] == "nolink-1"
    assert rows["No link"]["date_source"] == "feed"
    assert rows["No date"]["date_source"] == "fetched"
    assert abs(rows["No date"]["published_ts"] - datetime.now(UTC).timestamp()) < 600
    assert rows["Nothing"]["guid"].startswith("hash:") and rows["Nothing"]["url"] == ""
    # and a second run recognises all three instead of archiving them again
    again = desk.indexing.ingest()
    assert again.articles_new == 0 and again.articles_unchanged == 3 and again.passages_embedded == 0


def test_a_guid_listed_twice_in_one_feed_is_one_article_and_stays_quiet(site, desk):
    twice = [
        Item(
            "Original wording",
            f"First copy of the item {BODY}.",
            link=site.url("/dup-a.html"),
            guid="dup",
            date=NOW - timedelta(hours=1),
        ),
        Item(
            "Edited wording",
            f"Second copy of the same item, edited {BODY}.",
            link=site.url("/dup-b.html"),
            guid="dup",
            date=NOW - timedelta(hours=1),
        ),
        Item(
            "Other", f"Another story {BODY}.", link=site.url("/other.html"), guid="other", date=NOW - timedelta(hours=2)
        ),
    ]
    url = site.serve("/twice.xml", rss20("Twice", twice))
    desk.feeds.add(url)
    first = desk.indexing.ingest()
    assert first.articles_new == 2 and desk.feeds.find(url).articles == 2
    assert desk.archive.db.execute("SELECT count(*) FROM articles WHERE guid = 'dup'").fetchone()[0] == 1
    # polling the same document again must not flip the article between its two copies
    second = desk.indexing.ingest()
    assert (second.articles_new, second.articles_updated, second.passages_embedded) == (0, 0, 0)


def test_a_date_in_the_future_is_clamped_and_says_so(site, desk):
    future = NOW + timedelta(days=400)
    url = site.serve(
        "/future.xml",
        rss20(
            "Future",
            [
                Item("From the future", f"Dated next year {BODY}.", link=site.url("/f.html"), guid="f", date=future),
                Item(
                    "Tomorrow-ish",
                    f"Dated a few hours ahead {BODY}.",
                    link=site.url("/t.html"),
                    guid="t",
                    date=NOW + timedelta(hours=5),
                ),
            ],
        ),
    )
    desk.feeds.add(url)
    desk.indexing.ingest()
    rows = {r["title"]: r for r in articles(desk)}
    clamped = rows["From the future"]
    assert clamped["date_source"] == "fetched (feed date in the future)"
    assert clamped["published_ts"] <= datetime.now(UTC).timestamp()
    assert rows["Tomorrow-ish"]["date_source"] == "feed"  # a time zone slip is tolerated


def test_relative_links_are_resolved_against_the_feed_url(site, desk):
    body = rss20(
        "Relative",
        [
            Item("Rooted", f"Root-relative link {BODY}.", link="/news/rooted.html", guid="r1", date=NOW),
            Item("Sibling", f"Document-relative link {BODY}.", link="sibling.html", guid="r2", date=NOW),
        ],
    )
    atom_body = atom(
        "Relative Atom",
        [Item("Based", f"xml:base link {BODY}.", link="posts/based", guid="urn:b", date=NOW)],
        base="http://127.0.0.1:1/blog/",
    )
    url = site.serve("/dir/relative.xml", body)
    atom_url = site.serve("/dir/relative-atom.xml", atom_body, content_type="application/atom+xml")
    desk.feeds.add(url)
    desk.feeds.add(atom_url)
    desk.indexing.ingest()
    rows = {r["title"]: r["url"] for r in articles(desk)}
    assert rows["Rooted"] == f"{site.base}/news/rooted.html"
    assert rows["Sibling"] == site.url("/dir/sibling.html")
    assert rows["Based"] == "http://127.0.0.1:1/blog/posts/based"


# -- OPML ------------------------------------------------------------------------------
OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>My feeds</title></head><body>
  <outline text="News">
    <outline text="Harbour Gazette" title="Harbour Gazette" type="rss" xmlUrl="http://93.184.216.34/gazette.xml"
             htmlUrl="http://93.184.216.34/"/>
    <outline text="Folder"><outline text="Deep &amp; nested" xmlUrl="http://93.184.216.35/deep.xml"/></outline>
  </outline>
  <outline text="Intranet" xmlUrl="http://10.0.0.5/internal.xml"/>
  <outline text="Metadata" xmlurl="http://169.254.169.254/latest/meta-data/"/>
  <outline text="Local" xmlUrl="http://localhost:8080/feed"/>
  <outline text="Harbour Gazette again" xmlUrl="http://93.184.216.34/gazette.xml"/>
  <outline text="a folder without a feed"/>
</body></opml>"""


def test_opml_import_refuses_private_urls_when_not_allowed(make_desk, config):
    strict = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, allow_private_networks=False))
    desk = make_desk(strict)
    result = desk.feeds.import_opml(OPML)
    assert [f.url for f in result["added"]] == ["http://93.184.216.34/gazette.xml", "http://93.184.216.35/deep.xml"]
    assert set(result["refused"]) == {
        "http://10.0.0.5/internal.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/feed",
    }
    assert all("allow_private_networks" in why for why in result["refused"].values())
    assert {f.url for f in desk.archive.list_feeds()} == {
        "http://93.184.216.34/gazette.xml",
        "http://93.184.216.35/deep.xml",
    }
    # importing again adds nothing
    again = desk.feeds.import_opml(OPML)
    assert again["added"] == [] and len(again["existing"]) == 2


def test_opml_round_trip(make_desk, config, tmp_path):
    desk = make_desk(config)  # private networks allowed: every outline is accepted
    result = desk.feeds.import_opml(OPML)
    assert len(result["added"]) == 5 and result["refused"] == {}
    exported = desk.feeds.export_opml()
    outlines = parse_opml(exported.encode("utf-8"))
    assert [(o.url, o.name) for o in outlines] == [(f.url, f.display_name) for f in desk.archive.list_feeds()]
    assert ("http://93.184.216.35/deep.xml", "Deep & nested") in [(o.url, o.name) for o in outlines]
    # the export imports into a fresh archive as the same list
    other = make_desk(dataclasses.replace(config, data=dataclasses.replace(config.data, dir=str(tmp_path / "other"))))
    other.feeds.import_opml(exported.encode("utf-8"))
    assert [(f.url, f.display_name) for f in other.archive.list_feeds()] == [
        (f.url, f.display_name) for f in desk.archive.list_feeds()
    ]


def test_names_with_quotes_and_markup_survive_the_opml_round_trip(make_desk, config):
    desk = make_desk(config)
    desk.feeds.add("http://93.184.216.34/q.xml", 'The "Quoted" <Times> & Co')
    outlines = parse_opml(desk.feeds.export_opml().encode())
    assert [(o.url, o.name) for o in outlines] == [("http://93.184.216.34/q.xml", 'The "Quoted" <Times> & Co')]


@pytest.mark.parametrize("body", [b"", b"not xml at all", b"<html><body>nope</body></html>"])
def test_a_file_that_is_not_opml_is_refused(desk, body):
    with pytest.raises(FeedError):
        desk.feeds.import_opml(body)
