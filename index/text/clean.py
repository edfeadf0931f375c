"""Text cleaning: HTML to paragraphs, boilerplate trailers, Unicode, canonical URLs."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import ftfy
import lxml.html
from lxml import etree

_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "tr",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "hr",
    "dd",
    "dt",
}
_DROP_TAGS = ("script", "style", "noscript", "iframe", "object", "embed", "form", "svg", "template")

# Trailers that feeds append to every item; matched against a whole paragraph.
_TRAILERS = [
    re.compile(r"^the post\b.{1,400}\bappeared first on\b.{1,200}$", re.I | re.S),
    re.compile(r"^(continue|keep) reading\b.{0,200}$", re.I | re.S),
    re.compile(r"^(read|see) (the )?(full|more|original)( story| article| post)?\b.{0,200}$", re.I | re.S),
    re.compile(
        r"^this (article|story|post) (was )?(originally )?(first )?(appeared|published)\b.{0,300}$", re.I | re.S
    ),
    re.compile(
        r"^(the )?(article|post|entry) .{1,300} (was|is) (originally )?(published|posted) (on|at|by) .{1,200}$",
        re.I | re.S,
    ),
    re.compile(r"^\[?(…|\.\.\.)\]?$"),
    re.compile(r"^(related|more)( articles| stories| news)?:?$", re.I),
]
_INLINE_TRAILER = re.compile(r"\s*The post .{1,400}? appeared first on [^.\n]{1,200}\.?\s*$", re.I | re.S)
# The longest text _INLINE_TRAILER can match (leading and trailing whitespace aside): it is only
# tried on a paragraph's tail, as from every "The post" of a long paragraph it scans up to 600
# characters (1 MB of such text took 10 s).
_INLINE_TRAILER_SPAN = len("The post ") + 400 + len(" appeared first on ") + 200 + 1
_TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|yclid|igshid|_hsenc|_hsmi|mkt_tok|"
    r"cmpid|cmp|ncid|sr_share|ref|ref_src|rss|feedtype|at_medium|at_campaign|ito|icid|smid|partner|ocid)$",
    re.I,
)
_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# never past the next "<": from each "<" of a text without ">", "<[^>]+>" rescans to the end
_ANY_TAG = re.compile(r"<[^<>]+>")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff\ufffe\uffff]")

MAX_HTML_CHARS = 2_000_000


def normalise_text(text: str) -> str:
    """Fix mojibake, NFC-normalise, drop control characters, fold whitespace per line."""
    if not text:
        return ""
    if len(text) < 200_000:
        text = ftfy.fix_text(text, normalization="NFC")
    else:
        text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    text = "\n".join(lines)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def html_to_text(markup: str) -> str:
    """HTML fragment or page to plain text, one paragraph per block, boilerplate trailers removed."""
    if not markup:
        return ""
    markup = markup[:MAX_HTML_CHARS]
    if "<" not in markup:
        return strip_trailers(normalise_text(html.unescape(markup)))
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return strip_trailers(normalise_text(_ANY_TAG.sub(" ", html.unescape(markup))))
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree() if bad.getparent() is not None else None
    parts: list[str] = []

    def walk(el):
        tag = el.tag if isinstance(el.tag, str) else ""
        block = tag.lower() in _BLOCK_TAGS
        if block:
            parts.append("\n\n" if tag.lower() not in ("br", "li") else "\n")
        if el.text and tag.lower() not in _DROP_TAGS:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n\n")

    try:
        walk(root)
    except RecursionError:
        parts = [root.text_content()]
    return strip_trailers(normalise_text("".join(parts)))


def strip_trailers(text: str) -> str:
    """Drop feed boilerplate paragraphs from the end (and WordPress's trailer anywhere in the last one)."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    while paragraphs and any(t.match(paragraphs[-1].strip()) for t in _TRAILERS):
        paragraphs.pop()
    if paragraphs:
        paragraphs[-1] = _strip_inline_trailer(paragraphs[-1])
        if not paragraphs[-1]:
            paragraphs.pop()
    return "\n\n".join(paragraphs)


def _strip_inline_trailer(paragraph: str) -> str:
    paragraph = paragraph.rstrip()
    cut = max(0, len(paragraph) - _INLINE_TRAILER_SPAN)
    return (paragraph[:cut] + _INLINE_TRAILER.sub("", paragraph[cut:])).rstrip()


def looks_truncated(text: str) -> bool:
    """A teaser: ends with an ellipsis or a 'read more' marker."""
    tail = text.rstrip()[-30:]
    return bool(re.search(r"(…|\.\.\.|\[…\]|\[\.\.\.\]|\[&hellip;\]|read more|continue reading)\W*$", tail, re.I))


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters."""
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, urlencode(query), ""))


def content_hash(text: str) -> str:
    folded = re.sub(r"\W+", " ", text.lower()).strip()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:32]


def word_count(text: str) -> int:
    return len(text.split())
