"""Hostile input: entity bombs and external entities in feeds and OPML must not expand or
fetch anything; giant and pathological pages must not break extraction or the ingest."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.archive import articles
from support.bounded import run_bounded
from support.feeds import Item, rss20
from support.http import HTML_TYPE

from index.errors import FeedError
from index.feeds.extract import extract_article
from index.feeds.opml import parse_opml
from index.feeds.parse import parse_feed

NOW = datetime.now(UTC)
PASSWD = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0:root:/root:/bin/bash\n"
PASSWD_MARK = PASSWD.splitlines()[0]  # e.g. "root:x:0:0:root:/root:/bin/bash"
SECRET = "TOP-SECRET-INTERNAL-VALUE-7731"


def billion_laughs(levels: int = 10) -> str:
    decl = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels):
        decl.append(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">')
    return "<!DOCTYPE rss [\n" + "\n".join(decl) + "\n]>"


def archive_text(desk) -> str:
    rows = desk.archive.db.execute("SELECT title || ' ' || text || ' ' || summary FROM articles").fetchall()
    passages = desk.archive.db.execute("SELECT text FROM passages").fetchall()
    return "\n".join(r[0] or "" for r in rows + passages)


@pytest.fixture
def secret_url(site):
    """A URL on the loopback server that an XXE would fetch; every hit is recorded."""
    site.serve("/secret", SECRET, content_type="text/plain")
    site.serve("/evil.dtd", f'<!ENTITY exfil SYSTEM "{site.url("/secret")}">', content_type="application/xml-dtd")
    return site.url("/secret")


def test_an_entity_bomb_is_not_expanded(site, desk):
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + billion_laughs()
        + '\n<rss version="2.0"><channel><title>Bomb &lol9;</title>'
        f"<item><title>Laughs &lol9;</title><link>{site.url('/bomb.html')}</link><guid>bomb</guid>"
        "<description>A story about laughing. &lol9; The end of the story is here, with enough words to "
        "stand as an article on its own.</description></item></channel></rss>"
    )
    url = site.serve("/bomb.xml", body)
    good = site.serve(
        "/good.xml",
        rss20(
            "Good",
            [
                Item(
                    "Fine",
                    "A perfectly ordinary story about the harbour and the council, long enough to keep.",
                    link=site.url("/fine.html"),
                    guid="fine",
                )
            ],
        ),
    )
    desk.feeds.add(url)
    desk.feeds.add(good)
    report = desk.indexing.ingest()  # returns at all: nothing expanded to 10**9 bytes
    text = archive_text(desk)
    assert "lollollol" not in text
    assert len(text) < 100_000
    assert report.articles_new >= 1 and "Fine" in {r["title"] for r in articles(desk)}
    assert url in report.errors or desk.feeds.find(url).articles <= 1


@pytest.mark.parametrize("where", ["description", "title"])
def test_external_entities_are_not_resolved(site, desk, secret_url, where):
    doctype = (
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        f'<!ENTITY web SYSTEM "{secret_url}">'
        f'<!ENTITY % remote SYSTEM "{site.url("/evil.dtd")}"> %remote;]>'
    )
    title = "Entity &xxe; &web; &exfil;" if where == "title" else "Entity story"
    description = (
        "Before &xxe; middle &web; after &exfil;. A story long enough to be an article of its own without its page."
        if where == "description"
        else "A plain story long enough to be kept as an article without fetching its page at all."
    )
    body = (
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n<rss version="2.0"><channel><title>XXE</title>'
        f"<item><title>{title}</title><link>{site.url('/xxe.html')}</link><guid>xxe</guid>"
        f"<description>{description}</description></item></channel></rss>"
    )
    url = site.serve("/xxe.xml", body)
    desk.feeds.add(url)
    desk.indexing.ingest()
    assert site.hits("/secret") == [] and site.hits("/evil.dtd") == []
    text = archive_text(desk)
    assert PASSWD_MARK not in text and "root:x:0" not in text and SECRET not in text


def test_external_entities_in_atom_are_not_resolved(site, secret_url):
    body = (
        f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        f'<!ENTITY web SYSTEM "{secret_url}">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2024-01-01T00:00:00Z</updated>'
        "<entry><title>t &web;</title><id>urn:e</id><updated>2024-01-01T00:00:00Z</updated>"
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">&xxe;</div></content></entry></feed>'
    )
    try:
        parsed = parse_feed(body.encode(), site.url("/a.xml"), "application/atom+xml")
        dump = repr(parsed)
    except FeedError as exc:
        dump = str(exc)
    assert site.hits("/secret") == []
    assert PASSWD_MARK not in dump and SECRET not in dump


def test_an_opml_entity_bomb_is_not_expanded(desk):
    body = (
        f'<?xml version="1.0"?>{billion_laughs().replace("rss", "opml")}'
        '<opml version="2.0"><head><title>&lol9;</title></head><body>'
        '<outline text="&lol9;" xmlUrl="http://93.184.216.34/bomb.xml"/></body></opml>'
    )
    outlines = parse_opml(body.encode())
    assert "lollollol" not in repr(outlines)
    result = desk.feeds.import_opml(body.encode())
    assert "lollollol" not in repr(desk.archive.list_feeds()) and result["refused"] == {}


def test_opml_external_entities_are_neither_resolved_nor_fetched(site, desk, secret_url):
    body = (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        f'<!ENTITY web SYSTEM "{secret_url}"><!ENTITY % remote SYSTEM "{site.url("/evil.dtd")}"> %remote;]>'
        '<opml version="2.0"><head><title>t</title></head><body>'
        '<outline text="&xxe;" xmlUrl="http://93.184.216.34/a.xml"/>'
        '<outline text="Web &web;" xmlUrl="http://93.184.216.34/b.xml"/></body></opml>'
    )
    outlines = parse_opml(body.encode())
    assert [o.url for o in outlines] == ["http://93.184.216.34/a.xml", "http://93.184.216.34/b.xml"]
    desk.feeds.import_opml(body.encode())
    dump = repr(outlines) + repr(desk.archive.list_feeds()) + desk.feeds.export_opml()
    assert site.hits("/secret") == [] and site.hits("/evil.dtd") == []
    assert PASSWD_MARK not in dump and SECRET not in dump


def test_a_page_with_external_entities_is_extracted_without_fetching_them(site, desk, secret_url):
    page = (
        f'<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        f'<!ENTITY web SYSTEM "{secret_url}">]>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title>'
        "</head><body><article><h1>Page with entities</h1>"
        + "".join(
            f"<p>Paragraph {i} of a page that declares external entities &xxe; and &web; in its "
            "doctype, which nothing may resolve or fetch while reading it.</p>"
            for i in range(6)
        )
        + "</article></body></html>"
    )
    link = site.serve("/entities.html", page, content_type="application/xhtml+xml")
    desk.feeds.add(
        site.serve("/teaser.xml", rss20("T", [Item("Entities", "A page with entities that…", link=link, guid="ent")]))
    )
    desk.indexing.ingest()
    assert len(site.hits("/entities.html")) == 1 and site.hits("/secret") == []
    text = archive_text(desk)
    assert PASSWD_MARK not in text and SECRET not in text


def test_json_nested_a_million_deep_is_a_feed_error_not_a_crash():
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 1_000_000 + b"]" * 1_000_000 + b"}"
    with pytest.raises(FeedError, match="not valid JSON"):
        parse_feed(body, "http://news.example/feed.json")


# -- pathological pages ------------------------------------------------------------------
def giant_single_line() -> str:
    """10 MB on one line: a hundred thousand navigation blocks and no article."""
    block = "<div class='nav'><a href='/section/x'>Section link</a><span>|</span></div>"
    return "<html><head><title>Giant</title></head><body>" + block * (10_000_000 // len(block)) + "</body></html>"


def deep_nesting() -> str:
    return "<html><body>" + "<div>" * 5000 + "<p>deep text</p>" + "</div>" * 5000 + "</body></html>"


@pytest.mark.parametrize("make", [giant_single_line, deep_nesting])
def test_pathological_pages_do_not_break_extraction(make):
    html = make()
    result = extract_article(html, "http://news.example/page")
    assert result is None or isinstance(result.text, str)


def test_a_giant_page_after_a_real_article_still_yields_the_article():
    article = (
        "<article><h1>Headline</h1>"
        + "".join(
            f"<p>Real paragraph {i} of the story, with enough words in it to be taken for article text.</p>"
            for i in range(8)
        )
        + "</article>"
    )
    html = "<html><body>" + article + "<div><a href='/x'>link</a></div>" * 300_000 + "</body></html>"
    result = extract_article(html, "http://news.example/page")
    assert result is not None and "Real paragraph 7 of the story" in result.text


def test_ingest_keeps_the_feed_text_when_pages_are_pathological(site, make_desk, config):
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, max_body_bytes=12_000_000))
    desk = make_desk(config)
    giant = site.serve("/giant.html", giant_single_line(), content_type=HTML_TYPE)
    deep = site.serve("/deep.html", deep_nesting(), content_type=HTML_TYPE)
    desk.feeds.add(
        site.serve(
            "/patho.xml",
            rss20(
                "Pathological",
                [
                    Item(
                        "Giant page",
                        "The start of a story whose page is ten megabytes on one line…",
                        link=giant,
                        guid="g",
                    ),
                    Item(
                        "Deep page",
                        "The start of a story whose page nests five thousand levels deep…",
                        link=deep,
                        guid="d",
                    ),
                ],
            ),
        )
    )
    report = desk.indexing.ingest()
    assert report.articles_new == 2 and not report.errors
    assert len(site.hits("/giant.html")) == 1 and len(site.hits("/deep.html")) == 1
    rows = {r["title"]: r for r in articles(desk)}
    assert rows["Giant page"]["text"] == "The start of a story whose page is ten megabytes on one line…"
    assert rows["Deep page"]["text"] == "The start of a story whose page nests five thousand levels deep…"
    assert all(r["text_source"].startswith("feed-summary") for r in rows.values())


def test_feed_content_nested_thousands_deep_does_not_break_ingest(site, desk):
    content = "<div>" * 5000 + "<p>Buried sentence.</p>" + "</div>" * 5000
    desk.feeds.add(
        site.serve(
            "/nested.xml",
            rss20(
                "Nested",
                [
                    Item(
                        "Nested content",
                        "A summary that is long enough to stand as the article text when the content "
                        "cannot be read at all.",
                        link=site.url("/n.html"),
                        guid="n",
                        content_html=content,
                    )
                ],
            ),
        )
    )
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and not report.errors


# -- input crafted to make a pattern backtrack: every read runs in bounded time ----------
# Each body is as large as the code reads (the first 200 KB of a "feed" that is a page, 500 KB
# of a page for discovery, 200 KB for a page's date); before, each took minutes. The parse runs
# in a child process (support.bounded), so a runaway fails the test instead of hanging it.
FEED_LINK = '<link rel="alternate" type="application/rss+xml" href="real.xml">'
FETCH = """
    from index.config import FeedsConfig
    from index.feeds.fetch import Fetcher
    response = Fetcher(FeedsConfig(allow_private_networks=True, retries=0)).get({url!r})
