"""Article extraction from web pages (trafilatura), guarded against huge or hostile HTML."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from lxml import etree

from ..text.clean import MAX_HTML_CHARS, normalise_text, strip_trailers
from ..text.tags import find_tags

log = logging.getLogger(__name__)
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)

# where pages put their publication time: <meta property|name|itemprop="…" content="…">
_META_TIME_NAMES = frozenset(
    ("article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate", "date", "dc.date")
)
_MAX_LINE = 200_000
# trafilatura's cost grows with the number of elements, and its fallbacks get quadratic in
# siblings (60k links took over a minute); real article pages have at most a few thousand tags
_MAX_TAGS = 10_000
_TAG = re.compile(r"<[a-zA-Z!/]")


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    authors: tuple[str, ...]
    published: datetime | None
    site_name: str | None
    language: str | None


def _parse_time(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def page_published_time(html: str) -> datetime | None:
    """The first parseable publication time a page's ``<meta>`` tags give, else its first
    ``<time datetime>``. The tags are read in linear time (index.text.tags)."""
    head = html[:200_000]
    for attrs in find_tags(head, "meta"):
        names = {attrs.get(key, "").lower() for key in ("property", "name", "itemprop")}
        if names & _META_TIME_NAMES and attrs.get("content"):
            when = _parse_time(attrs["content"])
            if when:
                return when
    for attrs in find_tags(head, "time"):
        if attrs.get("datetime"):
            return _parse_time(attrs["datetime"])
    return None


def _defuse(html: str) -> tuple[str, bool]:
    """Bound what the extractor sees: total size, number of tags, and no single pathological line.
    Returns the HTML and whether it was cut (then only the fast extractor runs)."""
    html = html[:MAX_HTML_CHARS]
    cut = False
    for n, match in enumerate(_TAG.finditer(html)):
        if n == _MAX_TAGS:
            html, cut = html[: match.start()], True
            break
    if "\n" not in html[: _MAX_LINE * 2] and len(html) > _MAX_LINE * 2:
        # one giant line: give the parser line breaks between tags so nothing is quadratic
        html = html.replace("><", ">\n<")
    return html, cut


def extract_article(html: str, url: str = "") -> Extracted | None:
    """The article body and metadata, or None when no body can be found."""
    if not html or not html.strip():
        return None
    html, cut = _defuse(html)
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url or None,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            with_metadata=True,
            deduplicate=False,
            fast=cut,
        )
    except (RecursionError, etree.LxmlError, ValueError, MemoryError, TypeError) as exc:
        log.info("extraction failed for %s: %s", url, exc.__class__.__name__)
        return None
    if doc is None:
        return None
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    text = data.get("text") or ""
    text = strip_trailers(normalise_text(text.replace("\n", "\n\n")))
    if not text:
        return None
    authors = tuple(a.strip() for a in re.split(r";|\band\b", data.get("author") or "") if a.strip())
    published = page_published_time(html)
    if published is None and data.get("date"):
        published = _parse_time(data["date"])
    return Extracted(
        text=text,
        title=(data.get("title") or None),
        authors=authors[:10],
        published=published,
        site_name=data.get("sitename") or None,
        language=data.get("language") or None,
    )
