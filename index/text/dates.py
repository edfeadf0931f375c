"""Time in questions: as-of moments, explicit since/until, and dates named in words.

``resolve_time`` turns a question and its as-of moment into a :class:`TimeIntent`:
a window the question points at (a preference, or a hard filter when the user gave
since/until), whether it asks about what is new, and the question with the date
phrase removed (so the words don't skew the search).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import dateparser

from ..errors import BadQuery
from ..models import TimeIntent

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH_RE = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
)
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a": 1,
    "an": 1,
    "few": 3,
    "several": 5,
    "couple of": 2,
}

RECENT_WORDS = re.compile(
    r"\b(this week|recently|recent|latest|newest|new|just|currently|now|today|so far|this month|ongoing|announced)\b",
    re.I,
)


def check_order(since: datetime | None, until: datetime | None) -> None:
    """A window's ends in order: BadQuery when both are given and ``since`` is after ``until``
    (the one wording of that mistake, for every command that takes a window)."""
    if since and until and since > until:
        raise BadQuery("since is after until")


def parse_moment(
    value: str | date | datetime | None,
    *,
    end_of_day: bool = False,
    name: str = "date",
    relative_to: datetime | None = None,
) -> datetime | None:
    """A user-given date or time: ISO, or words dateparser understands. A bare date means its
    start (or its end with end_of_day). Raises BadQuery when it cannot be read."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return _day_bound(value, end_of_day)
    text = str(value).strip()
    if len(text) > 100:
        raise BadQuery(f"{name}: too long to be a date")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _day_bound(date.fromisoformat(text), end_of_day)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            y, m = map(int, text.split("-"))
            return _day_bound(date(y, m, calendar.monthrange(y, m)[1] if end_of_day else 1), end_of_day)
        if re.fullmatch(r"\d{4}", text):
            y = int(text)
            return _day_bound(date(y, 12, 31) if end_of_day else date(y, 1, 1), end_of_day)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        pass
    settings = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC", "PREFER_DATES_FROM": "past"}
    if relative_to is not None:
        settings["RELATIVE_BASE"] = relative_to.replace(tzinfo=None)
    parsed = dateparser.parse(text, settings=settings, languages=["en"])
    if parsed is None:
        raise BadQuery(f"{name}: cannot understand the date {text!r} (try 2024-03-15)")
    if end_of_day and not re.search(r"\d{1,2}:\d{2}", text):
        parsed = _day_bound(parsed.date(), True)
    return parsed


_NAMED_MONTH = re.compile(rf"{_MONTH_RE}\s{{1,3}}(?:of\s{{1,3}})?(\d{{4}})")
_WEEK_OF = re.compile(r"(?:the\s{1,3})?week\s{1,3}of\s{1,3}(.{1,60})")


def named_window(text: str | None, as_of: datetime) -> tuple[datetime, datetime] | None:
    """The whole period a text names, or None: a month ("February 2026") or a week ("week of
    2026-02-09", Monday to Sunday). A period that has not ended runs up to ``as_of``. ("last week"
    stays a moment, seven days back, as it always was for --since.)"""
    low = " ".join((text or "").lower().split())[:80]
    if m := _NAMED_MONTH.fullmatch(low):
        start, end = _month_window(int(m.group(2)), _MONTHS[m.group(1)])
    elif m := _WEEK_OF.fullmatch(low):
        day = parse_moment(m.group(1), name="week of", relative_to=as_of)
        if day is None:
            return None
        monday = day.date() - timedelta(days=day.weekday())
        start, end = _day_bound(monday, False), _day_bound(monday + timedelta(days=6), True)
    else:
        return None
    return start, min(end, as_of)


def _day_bound(d: date, end: bool) -> datetime:
    return datetime.combine(d, time.max if end else time.min, tzinfo=UTC)


def _month_window(year: int, month: int) -> tuple[datetime, datetime]:
    last = calendar.monthrange(year, month)[1]
    return _day_bound(date(year, month, 1), False), _day_bound(date(year, month, last), True)