"""


def test_a_page_of_unclosed_link_tags_is_refused_as_a_feed_in_bounded_time(site):
    body = "<html><head>" + "<link " * 33_000  # no ">" after: each "<link" would scan to the end
    url = site.serve("/links.xml", body, content_type="application/rss+xml")
    out = run_bounded(
        FETCH.format(url=url)
        + """
    from index.errors import FeedError
    from index.feeds.parse import parse_feed
    try:
        parse_feed(response.content, response.url, response.content_type)
    except FeedError as exc:
        print(exc)
    """
    )
    assert out == "the URL returned an HTML web page, not an RSS or Atom feed"


def test_discovery_reads_a_page_of_unclosed_link_tags_in_bounded_time(site):
    body = "<html><head>" + FEED_LINK + "<link " * 80_000
    url = site.serve("/links.html", body, content_type=HTML_TYPE)
    out = run_bounded(
        FETCH.format(url=url)
        + """
    from index.delivery.discovery import page_links
    print([found.url for found in page_links(response.content.decode(), response.url)])
    """
    )
    assert out == repr([site.url("/real.xml")])


def test_a_page_of_unclosed_meta_tags_gets_its_date_in_bounded_time(site):
    body = '<html><head><time datetime="2025-05-05T00:00:00Z">May</time>' + "<meta " * 33_000
    url = site.serve("/metas.html", body, content_type=HTML_TYPE)
    out = run_bounded(
        FETCH.format(url=url)
        + """
    from index.feeds.extract import page_published_time
    print(page_published_time(response.content.decode()).isoformat())
    """
    )
    assert out == "2025-05-05T00:00:00+00:00"


def test_a_feed_opening_with_a_run_of_comments_is_read_in_bounded_time(site):
    url = site.serve("/comments.xml", "<!---->" * 285 + "x", content_type="application/rss+xml")
    out = run_bounded(
        FETCH.format(url=url)
        + """
    from index.errors import FeedError
    from index.feeds.parse import parse_feed
    try:
        parse_feed(response.content, response.url, response.content_type)
    except FeedError as exc:
        print(exc)
    """
    )
    assert out.startswith("no entries: not a recognisable RSS or Atom feed")


def test_two_megabytes_of_trailer_like_text_are_cleaned_in_bounded_time():
    # 2 MB is what html_to_text reads at most; every "The post" scanned 600 characters ahead (~10 s/MB)
    out = run_bounded(
        budget=10.0,
        code="""
    from index.text.clean import strip_trailers
    text = "Intro.\\n\\n" + "The post x appeared first on y " * 64_000 + "The post Hi appeared first on Example."
    cleaned = strip_trailers(text)
    print(len(text) - len(cleaned), cleaned.startswith("Intro.\\n\\nThe post x"), "Example" in cleaned)
    """,
    )
    removed, kept_start, kept_trailer = out.split()
    # the trailer goes (with as much trailer-like text before it as the pattern spans), the rest stays
    assert len(" The post Hi appeared first on Example.") <= int(removed) < 700
    assert (kept_start, kept_trailer) == ("True", "False")


def test_the_date_and_feed_link_readers_keep_their_meaning():
    from index.feeds.extract import page_published_time

    page = (
        '<html><head><meta name="viewport" content="x"><META ITEMPROP="datePublished" CONTENT="2024-03-04T05:06:07Z">'
        "</head></html>"
    )
    assert page_published_time(page) == datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert page_published_time("<time class=x datetime='2023-01-02'>") == datetime(2023, 1, 2, tzinfo=UTC)
    assert page_published_time("<html>no dates</html>") is None
    with pytest.raises(FeedError, match="names a feed at http://x/feeds/a.atom"):
        parse_feed(
            b"<!-- hi --> <!doctype html><html><link href='/feeds/a.atom' rel='alternate stylesheet' "
            b"type='application/atom+xml; charset=utf-8'></html>",
            "http://x/page",
            "text/xml",
        )
