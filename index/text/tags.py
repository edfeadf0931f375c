"""Single HTML tags (``<link …>``, ``<meta …>``, ``<time …>``) and their attributes, read off
untrusted page or feed text in time linear in its length.

Patterns like ``<meta[^>]+property=`` backtrack over everything up to the next ``>`` from every
``<meta``: a page of 16,000 ``<meta `` and no ``>`` took 32 s. Here a tag cannot run past the next
``<`` or ``>``, so the tags tried never overlap, and an attribute name starts only where no other
name character precedes it, so no run of letters is rescanned from each of its characters."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from functools import cache

_ATTR = re.compile(r"""(?<![\w:.-])([a-zA-Z_:][\w:.-]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")


@cache
def _tag(name: str) -> re.Pattern:
    return re.compile(rf"<{re.escape(name)}\b([^<>]*)>", re.I)


def find_tags(markup: str, name: str, limit: int = 10_000) -> Iterator[dict[str, str]]:
    """The attributes (lower-case names, unescaped values) of each ``<name …>`` tag, in order, at
    most ``limit`` of them."""
    for n, match in enumerate(_tag(name).finditer(markup)):
        if n >= limit:
            return
        yield attributes(match.group(1))


def attributes(inside: str) -> dict[str, str]:
    """``a="x" b='y' c=z`` as {"a": "x", "b": "y", "c": "z"}; the first of a repeated name wins."""
    found: dict[str, str] = {}
    for key, value in _ATTR.findall(inside):
        found.setdefault(key.lower(), html.unescape(value.strip("\"'")))
    return found
