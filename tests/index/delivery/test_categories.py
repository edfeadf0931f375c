"""Feed categories: parsed from RSS, Atom and JSON Feed, archived with the article, and used by
delivery filters (``category``) and the ``{categories}`` placeholder."""

from __future__ import annotations

import json

from support.feeds import Item, rss20

from index.delivery import filters, templates
from index.feeds.parse import parse_feed
from index.models import Article


def article(categories: tuple[str, ...], title: str = "Rates rise again") -> Article:
    return Article(
        id=1,
        guid="g",
        url="http://news.example/a",
        title=title,
        outlet="Example",
        authors=("Ada",),
        published="2026-01-02T10:00:00+00:00",
        published_ts=1_767_348_000.0,
        date_source="feed",
        fetched_at="",
        language="en",
        summary="",
        text="The central bank raised rates.",
        text_source="feed",
        categories=categories,
    )


def test_categories_are_parsed_from_rss_atom_and_json_feed():
    rss = parse_feed(
        rss20("T", [Item("A", "text", link="http://x/a", guid="a", categories=("Economy", " Rates ", "Economy"))])
    )
    assert rss.entries[0].categories == ("Economy", "Rates")
    atom = parse_feed(b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
        <entry><id>a</id><title>A</title><link href="http://x/a"/><updated>2026-01-01T00:00:00Z</updated>
        <category term="Politics"/><category term="Europe" label="Europe"/><summary>s</summary></entry></feed>""")
    assert atom.entries[0].categories == ("Politics", "Europe")
    feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "T",
            "items": [{"id": "a", "url": "http://x/a", "content_text": "t", "tags": ["Sport", "Tennis"]}],
        }
    )
    assert parse_feed(feed.encode(), content_type="application/feed+json").entries[0].categories == ("Sport", "Tennis")


def test_categories_are_archived_with_the_article(desk, site):
    url = site.serve(
        "/cat.xml",
        rss20(
            "Cat News",
            [
                Item(
                    "Rates rise",
                    "The central bank raised rates again on Tuesday, the third time this year.",
                    link=site.url("/rates.html"),
                    guid="rates",
                    categories=("Economy", "Banks"),
                ),
            ],
        ),
    )
    desk.feeds.add(url)
    assert desk.indexing.ingest().articles_new == 1
    archived = desk.reading.article(site.url("/rates.html"))
    assert archived.categories == ("Economy", "Banks")


def test_a_category_filter_passes_only_articles_of_that_category():
    rule = filters.FilterRule(id=1, feed_id=1, channel_id=None, action="include", field="category", pattern="economy")
    assert filters.evaluate([rule], article(("Economy",)))[0] is True
    assert filters.evaluate([rule], article(("Sport",)))[0] is False
    # the words are looked for in the categories only, not in the text ("central bank" is no category)
    banks = filters.FilterRule(id=2, feed_id=1, channel_id=None, action="include", field="category", pattern="bank")
    assert filters.evaluate([banks], article(("Economy",)))[0] is False
    assert "category" in filters.FIELDS


def test_the_categories_placeholder_lists_them():
    template = templates.PostTemplate(feed_id=1, body="{title} [{categories}]", style="text")
    templates.validate(template.body, template.style)
    assert templates.render(template, article(("Economy", "Banks")), None) == "Rates rise again [Economy, Banks]"
    assert templates.render(template, article(()), None) == "Rates rise again []"
