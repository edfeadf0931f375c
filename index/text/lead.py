"""The opening of an article as a reader should see it in a summary or a snippet: without the page's
dateline or live-blog furniture ("Feb. 8, 2026, 6:51 p.m. ET", "12:38 am ET February 9, 2026
Share this update") and without the sentence that only repeats the title (briefs whose title is
their lead sentence).

Feed text is hostile input: every pattern here is anchored, bounded, without nested quantifiers,
and only ever looks at the first :data:`HEAD_CHARS` characters, so the work per text is bounded.
"""

from __future__ import annotations

import re

HEAD_CHARS = 300  # datelines and furniture sit at the very start: never look further
MAX_TOKENS = 12  # a dateline is a handful of tokens ("Updated", date, time, zone, "Share this update")
MIN_TITLE_CHARS = 12  # shorter titles ("Live", "Briefly") are not evidence that a sentence repeats them

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?"
# (kind, pattern): each matched at the current position, case-insensitively
_TOKENS = [
    ("date", re.compile(rf"{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b", re.I)),  # Feb. 8, 2026
    ("date", re.compile(rf"\d{{1,2}} {_MONTH},? \d{{4}}\b", re.I)),  # 9 February 2026
    ("date", re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?Z?)?\b")),  # 2026-02-09
    ("time", re.compile(r"\d{1,2}(?::\d{2})? ?(?:a\.m\.|p\.m\.|am\b|pm\b)", re.I)),  # 6:51 p.m., 12:38 am
    ("time", re.compile(r"\d{1,2}:\d{2}\b")),  # 18:51
    ("zone", re.compile(r"(?:ET|EST|EDT|CT|CST|CDT|MT|MST|MDT|PT|PST|PDT|GMT|UTC|BST|CET|CEST)\b")),
    ("label", re.compile(rf"{_WEEKDAY}(?=[ ,])", re.I)),
    ("label", re.compile(r"(?:last updated|updated|published|posted|live updates|live|breaking|at|on)\b:?", re.I)),
    (
        "furniture",
        re.compile(
            r"(?:share this (?:update|article|story|page|post)|copy link|link copied|listen to this article"
            r"|advertisement|\d{1,2} min(?:ute)?s? read)\b",
            re.I,
        ),
    ),
]
_SEPARATORS = " \t\n,;|·•—–-:"
_OPENERS = "\"'“‘(«"  # a sentence may open with a quote or a parenthesis


def strip_furniture(text: str) -> str:
    """``text`` without a leading dateline or live-blog furniture. Kept as it is unless what would be
    cut holds a date, a time or furniture and what is left opens like a sentence (a capital, a
    digit or a quote): "May 5, 2026 was a day…" stays whole."""
    head = text[:HEAD_CHARS]
    pos, kinds = 0, set()
    for _ in range(MAX_TOKENS):
        while pos < len(head) and head[pos] in _SEPARATORS:
            pos += 1
        for kind, pattern in _TOKENS:
            match = pattern.match(head, pos)
            if match:
                kinds.add(kind)
                pos = match.end()
                break
        else:
            break
    else:
        return text  # token after token: a list of dates, not a dateline
    while pos < len(head) and head[pos] in _SEPARATORS:
        pos += 1
    rest = text[pos:]
    if not kinds & {"date", "time", "furniture"} or not rest or not _opens_a_sentence(rest[0]):
        return text
    return rest


def _opens_a_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENERS


def beyond_title(text: str, title: str) -> str:
    """``text`` without its opening sentence when that sentence only repeats ``title`` (the title is
    the lead sentence, or its start cut with "…"); "" when nothing is left."""
    stem = _stem(title)
    if len(stem) < MIN_TITLE_CHARS:
        return text
    flat = " ".join(text[: len(stem) + HEAD_CHARS].split()).lower()
    # headlines drop the article the sentence has ("Harbour ferry adds…" / "The harbour ferry adds…")
    skip, core = _article_length(flat), stem[_article_length(stem) :]
    # a title cut with "…" may end mid-word: compare all but its last few characters
    if len(core) >= MIN_TITLE_CHARS and flat[skip:].startswith(core[: max(MIN_TITLE_CHARS, len(core) - 3)]):
        end = _sentence_end(text, _position_after(text, skip + len(core)))
        return text[end:].lstrip()
    # or the opening sentence is the title's start (a live-blog entry: "What's next for Bad Bunny?")
    end = _sentence_end(text[:HEAD_CHARS], 0)
    opening = _stem(text[:end])
    if end < HEAD_CHARS and len(opening) >= MIN_TITLE_CHARS and stem.startswith(opening):
        return text[end:].lstrip()
    return text


def lead(text: str, title: str) -> str:
    """The opening a summary or a snippet shows: no dateline or furniture, no repeated title."""
    return beyond_title(strip_furniture(text), title)


def _article_length(flat: str) -> int:
    """The length of a leading "the ", "a " or "an " (of whitespace-collapsed, lower-case text)."""
    for article in ("the ", "a ", "an "):
        if flat.startswith(article):
            return len(article)
    return 0


def _stem(title: str) -> str:
    flat = " ".join((title or "").split()).lower()
    return flat.removesuffix("...").rstrip(".…!?:;, ").strip()


def _position_after(text: str, flat_chars: int) -> int:
    """The index in ``text`` after ``flat_chars`` characters of its whitespace-collapsed form."""
    seen, i, in_space = 0, 0, False
    while i < len(text) and seen < flat_chars:
        if text[i].isspace():
            if not in_space and seen:
                seen += 1
            in_space = True
        else:
            seen += 1
            in_space = False
        i += 1
    return i


def _sentence_end(text: str, start: int) -> int:
    """The index just past the sentence that runs through ``start`` (its ". ", "! ", "? " or "… ")."""
    i = start
    while i < len(text):
        if text[i] in ".!?…" and (i + 1 == len(text) or text[i + 1].isspace()):
            return i + 1
        i += 1
    return len(text)
