"""Feed discovery: from a URL an admin pastes to the feeds it stands for.

- YouTube channel and playlist URLs, subreddits and Mastodon profiles become their feed URLs
  without a fetch;
- a feed URL is itself;
- a web page names its feeds with ``<link rel="alternate" type="application/rss+xml" …>``, and
  when it names none, common feed paths (/feed, /rss.xml, …) are tried.

Every fetch goes through :class:`index.feeds.fetch.Fetcher` (the private-network guard)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

from ..errors import FeedError, FetchError
from ..feeds.fetch import PAGE_ACCEPT, Fetcher
from ..feeds.parse import parse_feed
from ..text.tags import find_tags

COMMON_PATHS = ("/feed", "/rss", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/feeds/posts/default")
MAX_FOUND = 10
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")
_YT_CHANNEL = re.compile(r"^/channel/(UC[\w-]{10,})")
_YT_CHANNEL_ID = re.compile(r'"(?:channelId|externalId)"\s*:\s*"(UC[\w-]{10,})"')
_SUBREDDIT = re.compile(r"^/r/([A-Za-z0-9_]{2,21})/?$")
_MASTODON = re.compile(r"^/@([A-Za-z0-9_.]+)/?$")


@dataclass(frozen=True)
class FoundFeed:
    url: str
    title: str
    how: str  # the URL itself, a known site's feed, the page's link, a common path


def known_site_feed(url: str) -> FoundFeed | None:
    """The feed URL of a YouTube channel/playlist, a subreddit or a Mastodon profile, without a fetch."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    path = parts.path
    if host in ("youtube.com", "youtu.be"):
        if m := _YT_CHANNEL.match(path):
            return FoundFeed(
                f"https://www.youtube.com/feeds/videos.xml?channel_id={m.group(1)}",
                "YouTube channel",
                "YouTube channel",
            )
        playlist = parse_qs(parts.query).get("list")
        if path.startswith("/playlist") and playlist:
            return FoundFeed(
                f"https://www.youtube.com/feeds/videos.xml?playlist_id={playlist[0]}",
                "YouTube playlist",
                "YouTube playlist",
            )
        return None
    if host in ("reddit.com", "old.reddit.com") and (m := _SUBREDDIT.match(path)):
        return FoundFeed(f"https://www.reddit.com/r/{m.group(1)}/.rss", f"r/{m.group(1)}", "subreddit")
    if (m := _MASTODON.match(path)) and parts.scheme in ("http", "https"):
        return FoundFeed(
            f"{parts.scheme}://{parts.netloc}/@{m.group(1)}.rss", f"@{m.group(1)}@{parts.hostname}", "Mastodon profile"
        )
    return None


def _is_feed(content: bytes, url: str, content_type: str) -> str | None:
    """The feed's title when the bytes parse as a feed with entries or a title, else None."""
    if "html" in content_type.lower():
        return None
    try:
        parsed = parse_feed(content, url, content_type)
    except FeedError:
        return None
    return parsed.title or url


def page_links(page: str, base: str) -> list[FoundFeed]:
    """The feeds a page names in ``<link rel="alternate" type="…rss/atom/json…" href=…>``."""
    out, seen = [], set()
    for attrs in find_tags(page[:500_000], "link"):
        rel = attrs.get("rel", "").lower().split()
        if "alternate" not in rel or attrs.get("type", "").lower() not in _FEED_TYPES or not attrs.get("href"):
            continue
        href = urljoin(base, attrs["href"])
        if href not in seen and urlsplit(href).scheme in ("http", "https"):
            seen.add(href)
            out.append(FoundFeed(href, attrs.get("title") or href, "linked from the page"))
    return out[:MAX_FOUND]


def discover(url: str, fetcher: Fetcher) -> list[FoundFeed]:
    """The feeds behind ``url`` (best first). Raises UrlRefused (the guard) or FetchError when
    the URL itself cannot be fetched."""
    known = known_site_feed(url)
    if known is not None:
        return [known]
    response = fetcher.get(url, accept=PAGE_ACCEPT + ", " + "application/rss+xml;q=0.9")
    title = _is_feed(response.content, response.url, response.content_type)
    if title is not None:
        return [FoundFeed(url, title, "the URL is a feed")]
    page = response.content.decode("utf-8", "replace")
    found = page_links(page, response.url)
    host = (urlsplit(response.url).hostname or "").lower().removeprefix("www.")
    if not found and host == "youtube.com" and (m := _YT_CHANNEL_ID.search(page)):  # a @handle page
        return [
            FoundFeed(
                f"https://www.youtube.com/feeds/videos.xml?channel_id={m.group(1)}",
                "YouTube channel",
                "YouTube channel",
            )
        ]
    if found:
        return found
    parts = urlsplit(response.url)
    for path in COMMON_PATHS:
        candidate = f"{parts.scheme}://{parts.netloc}{path}"
        try:
            tried = fetcher.get(candidate)
        except FetchError:
            continue
        title = _is_feed(tried.content, tried.url, tried.content_type)
        if title is not None:
            found.append(FoundFeed(candidate, title, "a common feed path"))
    return found
