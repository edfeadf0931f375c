"""Following one story: its coverage over time (timeline) and across outlets (compare)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..errors import NotFound
from ..models import GLOBAL, Scope, StoryComparison, Timeline
from ..parts import Parts
from ..search.retriever import clean_question
from ..search.service import ReadingService
from ..text.dates import check_order, parse_moment
from . import compare as story_compare
from . import timeline as timelines
from .grouping import group_articles


def render_query(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StoriesService:
    def __init__(self, parts: Parts, reading: ReadingService):
        self.archive = parts.archive
        self.retriever = parts.retriever
        self.parts = parts
        self.reading = reading

    def check_timeline(self, topic: str | None, *, since=None, until=None, as_of=None) -> None:
        """The cheap checks of /timeline before deferring: a topic with words, readable dates in order."""
        clean_question(topic or "")
        as_of_dt = parse_moment(as_of, end_of_day=True, name="as-of")
        since_dt = parse_moment(since, name="since", relative_to=as_of_dt)
        until_dt = parse_moment(until, end_of_day=True, name="until", relative_to=as_of_dt)
        check_order(since_dt, until_dt)

    def timeline(
        self, topic: str, *, since=None, until=None, as_of=None, scope: Scope = GLOBAL, render: bool = True
    ) -> Timeline:
        """Coverage of a topic per day/week/month and outlet (the archive's counts of the articles
        holding every word of the topic), its peaks and a chronology, and the chart as PNG.
        With ``as_of``, nothing published or archived after that moment counts."""
        topic = clean_question(topic)
        as_of_dt = parse_moment(as_of, end_of_day=True, name="as-of")
        now = (as_of_dt or datetime.now(UTC)).astimezone(UTC)
        since_dt = parse_moment(since, name="since", relative_to=now)
        until_dt = min(parse_moment(until, end_of_day=True, name="until", relative_to=now) or now, now)
        check_order(since_dt, until_dt)
        fetched_until = as_of_dt.astimezone(UTC).isoformat(timespec="seconds") if as_of_dt else None
        matches = self.archive.topic_articles(
            topic,
            since_dt.timestamp() if since_dt else None,
            until_dt.timestamp(),
            scope=scope,
            fetched_until=fetched_until,
        )
        if since_dt is None:
            since_dt = datetime.fromtimestamp(matches[0][1], UTC) if matches else until_dt - timedelta(days=30)
        kind = timelines.bucket_kind(since_dt, until_dt)
        buckets, counts, members = timelines.count(matches, since_dt, until_dt, kind)
        totals = [sum(col) for col in zip(*counts.values(), strict=True)] if counts else [0] * len(buckets)
        peak_index = timelines.peaks(totals)
        in_peaks = self.archive.articles_by_ids(aid for i in peak_index for _, aid in members[i])
        top_ids = {i: timelines.top_headline(topic, members[i], in_peaks) for i in peak_index}
        found = in_peaks | self.archive.articles_by_ids([matches[0][0], matches[-1][0]] if matches else [])
        peaks = [(buckets[i], totals[i], found[top_ids[i]]) for i in peak_index if top_ids[i] in found]
        chronology = timelines.chronology(
            found.get(matches[0][0]) if matches else None,
            [a for _, _, a in peaks],
            found.get(matches[-1][0]) if matches else None,
        )
        result = Timeline(topic, since_dt, until_dt, kind, buckets, counts, peaks, chronology, sum(totals))
        if render:
            result.png = timelines.render_png(result)
        return result

    def check_compare(self, query: str | None, *, scope: Scope = GLOBAL) -> None:
        """The cheap checks of /compare before deferring: not empty; an article id must exist."""
        key = (query or "").strip()
        clean_question(key)
        if key.isdigit():
            self.reading.article(key, scope)

    def compare(self, query: str, *, scope: Scope = GLOBAL) -> StoryComparison:
        """One story grouped across outlets, found from an article (URL or id) or a query: its
        articles oldest first (who reported first), and the figures their outlets disagree on."""
        key = (query or "").strip()
        anchor = None
        if key.isdigit() or key.lower().startswith(("http://", "https://")):
            try:
                anchor = self.reading.article(key, scope)
            except NotFound:
                if key.isdigit():
                    raise
        if anchor is None:
            result = self.retriever.search(clean_question(key), limit=10, scope=scope)
            if not self.reading.extractive.is_relevant(result):
                raise NotFound(f"no story in the archive matches {render_query(key)!r}")
            anchor = result.hits[0].article
        around = anchor.published_ts or 0.0
        days = 86400 * story_compare.AROUND_DAYS
        articles = self.archive.period_articles(around - days, around + days, scope=scope)
        if anchor.id not in {a.id for a in articles}:
            articles.append(anchor)
        story = next(g for g in group_articles(articles, self.parts.story_vectors(articles)) if anchor in g)
        story.sort(key=lambda a: (a.published_ts or 0, a.id))
        return StoryComparison(story, story_compare.disagreements(story))
