"""Feed parsing (feedparser) into plain entries, and OPML import/export."""
from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.sax.saxutils import quoteattr

import feedparser
from lxml import etree

from .errors import FeedError

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
                return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
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


def parse_feed(content: bytes, url: str = "", content_type: str = "") -> ParsedFeed:
    """Parse bytes into entries. Raises FeedError when nothing usable comes out."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True,
                                  resolve_relative_uris=True)
    except Exception as exc:  # feedparser is defensive, but a parser bug must not kill the run
        raise FeedError(f"could not parse feed: {exc.__class__.__name__}: {exc}") from None
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"malformed feed: {exc.__class__.__name__}: {str(exc)[:200]}"
    raw_entries = parsed.get("entries") or []
    if not raw_entries:
        if parsed.get("version") or parsed.get("feed", {}).get("title"):
            if warning:
                raise FeedError(f"no entries ({warning})")
            return ParsedFeed(parsed.feed.get("title", ""), parsed.feed.get("link", ""),
                              parsed.feed.get("language"), [], None)
        what = warning or "not a recognisable RSS or Atom feed"
        raise FeedError(f"no entries: {what}")
    feed_lang = parsed.feed.get("language")
    entries = []
    for raw in raw_entries:
        content = ""
        for part in raw.get("content") or []:
            value = part.get("value") or ""
            if len(value) > len(content):
                content = value
        link = raw.get("link") or ""
        guid = raw.get("id") or raw.get("guid") or link
        summary = raw.get("summary") or raw.get("description") or ""
        if summary == content:
            summary = ""
        entries.append(
            Entry(
                guid=str(guid)[:2000],
                link=str(link)[:2000],
                title=(raw.get("title") or "").strip()[:1000],
                summary_html=summary,
                content_html=content,
                authors=_authors(raw),
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


@dataclass(frozen=True)
class OpmlOutline:
    url: str
    name: str = ""
    html_url: str = ""


def parse_opml(content: bytes) -> list[OpmlOutline]:
    """Feed outlines from an OPML document (nested folders flattened)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)
    try:
        root = etree.fromstring(content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"not a valid OPML file: {exc}") from None
    if root is None or root.tag.lower() != "opml":
        raise FeedError("not an OPML file (no <opml> root element)")
    outlines = []
    seen = set()
    for el in root.iter("outline"):
        url = (el.get("xmlUrl") or el.get("xmlurl") or "").strip()
        if not url or url in seen:
            continue
        seen.add(url)
        outlines.append(OpmlOutline(url=url, name=(el.get("title") or el.get("text") or "").strip(),
                                    html_url=(el.get("htmlUrl") or "").strip()))
    return outlines


def render_opml(feeds: list[OpmlOutline], title: str = "newsdesk feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"<head><title>{_escape(title)}</title></head>", "<body>"]
    for feed in feeds:
        attrs = f'type="rss" text={quoteattr(feed.name or feed.url)} title={quoteattr(feed.name or feed.url)} xmlUrl={quoteattr(feed.url)}'
        if feed.html_url:
            attrs += f" htmlUrl={quoteattr(feed.html_url)}"
        lines.append(f"<outline {attrs}/>")
    lines += ["</body>", "</opml>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
