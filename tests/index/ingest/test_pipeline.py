"""Articles: full text from pages for teasers, boilerplate and trailers removed, canonical URLs,
and de-duplication (by GUID, URL and text) with the vector index kept in step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.archive import articles, assert_consistent
from support.feeds import Item, article_page, long_text, rss20
from support.http import HTML_TYPE

NOW = datetime.now(UTC)
PARAGRAPHS = [
    "The harbour authority approved a plan on Tuesday to dredge the eastern channel so that larger "
    "container ships can dock at the port for the first time since the nineteen-seventies.",
    "Engineers said the work would take eighteen months and cost about forty million euros, most of it "
    "paid from a regional infrastructure fund set up after the floods.",
    "Fishermen who use the channel warned that the dredging could disturb spawning grounds, and asked "
    "the authority to stop work during the spring season.",
    "The mayor said the town would hold a public meeting next month to hear objections before the first "
    "contracts are signed.",
]
BOILERPLATE = [
    "Sign up for our newsletter",
    "All rights reserved",
    "Privacy policy",
    "Advertisement",
    "Related stories",
    "Ten recipes for autumn",
    "Politics",
    "Subscribe",
]


def row_for(desk, title: str) -> dict:
    return next(r for r in articles(desk) if r["title"] == title)


def test_a_teaser_gets_its_full_text_from_the_page_without_site_boilerplate(site, desk):
    page = site.serve(
        "/story/dredging.html", article_page("Harbour channel to be dredged", PARAGRAPHS), content_type=HTML_TYPE
    )
    url = site.serve(
        "/teasers.xml",
        rss20(
            "Harbour Gazette",
            [
                Item(
                    "Harbour channel to be dredged",
                    "The harbour authority approved a plan to dredge the channel…",
                    link=page,
                    guid="dredging",
                    date=NOW - timedelta(hours=2),
                )
            ],
        ),
    )
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and not report.errors
    row = row_for(desk, "Harbour channel to be dredged")
    assert row["text_source"] == "page"
    for paragraph in PARAGRAPHS:
        assert paragraph in row["text"]
    for junk in BOILERPLATE:
        assert junk not in row["text"], junk
    assert row["summary"].startswith("The harbour authority approved a plan")
    assert row["date_source"] == "feed"
    assert len(site.hits("/story/dredging.html")) == 1
    assert site.hits("/story/dredging.html")[0].headers["accept"].startswith("text/html")
    hit = desk.retriever.search("dredging the eastern channel for container ships").hits[0]
    assert hit.article.title == "Harbour channel to be dredged"


def test_a_teaser_whose_page_is_missing_keeps_the_feed_text(site, desk):
    url = site.serve(
        "/teasers.xml",
        rss20(
            "Harbour Gazette",
            [
                Item(
                    "Missing page",
                    "Only the start of the story is in the feed, the rest was on a page that…",
                    link=site.url("/story/gone.html"),
                    guid="gone",
                    date=NOW,
                )
            ],
        ),
    )
    desk.feeds.add(url)
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and not report.errors
    row = row_for(desk, "Missing page")
    assert row["text_source"].startswith("feed-summary")
    assert row["text"] == "Only the start of the story is in the feed, the rest was on a page that…"
    assert len(site.hits("/story/gone.html")) == 1  # 404 is final: tried once


def test_fetch_full_text_never_does_not_touch_pages(site, make_desk, config):
    import dataclasses

    desk = make_desk(dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, fetch_full_text="never")))
    page = site.serve("/story/p.html", article_page("Never", PARAGRAPHS), content_type=HTML_TYPE)
    url = site.serve("/teasers.xml", rss20("G", [Item("Never", "A teaser that goes on…", link=page, guid="n")]))
    desk.feeds.add(url)
    desk.indexing.ingest()
    assert site.hits("/story/p.html") == [] and row_for(desk, "Never")["text_source"] == "feed-summary"


def test_the_wordpress_trailer_is_removed(site, desk):
    trailer = (
        '<p>The post <a rel="nofollow" href="https://gazette.example/harbour/">Harbour channel to be '
        'dredged</a> appeared first on <a rel="nofollow" href="https://gazette.example">Harbour Gazette</a>.</p>'
    )
    content = "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + trailer
    excerpt = (
        "The harbour authority approved a plan on Tuesday to dredge the eastern channel. "
        'The post <a href="https://gazette.example/harbour/">Harbour channel to be dredged</a> appeared '
        'first on <a href="https://gazette.example">Harbour Gazette</a>.'
    )
    url = site.serve(
        "/wp.xml",
        rss20(
            "Harbour Gazette",
            [
                Item(
                    "Harbour channel to be dredged",
                    excerpt,
                    link=site.url("/harbour/"),
                    guid="wp-1",
                    date=NOW,
                    content_html=content,
                )
            ],
            raw_description=False,
        ),
    )
    desk.feeds.add(url)
    desk.indexing.ingest()
    row = row_for(desk, "Harbour channel to be dredged")
    assert row["text_source"] == "feed-content"
    assert "appeared first on" not in row["text"] and "appeared first on" not in row["summary"]
    assert row["text"].endswith("before the first contracts are signed.")
    assert row["summary"] == "The harbour authority approved a plan on Tuesday to dredge the eastern channel."
    passages = " ".join(r[0] for r in desk.archive.db.execute("SELECT text FROM passages"))
    assert "appeared first" not in passages


def test_canonical_urls_drop_tracking_parameters_and_fragments(site, desk):
    link = site.url("/story/a.html?id=42&utm_source=rss&utm_medium=feed&utm_campaign=x&fbclid=abc#comments")
    link = link.replace("http://127.0.0.1", "HTTP://127.0.0.1")
    url = site.serve("/tracked.xml", rss20("G", [Item("Tracked", f"A story {PARAGRAPHS[0]}", link=link, guid="t1")]))
    desk.feeds.add(url)
    desk.indexing.ingest()
    assert row_for(desk, "Tracked")["url"] == site.url("/story/a.html?id=42")
    assert desk.reading.article(site.url("/story/a.html?id=42&utm_source=twitter")).title == "Tracked"


# -- de-duplication -------------------------------------------------------------------------
def story(site, title, text, guid, slug, date=None) -> Item:
    return Item(title, text, link=site.url(f"/story/{slug}.html"), guid=guid, date=date or NOW - timedelta(hours=1))


def test_the_same_guid_in_two_feeds_is_one_article_in_both(site, desk):
    item = story(site, "Shared story", long_text("volcano", 6), "shared-guid", "shared")
    a = site.serve("/a.xml", rss20("Feed A", [item]))
    b = site.serve("/b.xml", rss20("Feed B", [item]))
    desk.feeds.add(a)
    desk.feeds.add(b)
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and report.articles_unchanged == 1
    assert len(articles(desk)) == 1
    assert desk.feeds.find(a).articles == 1 and desk.feeds.find(b).articles == 1
    assert_consistent(desk)


def test_one_guid_in_two_feeds_with_different_text_settles_on_the_longer_copy(site, desk):
    # e.g. a site's Atom and RSS feeds, or its summary feed and its full-text feed
    full = story(site, "Two copies", long_text("volcano", 12), "two-copies", "two-copies")
    short = story(site, "Two copies", long_text("volcano", 4), "two-copies", "two-copies")
    desk.feeds.add(site.serve("/full.xml", rss20("Full", [full])))
    desk.feeds.add(site.serve("/short.xml", rss20("Short", [short])))
    desk.indexing.ingest()
    assert [r["text"] for r in articles(desk)] == [full.text]
    for _ in range(2):  # and it stays put: no rewrite, no re-embedding on later polls
        again = desk.indexing.ingest()
        assert (again.articles_new, again.articles_updated, again.passages_embedded) == (0, 0, 0)
    assert [r["text"] for r in articles(desk)] == [full.text]
    assert_consistent(desk)


def test_mojibake_in_titles_is_repaired(site, desk):
    desk.feeds.add(
        site.serve(
            "/mojibake.xml",
            rss20(
                "Le Monde.fr : ActualitÃ©s",
                [story(site, "CÃ´te dâ€™Ivoire : les discussions sont diffÃ©rÃ©es", long_text("bank", 4), "m", "m")],
            ),
        )
    )
    desk.indexing.ingest()
    row = articles(desk)[0]
    assert row["title"] == "Côte d'Ivoire : les discussions sont différées"
    assert row["outlet"] == "Le Monde.fr : Actualités"


def test_the_same_url_under_another_guid_is_one_article(site, desk):
    first = story(site, "Same page", long_text("bank", 6), "guid-one", "same-page")
    second = story(site, "Same page (syndicated)", long_text("bank", 5), "guid-two", "same-page")
    second.link += "?utm_source=syndication"
    desk.feeds.add(site.serve("/one.xml", rss20("One", [first])))
    desk.feeds.add(site.serve("/two.xml", rss20("Two", [second])))
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and len(articles(desk)) == 1
    assert_consistent(desk)


def test_new_text_under_the_same_guid_replaces_passages_and_vectors(site, desk):
    path = "/updating.xml"
    desk.feeds.add(
        site.serve(
            path,
            rss20(
                "Updating",
                [
                    story(site, "Volcano update", long_text("volcano", 30), "upd-1", "upd"),
                    story(site, "Bank story", long_text("bank", 12), "bank-1", "bank"),
                ],
            ),
        )
    )
    first = desk.indexing.ingest()
    assert first.articles_new == 2
    article_id = row_for(desk, "Volcano update")["id"]
    old_ids = {r[0] for r in desk.archive.db.execute("SELECT id FROM passages WHERE article_id = ?", [article_id])}
    assert len(old_ids) >= 2
    assert old_ids <= desk.parts.store_or_open().all_ids()

    site.serve(
        path,
        rss20(
            "Updating",
            [
                story(site, "Volcano update", long_text("octopus", 20), "upd-1", "upd"),
                story(site, "Bank story", long_text("bank", 12), "bank-1", "bank"),
            ],
        ),
    )
    second = desk.indexing.ingest()
    assert second.articles_updated == 1 and second.articles_new == 0 and second.articles_unchanged == 1
    assert second.vectors_deleted >= len(old_ids)
    new_ids = {r[0] for r in desk.archive.db.execute("SELECT id FROM passages WHERE article_id = ?", [article_id])}
    assert new_ids and not (new_ids & old_ids)
    chroma_ids = desk.parts.store_or_open().all_ids()
    assert not (old_ids & chroma_ids)
    assert desk.archive.all_passage_ids() == chroma_ids
    assert row_for(desk, "Volcano update")["id"] == article_id  # updated in place
    assert "octopus" in row_for(desk, "Volcano update")["text"]
    assert desk.archive.pending_vector_deletes() == []
    hit = desk.retriever.search("deep-sea octopus broods eggs on warm rock").hits[0]
    assert hit.article.id == article_id


def test_an_edit_that_keeps_some_passages_keeps_the_index_exact(site, desk):
    path = "/edit.xml"
    text = long_text("football", 30)
    desk.feeds.add(site.serve(path, rss20("Edits", [story(site, "Final", text, "final-1", "final")])))
    desk.indexing.ingest()
    site.serve(
        path,
        rss20("Edits", [story(site, "Final", text + " A late correction was added to the end.", "final-1", "final")]),
    )
    report = desk.indexing.ingest()
    assert report.articles_updated == 1
    assert_consistent(desk)
    assert desk.archive.pending_vector_deletes() == []


def test_the_same_text_reposted_under_a_new_guid_within_a_week_is_one_article(site, desk):
    text = long_text("octopus", 8)
    desk.feeds.add(
        site.serve(
            "/repost.xml",
            rss20(
                "Reposts",
                [
                    story(site, "Octopus found", text, "orig", "orig", NOW - timedelta(days=3)),
                    story(site, "Octopus found", text, "repost", "repost", NOW - timedelta(days=1)),
                ],
            ),
        )
    )
    report = desk.indexing.ingest()
    assert report.articles_new == 1 and len(articles(desk)) == 1
    assert_consistent(desk)


def test_the_same_text_a_year_apart_is_two_articles(site, desk):
    text = long_text("football", 8)
    desk.feeds.add(
        site.serve(
            "/annual.xml",
            rss20(
                "Annual",
                [
                    story(site, "Championship final", text, "final-2025", "final-2025", NOW - timedelta(days=366)),
                    story(site, "Championship final", text, "final-2026", "final-2026", NOW - timedelta(days=1)),
                ],
            ),
        )
    )
    report = desk.indexing.ingest()
    assert report.articles_new == 2 and len(articles(desk)) == 2
    assert_consistent(desk)


def test_removing_a_feed_removes_its_articles_and_vectors(site, desk):
    keep = site.serve("/keep.xml", rss20("Keep", [story(site, "Kept", long_text("bank", 6), "k", "k")]))
    drop = site.serve("/drop.xml", rss20("Drop", [story(site, "Dropped", long_text("volcano", 6), "d", "d")]))
    desk.feeds.add(keep)
    desk.feeds.add(drop)
    desk.indexing.ingest()
    _, removed = desk.feeds.remove(drop)
    assert removed == 1 and [r["title"] for r in articles(desk)] == ["Kept"]
    assert_consistent(desk)
