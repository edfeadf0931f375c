"""Digests: a period's top stories, ranked by how widely they were covered.

A period's articles (in the server's scope) are grouped into stories across outlets
(:mod:`.grouping`), ranked by the number of outlets, then of articles, then by their latest
article; each story shows its headline article, a one- or two-sentence extract (the same
extractive summary auto-posts use, :func:`index.delivery.summary.summarize`) and the links of
its articles. A topic keeps the stories holding an article the hybrid retriever finds relevant
to it (the same retrieval and relevance test as /ask and /latest).

Schedules: daily or weekly at a UTC time. A run is due once its time of the current period has
passed (and came after the schedule was made); its period key (``2026-12-02`` daily, ``2026-W49``
weekly) is claimed in the archive before it is posted, so it goes out once in all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ..delivery.summary import summarize
from ..errors import BadQuery
from ..models import Article, Digest, DigestSchedule, DigestStory, Hit
from ..search.retriever import clean_question
from ..text.chunking import split_sentences
from ..text.lead import lead, strip_furniture

DAY_SECONDS = 86400
PERIODS = {"daily": 1, "day": 1, "today": 1, "weekly": 7, "week": 7}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MINUTE = 8 * 60  # 08:00 UTC
MAX_TOPIC_CHARS = 200
DIGEST_STORIES = 8
MAX_STORIES = 25
EXTRACT_CHARS = 320
MAX_PERIOD_ARTICLES = 1500  # newest articles of a period that are grouped (a busy week's worth)
_TIME = re.compile(r"^(?:(?P<day>[a-z]{3})[a-z]*\s+)?(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?:utc)?$", re.I)


def parse_period(period: str | None, default: str = "daily") -> str:
    """``daily`` or ``weekly`` (day/week/today accepted); BadQuery names the choices otherwise."""
    key = (period or default).strip().lower()
    if key not in PERIODS:
        raise BadQuery(f"unknown period {period!r} (use daily or weekly)")
    return "daily" if PERIODS[key] == 1 else "weekly"


def parse_time(text: str | None, period: str) -> tuple[int, int]:
    """(minute of the day UTC, weekday 0=Monday) from ``08:00``, ``8``, ``mon 08:00`` (weekday for weekly)."""
    if not text or not text.strip():
        return DEFAULT_MINUTE, 0
    m = _TIME.match(text.strip())
    if not m:
        raise BadQuery(f"can't read the time {text!r} (write it as HH:MM UTC, e.g. 08:00, or 'mon 08:00' weekly)")
    hour, minute = int(m["h"]), int(m["m"] or 0)
    if hour > 23 or minute > 59:
        raise BadQuery(f"{text!r} is not a time of day (00:00 to 23:59 UTC)")
    weekday = 0
    if m["day"]:
        if period != "weekly":
            raise BadQuery("a weekday only goes with weekly digests")
        if m["day"].lower() not in WEEKDAYS:
            raise BadQuery(f"unknown weekday {m['day']!r} (mon, tue, … sun)")
        weekday = WEEKDAYS.index(m["day"].lower())
    return hour * 60 + minute, weekday


def parse_topic(topic: str | None) -> str | None:
    if topic is None or not topic.strip():
        return None
    return clean_question(topic)[:MAX_TOPIC_CHARS]


@dataclass(frozen=True)
class DueRun:
    schedule: DigestSchedule
    period_key: str
    since: datetime
    until: datetime


def run_time(schedule: DigestSchedule, now: datetime) -> datetime:
    """The schedule's latest run time at or before ``now``."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = midnight + timedelta(minutes=schedule.minute)
    if schedule.period == "weekly":
        at -= timedelta(days=(midnight.weekday() - schedule.weekday) % 7)
        if at > now:
            at -= timedelta(days=7)
    elif at > now:
        at -= timedelta(days=1)
    return at


def period_key(schedule: DigestSchedule, at: datetime) -> str:
    if schedule.period == "weekly":
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    return at.strftime("%Y-%m-%d")


def due_run(schedule: DigestSchedule, now: datetime) -> DueRun | None:
    """The run of the current period when its time has passed and came after the schedule was made."""
    at = run_time(schedule, now)
    if at.timestamp() < schedule.created_ts:
        return None
    days = PERIODS[schedule.period]
    return DueRun(schedule, period_key(schedule, at), at - timedelta(days=days), at)


def _beyond_headline(article: Article, headline: str) -> list[str]:
    """The article's sentences after those that only repeat the headline (briefs whose headline is
    their first sentence, cut with "…")."""
    title = " ".join(headline.split()).rstrip(".…").removesuffix("...").strip().lower()
    sentences = split_sentences(lead(article.text or article.summary or "", headline))
    while sentences and title and sentences[0].lower().startswith(title[: max(20, len(title) - 3)]):
        sentences = sentences[1:]
    return sentences


def extract_of(head: Article, story: list[Article] | None = None) -> str:
    """One or two sentences: the summary auto-posts use (the opening), past what only repeats the
    headline; from another article of the story when the headline article has nothing more."""
    sentences = _beyond_headline(head, head.title)
    for other in story or []:
        if sentences:
            break
        if other.id != head.id:
            sentences = _beyond_headline(other, head.title)
    if not sentences:
        sentences = split_sentences(strip_furniture(head.text or head.summary or ""))
    text = summarize(replace(head, text=" ".join(sentences), summary=""), EXTRACT_CHARS + 200)
    if len(text) > EXTRACT_CHARS:
        cut = text[: EXTRACT_CHARS - 1]
        text = cut[: cut.rfind(" ")] + "…" if " " in cut else cut + "…"
    return text


def rank_stories(groups: list[list[Article]]) -> list[list[Article]]:
    """Most outlets first, then most articles, then the most recent."""
    return sorted(
        groups,
        key=lambda g: (
            -len({a.outlet for a in g}),
            -len(g),
            -max(a.published_ts or 0 for a in g),
            g[0].id,
        ),
    )


def relevant(hits: list[Hit], min_relevance: float) -> set[int]:
    """Article ids the retriever found relevant to a topic (as /latest decides)."""
    return {h.article.id for h in hits if h.dense >= min_relevance or h.keyword > 0.3}


def make_digest(
    since: datetime,
    until: datetime,
    topic: str | None,
    groups: list[list[Article]],
    headline_of,
    limit: int,
    articles: int,
) -> Digest:
    stories = []
    for group in rank_stories(groups)[:limit]:
        head = headline_of(group)
        ordered = sorted(group, key=lambda a: (a.published_ts or 0, a.id))
        stories.append(DigestStory(head, extract_of(head, ordered), ordered))
    return Digest(since, until, topic, stories, articles)
