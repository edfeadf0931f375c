"""Citation markers as links: an answer's ``[n]`` points at its source where Discord renders
``[text](url)`` (embed descriptions, message content). ``[[1]](url)`` shows as a linked "[1]"."""

from __future__ import annotations

import re

# a marker of ours: render.safe() escapes every bracket that comes from an article
_BARE_MARKER = re.compile(r"(?<!\\)\[(\d{1,3})\]")
_LINKED_MARKER = re.compile(r"\[(\[\d{1,3}\])\]\([^)\s]{1,1000}\)")
_CITED_END = re.compile(r"\[\d{1,3}\](?:\s+|$)")  # a marker a cited sentence can end on


def link_markers(body: str, urls: dict[int, str | None]) -> str:
    """Each [n] with a source URL made a link to it: ``[[n]](url)``."""

    def linked(match: re.Match[str]) -> str:
        url = urls.get(int(match.group(1)))
        return f"[{match.group(0)}]({url})" if url else match.group(0)

    return _BARE_MARKER.sub(linked, body)


def unlink_markers(text: str) -> str:
    """Undo :func:`link_markers` (reading an answer embed back)."""
    return _LINKED_MARKER.sub(r"\1", text)


def through_last_marker(text: str) -> str:
    """The text up to its last marker a cited sentence can end on: past it, a lazy ``(.+?)`` before
    a marker (render's quote reader) would rescan the rest from every character (quadratic), never
    to match."""
    end = 0
    for m in _CITED_END.finditer(text):
        end = m.end()
    return text[:end]
