"""Feed documents as a feed reader gets them: RSS 0.91/0.92/1.0/2.0, Atom, JSON Feed, article pages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


# -- feeds ------------------------------------------------------------------------
@dataclass
class Item:
    title: str
    text: str
    link: str | None = None
    guid: str | None = None
    date: datetime | None = None
    content_html: str | None = None  # content:encoded / atom:content
    author: str | None = None
    categories: tuple[str, ...] = ()


def rss20(
    title: str, items: Iterable[Item], link: str = "http://news.example/", *, raw_description: bool = False
) -> bytes:
    parts = []
    for it in items:
        x = ["<item>", f"<title>{escape(it.title)}</title>"]
        if it.link is not None:
            x.append(f"<link>{escape(it.link)}</link>")
        if it.guid is not None:
            x.append(f'<guid isPermaLink="false">{escape(it.guid)}</guid>')
        if it.date is not None:
            x.append(f"<pubDate>{format_datetime(it.date)}</pubDate>")
        x.append(f"<description>{it.text if raw_description else escape(it.text)}</description>")
        if it.content_html is not None:
            x.append(f"<content:encoded><![CDATA[{it.content_html}]]></content:encoded>")
        if it.author:
            x.append(f"<author>{escape(it.author)}</author>")
        x += [f"<category>{escape(c)}</category>" for c in it.categories]
        x.append("</item>")
        parts.append("".join(x))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test</description>"
        f"{''.join(parts)}</channel></rss>\n"
    ).encode()


def rss091(title: str, items: Iterable[Item]) -> bytes:
    parts = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link or '')}</link>"
        f"<description>{escape(i.text)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        f"<title>{escape(title)}</title><link>http://news.example/</link><description>d</description>"
        f"<language>en-us</language>{parts}</channel></rss>\n"
    ).encode("iso-8859-1")


def rss092(title: str, items: Iterable[Item]) -> bytes:
    parts = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link or '')}</link>"
        f"<description>{escape(i.text)}</description></item>"
        for i in items
    )
    return (
        '<?xml version="1.0"?>\n<rss version="0.92"><channel>'
        f"<title>{escape(title)}</title><link>http://news.example/</link><description>d</description>"
        f"{parts}</channel></rss>\n"
    ).encode()


def rss10(title: str, items: list[Item]) -> bytes:
    seq = "".join(f'<rdf:li rdf:resource="{escape(i.link or "")}"/>' for i in items)
    parts = "".join(
        f'<item rdf:about="{escape(i.link or "")}"><title>{escape(i.title)}</title><link>{escape(i.link or "")}</link>'
        f"<description>{escape(i.text)}</description>"
        + (f"<dc:date>{i.date.isoformat()}</dc:date>" if i.date else "")
        + "</item>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="http://news.example/rss"><title>{escape(title)}</title><link>http://news.example/</link>'
        f"<description>d</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>{parts}</rdf:RDF>\n"
    ).encode()


def atom(title: str, items: Iterable[Item], *, base: str | None = None) -> bytes:
    parts = []
    for i in items:
        when = (i.date or datetime(2024, 1, 1, tzinfo=UTC)).isoformat()
        body = f'<content type="html">{escape(i.content_html)}</content>' if i.content_html else ""
        parts.append(
            f"<entry><title>{escape(i.title)}</title><id>{escape(i.guid or i.link or i.title)}</id>"
            + (f'<link rel="alternate" href="{escape(i.link)}"/>' if i.link else "")
            + f"<updated>{when}</updated><published>{when}</published>"
            f'<summary type="text">{escape(i.text)}</summary>{body}'
            + (f"<author><name>{escape(i.author)}</name></author>" if i.author else "")
            + "</entry>"
        )
    xml_base = f' xml:base="{escape(base)}"' if base else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{xml_base}><title>{escape(title)}</title><id>urn:test:{escape(title)}</id>'
        f"<updated>2024-01-01T00:00:00Z</updated>{''.join(parts)}</feed>\n"
    ).encode()


def json_feed(title: str, items: Iterable[Item], home: str = "http://news.example/", version: str = "1.1") -> bytes:
    out = []
    for i in items:
        entry = {"id": i.guid or i.link or i.title, "title": i.title}
        if i.link:
            entry["url"] = i.link
        if i.content_html:
            entry["content_html"] = i.content_html
            entry["summary"] = i.text
        else:
            entry["content_text"] = i.text
        if i.date:
            entry["date_published"] = i.date.isoformat()
        if i.author:
            entry["authors"] = [{"name": i.author}]
        out.append(entry)
    return json.dumps(
        {"version": f"https://jsonfeed.org/version/{version}", "title": title, "home_page_url": home, "items": out}
    ).encode("utf-8")


def article_page(title: str, paragraphs: list[str], *, site: str = "Example News") -> bytes:
    """A news page the way sites serve them: header, navigation, ad slot, the article, related
    links, a newsletter box and a footer."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {site}</title>
<meta property="og:site_name" content="{site}">
<meta property="article:published_time" content="2024-03-04T10:00:00Z"></head><body>
<header class="site-header"><div class="logo">{site}</div>
<nav class="main-nav"><ul><li><a href="/world">World</a></li><li><a href="/politics">Politics</a></li>
<li><a href="/business">Business</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/culture">Culture</a></li></ul></nav></header>
<div class="ad-slot">Advertisement</div>
<main><article><h1>{escape(title)}</h1><p class="byline">By Ada Reporter</p>{body}</article></main>
<aside class="related"><h2>Related stories</h2><ul><li><a href="/r1">Markets wobble on Monday</a></li>
<li><a href="/r2">Ten recipes for autumn</a></li></ul></aside>
<div class="newsletter"><h3>Sign up for our newsletter</h3>
<p>Get the best of {site} delivered to your inbox every morning.</p>
<form><input type="email"><button>Subscribe</button></form></div>
<footer class="site-footer"><p>Copyright 2024 {site}. All rights reserved.</p><a href="/privacy">Privacy policy</a>
<a href="/terms">Terms of use</a></footer></body></html>""".encode()


# -- text ---------------------------------------------------------------------------
TOPICS = {
    "volcano": [
        "The volcano on the peninsula erupted again overnight, sending lava toward the harbour town.",
        "Geologists measured sulphur emissions and warned that magma was still rising under the crater.",
        "Residents were evacuated by boat while fissures opened along the old lava field.",
    ],
    "bank": [
        "The central bank raised its benchmark interest rate by half a point to curb inflation.",
        "Mortgage lenders said borrowers would face higher monthly repayments from next month.",
        "The governor told reporters that further increases remained possible if prices kept climbing.",
    ],
    "octopus": [
        "Marine biologists described a new species of deep-sea octopus found near a seamount.",
        "The octopus broods its eggs on warm rock at a depth of three thousand metres.",
        "Researchers used a remotely operated submarine to film the animals over several dives.",
    ],
    "football": [
        "The national football team won the championship final with a late goal in extra time.",
        "Thousands of fans celebrated in the streets of the capital until dawn.",
        "The coach praised the resilience of his players after a difficult season.",
    ],
}


def long_text(topic: str, sentences: int) -> str:
    base = TOPICS[topic]
    out = []
    for n in range(sentences):
        out.append(f"{base[n % len(base)][:-1]} in update number {n}.")
    return " ".join(out)