def _valid_day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _find_named_time(
    text: str, as_of: datetime
) -> tuple[tuple[datetime, datetime] | None, datetime | None, str | None]:
    """(window, day, phrase) for the first date expression in the text."""
    t = text
    low = t.lower()
    m_year = r"(\d{4})"
    # full dates: "June 16, 2022", "16 June 2022", "2022-06-16", "6/16/2022"
    patterns = [
        (
            rf"\b{_MONTH_RE}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+{m_year}\b",
            lambda g: (int(g[2]), _MONTHS[g[0]], int(g[1])),
        ),
        (
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_RE},?\s+{m_year}\b",
            lambda g: (int(g[2]), _MONTHS[g[1]], int(g[0])),
        ),
        (r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda g: (int(g[0]), int(g[1]), int(g[2]))),
        (r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", lambda g: (int(g[2]), int(g[0]), int(g[1]))),
    ]
    for pattern, pick in patterns:
        m = re.search(pattern, low)
        if m:
            y, mo, d = pick(m.groups())
            day = _valid_day(y, mo, d) if 1 <= mo <= 12 else None
            if day:
                week = re.search(r"(week|days?) (of|around|before|leading up to)\s*$", low[: m.start()])
                start = _day_bound(day - timedelta(days=7), False)
                end = _day_bound(day + timedelta(days=7 if week else 1), True)
                return (start, end), _day_bound(day, True), t[m.start() : m.end()]
    # month and year: "June 2022", "in March of 2024"
    m = re.search(rf"\b{_MONTH_RE}\s+(?:of\s+)?{m_year}\b", low)
    if m:
        mo, y = _MONTHS[m.group(1)], int(m.group(2))
        return _month_window(y, mo), None, t[m.start() : m.end()]
    # season and year
    m = re.search(r"\b(spring|summer|autumn|fall|winter)\s+(?:of\s+)?(\d{4})\b", low)
    if m:
        a, b = _SEASONS[m.group(1)]
        y = int(m.group(2))
        start = _day_bound(date(y, a, 1), False)
        end_year = y + 1 if b < a else y
        return (start, _month_window(end_year, b)[1]), None, t[m.start() : m.end()]
    # relative expressions
    today = as_of.date()
    rel: list[tuple[str, Callable[[re.Match[str]], tuple[date, date]]]] = [
        (r"\btoday\b", lambda m: (today, today)),
        (r"\byesterday\b", lambda m: (today - timedelta(days=1), today - timedelta(days=1))),
        (r"\b(this|the past|the last) week\b", lambda m: (today - timedelta(days=7), today)),
        (r"\blast week\b", lambda m: (today - timedelta(days=14), today - timedelta(days=6))),
        (r"\bthis month\b", lambda m: (today.replace(day=1), today)),
        (
            r"\blast month\b",
            lambda m: (
                (today.replace(day=1) - timedelta(days=1)).replace(day=1),
                today.replace(day=1) - timedelta(days=1),
            ),
        ),
        (r"\bthis year\b", lambda m: (today.replace(month=1, day=1), today)),
        (r"\blast year\b", lambda m: (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))),
        (
            r"\b(?:in )?the (?:past|last) (\d+|one|two|three|four|five|six|seven|eight|nine|ten|few|several|couple of)"
            r" (day|week|month|year)s?\b",
            lambda m: (today - _span(m.group(1), m.group(2)), today),
        ),
        (
            r"\bsince (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
            lambda m: (today - timedelta(days=(today.weekday() - _WEEKDAYS[m.group(1)]) % 7 or 7), today),
        ),
        (
            r"\b(?:on|last) (monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
            lambda m: ((d := today - timedelta(days=(today.weekday() - _WEEKDAYS[m.group(1)]) % 7 or 7)), d),
        ),
    ]
    for pattern, span in rel:
        m = re.search(pattern, low)
        if m:
            first, last = span(m)
            return (_day_bound(first, False), _day_bound(last, True)), None, None  # keep the words: they carry meaning
    # a bare year: "in 2023", "2019's"
    m = re.search(r"\b(?:in|during|of|from)\s+(19\d{2}|20\d{2})\b", low)
    if m:
        y = int(m.group(1))
        return (_day_bound(date(y, 1, 1), False), _day_bound(date(y, 12, 31), True)), None, t[m.start() : m.end()]
    return None, None, None


def _span(amount: str, unit: str) -> timedelta:
    n = int(amount) if amount.isdigit() else _NUMBER_WORDS.get(amount, 3)
    return timedelta(days=n * {"day": 1, "week": 7, "month": 31, "year": 366}[unit])


_FRAMING = [
    re.compile(r"\s*[—–-]+\s*asked about the news of\s+[^?]*$", re.I),
    re.compile(r"^\s*(during|in|on|as of|around|for)\s+[^:]{3,40}:\s*", re.I),
]


def _strip_phrase(question: str, phrase: str | None) -> str:
    q = " ".join(question.split())  # one space per run: the patterns' adjacent \s* never split a long run
    for pattern in _FRAMING:
        q = pattern.sub(" ", q)
    if phrase and phrase in q:
        q = re.sub(
            rf"\s*,?\s*\b(on|in|during|of|around|from|for|since)?\s*{re.escape(phrase)}\s*,?", " ", q, flags=re.I
        )
    q = re.sub(r"^\s*[,;:]\s*", "", q)
    return " ".join(q.split()) or question


_RELATIVE_WORDS = re.compile(
    r"\b(this|last|past|the past) (week|month|year|weekend)('s)?\b|\brecently\b|\b(today|yesterday)('s)?\b", re.I
)


def _strip_relative(query: str) -> str:
    """Relative time words are resolved into the window; as search words they only add noise."""
    stripped = " ".join(_RELATIVE_WORDS.sub(" ", query).split())
    return stripped if re.search(r"\w", stripped) else query


_YEAR_LABEL = re.compile(r"(?<![\w/.$£€-])(19[5-9]\d|20\d\d)(?![\w/.%-])")


def year_labels(query: str, as_of: datetime) -> tuple[int, ...]:
    """Years left in the question once its date phrase is gone: "the 2022 NHL finals", "its 2024
    pitch", "Euro 2025". Not a window (coverage of the 2024 race starts in 2023), a preference."""
    years = {int(y) for y in _YEAR_LABEL.findall(query)}
    return tuple(sorted(y for y in years if y <= as_of.year + 4))


def year_preference(years: tuple[int, ...]) -> list[tuple[datetime, datetime]]:
    """For each labelled year Y: from July of Y-1 (the run-up) to the end of March of Y+1 (the look back)."""
    return [(datetime(y - 1, 7, 1, tzinfo=UTC), datetime(y + 1, 4, 1, tzinfo=UTC)) for y in years]


def resolve_time(
    question: str, as_of: datetime, since: datetime | None = None, until: datetime | None = None
) -> TimeIntent:
    check_order(since, until)
    hard_until = min(as_of, until) if until else as_of
    window, day, phrase = _find_named_time(question, as_of)
    if window and window[0] > as_of:
        window, day = None, None  # a future time: nothing can be published there yet
    prefer_recent = bool(RECENT_WORDS.search(question)) and phrase is None
    query = _strip_relative(_strip_phrase(question, phrase))
    return TimeIntent(
        as_of=as_of,
        since=since,
        until=hard_until,
        window=window,
        day=day,
        phrase=phrase,
        prefer_recent=prefer_recent,
        query=query,
        years=year_labels(query, as_of),
    )
