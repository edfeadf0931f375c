"""OPML: feed lists in and out."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from ..errors import FeedError


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
        outlines.append(
            OpmlOutline(
                url=url,
                name=(el.get("title") or el.get("text") or "").strip(),
                html_url=(el.get("htmlUrl") or "").strip(),
            )
        )
    return outlines


def render_opml(feeds: list[OpmlOutline], title: str = "newsdesk feeds") -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"<head><title>{escape_xml(title)}</title></head>",
        "<body>",
    ]
    for feed in feeds:
        name = quoteattr(feed.name or feed.url)
        attrs = f'type="rss" text={name} title={name} xmlUrl={quoteattr(feed.url)}'
        if feed.html_url:
            attrs += f" htmlUrl={quoteattr(feed.html_url)}"
        lines.append(f"<outline {attrs}/>")
    lines += ["</body>", "</opml>", ""]
    return "\n".join(lines)


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
