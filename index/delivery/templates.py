"""Post templates: how an auto-posted article looks, per feed (and its channel).

A template is text with placeholders — ``{title}``, ``{url}``, ``{outlet}``, ``{published}``
(optionally with a strftime format, ``{published:%d %B %Y, %H:%M}``, shown in the template's time
zone), ``{summary}`` (index.delivery.summary), ``{author}`` and ``{categories}`` — posted as an
embed (the template is its description; the title links the article) or as plain text. A template
is validated when set: an unknown placeholder, a format on anything but ``{published}``, a bad
time zone or a stray brace is an error, never a blank."""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import BadQuery
from ..models import Article, Feed, PostTemplate
from .summary import summarize

PLACEHOLDERS = ("title", "url", "outlet", "published", "summary", "author", "categories")
STYLES = ("embed", "text")
MAX_TEMPLATE = 1500
DEFAULT_DATE_FORMAT = "%Y-%m-%d %H:%M %Z"


def _zone(name: str):
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise BadQuery(f"unknown time zone {name!r} (use a name like Europe/Berlin or UTC)") from None


def validate(body: str, style: str = "embed", tz: str = "UTC") -> None:
    if style not in STYLES:
        raise BadQuery(f"unknown template style {style!r} (use embed or text)")
    if not (body or "").strip():
        raise BadQuery("a template needs some text")
    if len(body) > MAX_TEMPLATE:
        raise BadQuery(f"a template is at most {MAX_TEMPLATE} characters")
    _zone(tz)
    try:
        parts = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise BadQuery(f"the template is malformed ({exc}); write {{{{ and }}}} for literal braces") from None
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PLACEHOLDERS:
            raise BadQuery(
                f"unknown placeholder {{{name}}} (known: " + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS) + ")"
            )
        if conversion:
            raise BadQuery(f"placeholder {{{name}!{conversion}}}: conversions are not supported")
        if spec and name != "published":
            raise BadQuery(f"placeholder {{{name}:{spec}}}: only {{published}} takes a format")
        if spec:
            try:
                datetime(2026, 1, 31, 13, 5, tzinfo=UTC).strftime(spec)
            except ValueError as exc:
                raise BadQuery(f"bad date format {spec!r}: {exc}") from None


def values(article: Article, feed: Feed | None) -> dict[str, str]:
    """The placeholder values of an article (raw text; the caller escapes them for Discord)."""
    return {
        "title": article.title or "(untitled)",
        "url": article.url,
        "outlet": article.outlet or (feed.display_name if feed else ""),
        "summary": summarize(article),
        "author": ", ".join(article.authors),
        "categories": ", ".join(article.categories),
    }


def render(
    template: PostTemplate, article: Article, feed: Feed | None, escape: Callable[[str], str] = lambda s: s
) -> str:
    """The template filled in for an article; every value goes through ``escape``."""
    zone = _zone(template.timezone)
    vals = values(article, feed)
    out = []
    for literal, name, spec, _ in string.Formatter().parse(template.body):
        out.append(literal)
        if name is None:
            continue
        if name == "published":
            if article.published_ts:
                moment = datetime.fromtimestamp(article.published_ts, UTC).astimezone(zone)
                out.append(escape(moment.strftime(spec or DEFAULT_DATE_FORMAT)))
            continue
        out.append(vals[name] if name == "url" else escape(vals[name]))
    return "".join(out)
