"""Feed discovery's URL rewrites (no network) and the page's <link rel="alternate"> parsing."""

from __future__ import annotations

import pytest

from index.delivery.discovery import known_site_feed, page_links


@pytest.mark.parametrize(
    "url, feed",
    [
        (
            "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
            "https://www.youtube.com/feeds/videos.xml?channel_id=UCabcdefghijklmnopqrstuv",
        ),
        ("https://youtube.com/playlist?list=PL123abc", "https://www.youtube.com/feeds/videos.xml?playlist_id=PL123abc"),
        ("https://www.reddit.com/r/python/", "https://www.reddit.com/r/python/.rss"),
        ("https://old.reddit.com/r/news", "https://www.reddit.com/r/news/.rss"),
        ("https://mastodon.social/@Gargron", "https://mastodon.social/@Gargron.rss"),
        ("https://example.com/news/", None),
        ("https://www.youtube.com/watch?v=abc", None),
    ],
)
def test_known_sites_become_their_feed_urls(url, feed):
    found = known_site_feed(url)
    assert (found.url if found else None) == feed


def test_page_links_reads_alternate_feed_links_only():
    page = """<html><head>
      <link rel="stylesheet" href="/s.css">
      <link rel="alternate" type="application/rss+xml" title="All news" href="/feed.xml">
      <LINK REL='alternate' TYPE='application/atom+xml' HREF='https://other.example/atom?x=1&amp;y=2'>
      <link rel="alternate" hreflang="de" href="/de/">
      <link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
    </head></html>"""
    found = page_links(page, "https://site.example/news/")
    assert [(f.url, f.title) for f in found] == [
        ("https://site.example/feed.xml", "All news"),
        ("https://other.example/atom?x=1&y=2", "https://other.example/atom?x=1&y=2"),
    ]
