"""Feed parsing (feedparser) into plain entries, and OPML import/export."""

from __future__ import annotations

import calendar
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser

from ..errors import FeedError
from ..text.tags import find_tags
from .opml import escape_xml

log = logging.getLogger(__name__)

# Never let feedparser fetch anything itself or resolve external entities.
feedparser.RESOLVE_RELATIVE_URIS = True
feedparser.SANITIZE_HTML = True


@dataclass(frozen=True)
class Entry:
    guid: str
    link: str
    title: str
    summary_html: str
    content_html: str
    authors: tuple[str, ...]
    published: datetime | None
    language: str | None
    categories: tuple[str, ...] = ()  # <category> / atom:category / JSON Feed tags


def _categories(terms) -> tuple[str, ...]:
    """Distinct, trimmed category names (at most 20, each at most 100 characters)."""
    names = (" ".join(str(t or "").split())[:100] for t in terms)
    return tuple(dict.fromkeys(n for n in names if n))[:20]


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    link: str
    language: str | None
    entries: list[Entry]
    warning: str | None = None


def _entry_time(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _authors(entry) -> tuple[str, ...]:
    names = []
    for author in entry.get("authors") or []:
        name = (author.get("name") or "").strip() if isinstance(author, dict) else ""
        if name and name not in names:
            names.append(name)
    if not names and entry.get("author"):
        names.append(str(entry["author"]).strip())
    return tuple(n[:200] for n in names[:10])


_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.I)


def _starts_as_html(head: bytes) -> bool:
    """Whether the bytes open with an HTML doctype or <html> tag, after whitespace and comments.
    Comments are skipped one by one: ``(<!--.*?-->\\s*)*`` in one pattern backtracks
    exponentially over a run of empty comments."""
    head = head.lstrip(b"\xef\xbb\xbf").lstrip()
    while head.startswith(b"<!--"):
        end = head.find(b"-->", 4)
        if end < 0:
            return False
        head = head[end + 3 :].lstrip()
    return _HTML_START.match(head) is not None


_FEED_TYPES = ("application/rss+xml", "application/atom+xml")


def _named_feed(page: str) -> str | None:
    """The href of the page's first ``<link rel="alternate" type="application/rss+xml|atom+xml">``."""
    for attrs in find_tags(page, "link"):
        rels = attrs.get("rel", "").lower().split()
        if (
            "alternate" in rels
            and attrs.get("type", "").lower().split(";")[0].strip() in _FEED_TYPES
            and attrs.get("href")
        ):
            return attrs["href"]
    return None


def _not_a_feed(content: bytes, url: str, content_type: str) -> str | None:
    """A clear reason when the bytes are a web page rather than a feed."""
    if "html" not in content_type.lower() and not _starts_as_html(content[:2000]):
        return None
    reason = "the URL returned an HTML web page, not an RSS or Atom feed"
    link = _named_feed(content[:200_000].decode("utf-8", "replace"))
    if link:
        reason += f"; the page names a feed at {urljoin(url, link)}"
    return reason


def _is_json(content: bytes) -> bool:
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _json_time(value) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _json_authors(*holders) -> tuple[str, ...]:
    names = []
    for holder in holders:
        if not isinstance(holder, dict):
            continue
        listed = holder.get("authors")
        authors = listed if isinstance(listed, list) else [holder.get("author")]
        for author in authors:
            name = (author.get("name") or "").strip() if isinstance(author, dict) else ""
            if name and name not in names:
                names.append(name)
        if names:
            break
    return tuple(n[:200] for n in names[:10])


def _str(obj: dict, key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def parse_json_feed(content: bytes, url: str = "") -> ParsedFeed:
    """A JSON Feed (https://jsonfeed.org, versions 1 and 1.1), which feedparser does not read."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FeedError(f"no entries: not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or "jsonfeed.org/version" not in str(data.get("version", "")):
        raise FeedError("no entries: a JSON document, but not a JSON Feed (no jsonfeed.org version)")
    base = url or _str(data, "feed_url")
    feed_lang = _str(data, "language") or None
    entries = []
    items = data.get("items")
    for raw in items if isinstance(items, list) else []:
        if not isinstance(raw, dict):
            continue
        link = _str(raw, "url") or _str(raw, "external_url")
        link = urljoin(base, link) if link else ""
        content_html = _str(raw, "content_html")
        if not content_html and _str(raw, "content_text"):
            paragraphs = re.split(r"\n\s*\n", _str(raw, "content_text"))
            content_html = "".join(f"<p>{escape_xml(p)}</p>" for p in paragraphs if p.strip())
        entries.append(
            Entry(
                guid=str(raw.get("id") or link)[:2000],
                link=link[:2000],
                title=_str(raw, "title").strip()[:1000],
                summary_html=escape_xml(_str(raw, "summary")),
                content_html=content_html,
                authors=_json_authors(raw, data),
                categories=_categories(raw.get("tags") if isinstance(raw.get("tags"), list) else []),
                published=_json_time(raw.get("date_published")) or _json_time(raw.get("date_modified")),
                language=_str(raw, "language") or feed_lang,
            )
        )
    if not entries and not data.get("title"):
        raise FeedError("no entries: an empty JSON Feed")
    return ParsedFeed(
        title=_str(data, "title").strip(), link=_str(data, "home_page_url"), language=feed_lang, entries=entries
    )


def parse_feed(content: bytes, url: str = "", content_type: str = "") -> ParsedFeed:
    """Parse bytes into entries. Raises FeedError when nothing usable comes out."""
    if _is_json(content):
        return parse_json_feed(content, url)
    if _starts_as_html(content[:2000]):
        # a web page, never a feed: said at once, without feedparser's pass over every tag of it
        raise FeedError(_not_a_feed(content, url, content_type) or "the URL returned an HTML web page")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:  # feedparser is defensive, but a parser bug must not kill the run
        raise FeedError(f"could not parse feed: {exc.__class__.__name__}: {exc}") from None
    warning = None
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        warning = f"malformed feed: {problem.__class__.__name__}: {str(problem)[:200]}"
    raw_entries = parsed.get("entries") or []
    if not raw_entries:
        html = _not_a_feed(content, url, content_type)
        if html:
            raise FeedError(html)
        if parsed.get("version") or parsed.get("feed", {}).get("title"):
            if warning:
                raise FeedError(f"no entries ({warning})")
            return ParsedFeed(
                parsed.feed.get("title", ""), parsed.feed.get("link", ""), parsed.feed.get("language"), [], None
            )
        raise FeedError("no entries: not a recognisable RSS or Atom feed" + (f" ({warning})" if warning else ""))
    feed_lang = parsed.feed.get("language")
    entries = []
    for raw in raw_entries:
        content_html = ""
        for part in raw.get("content") or []:
            value = part.get("value") or ""
            if len(value) > len(content_html):
                content_html = value
        link = raw.get("link") or ""
        guid = raw.get("id") or raw.get("guid") or link
        summary = raw.get("summary") or raw.get("description") or ""
        if summary == content_html:
            summary = ""
        entries.append(
            Entry(
                guid=str(guid)[:2000],
                link=str(link)[:2000],
                title=(raw.get("title") or "").strip()[:1000],
                summary_html=summary,
                content_html=content_html,
                authors=_authors(raw),
                categories=_categories(t.get("term") or t.get("label") for t in raw.get("tags") or []),
                published=_entry_time(raw),
                language=(raw.get("language") or feed_lang or None),
            )
        )
    return ParsedFeed(
        title=(parsed.feed.get("title") or "").strip(),
        link=parsed.feed.get("link") or "",
        language=feed_lang,
        entries=entries,
        warning=warning,
    )
