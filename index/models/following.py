"""What following stories works with: topic follows and alerts, digests, timelines, story
comparisons, standing questions (watches) and answer feedback."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .core import Answer, Article

# -- topic alerts ----------------------------------------------------


@dataclass(frozen=True)
class Follow:
    """A followed topic: for a server channel (``channel_id``), for a member by DM (``user_id``),
    or from the command line (neither; only ``newsdesk alerts`` shows what it would receive).
    ``guild_id`` is the server whose scope it sees (None: the global feeds only)."""

    id: int
    topic: str
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    created_by: int | None = None
    created_at: str | None = None
    paused: str | None = None  # why its DMs are not delivered (closed DMs), until the member resumes it

    @property
    def kind(self) -> str:
        return "channel" if self.channel_id is not None else "dm" if self.user_id is not None else "cli"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "topic": self.topic,
            "kind": self.kind,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "user_id": self.user_id,
            "created_at": self.created_at,
            "paused": self.paused,
        }


@dataclass
class Alert:
    """One new article a follow receives (its best-scored copy), with the other outlets' copies of
    the same story folded in (``also``)."""

    follow: Follow
    article: Article
    score: float
    also: list[Article] = field(default_factory=list)
    snippet: str = ""

    def to_dict(self) -> dict:
        return {
            "follow_id": self.follow.id,
            "topic": self.follow.topic,
            **self.article.to_dict("id", "url", "title", "outlet", "published"),
            "score": round(self.score, 4),
            "also": [a.to_dict("id", "url", "title", "outlet") for a in self.also],
        }


@dataclass
class AlertBatch:
    """What one delivery target (a channel or a member's DMs) receives from one follow in one pass:
    at most the per-pass maximum of alerts; the rest (``overflow``) is summarised in one line."""

    follow: Follow
    alerts: list[Alert] = field(default_factory=list)
    overflow: list[Alert] = field(default_factory=list)


# -- following stories: digests, timelines, story comparison (index/following/) ----------


@dataclass(frozen=True)
class DigestSchedule:
    """A server's scheduled digest: posted to ``channel_id`` every day (or week, on ``weekday``,
    0 = Monday) at ``minute`` minutes after midnight UTC, optionally restricted to ``topic``."""

    id: int
    guild_id: int
    channel_id: int
    period: str  # "daily" | "weekly"
    minute: int
    weekday: int
    topic: str | None
    created_by: int | None
    created_ts: float
    last_key: str | None = None
    last_state: str | None = None

    @property
    def when(self) -> str:
        hhmm = f"{self.minute // 60:02d}:{self.minute % 60:02d} UTC"
        if self.period == "weekly":
            days = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")
            return f"{days[self.weekday]} {hhmm}"
        return f"daily {hhmm}"


@dataclass
class DigestStory:
    """One story of a digest: its articles (one or more outlets), the headline article, an extract."""

    headline: Article
    extract: str
    articles: list[Article]

    @property
    def outlets(self) -> list[str]:
        return sorted({a.outlet for a in self.articles if a.outlet})

    def to_dict(self) -> dict:
        return {
            "title": self.headline.title,
            "url": self.headline.url,
            "extract": self.extract,
            "outlets": self.outlets,
            "articles": [a.to_dict("id", "url", "title", "outlet", "published") for a in self.articles],
        }


@dataclass
class Digest:
    since: datetime
    until: datetime
    topic: str | None
    stories: list[DigestStory]
    articles: int = 0  # articles in the period (and on the topic) the stories were drawn from

    def to_dict(self) -> dict:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "topic": self.topic,
            "articles": self.articles,
            "stories": [s.to_dict() for s in self.stories],
        }


@dataclass
class Timeline:
    """Coverage of a topic per bucket (day, week or month) and outlet, its peaks, a chronology
    of key articles and the chart as PNG bytes. ``counts[outlet][i]`` is the number of matching
    articles of that outlet published in the bucket starting at ``buckets[i]``."""

    topic: str
    since: datetime
    until: datetime
    bucket: str  # "day" | "week" | "month"
    buckets: list[str]  # ISO dates, each bucket's first day
    counts: dict[str, list[int]]
    peaks: list[tuple[str, int, Article]]  # (bucket, total, top headline)
    chronology: list[Article]
    total: int
    png: bytes = b""

    def bucket_label(self, bucket: str) -> str:
        """ "on 22 Nov 2026", "in the week of 16 Nov 2026", "in Nov 2026"."""
        start = datetime.fromisoformat(bucket)
        if self.bucket == "month":
            return "in " + start.strftime("%b %Y")
        day = start.strftime("%d %b %Y").lstrip("0")
        return f"in the week of {day}" if self.bucket == "week" else f"on {day}"

    def to_dict(self) -> dict:
        return {
            "topic": self.topic,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "bucket": self.bucket,
            "buckets": self.buckets,
            "counts": self.counts,
            "total": self.total,
            "peaks": [{"bucket": b, "articles": n, **a.to_dict("title", "url")} for b, n, a in self.peaks],
            "chronology": [a.to_dict("published", "outlet", "title", "url") for a in self.chronology],
        }


@dataclass(frozen=True)
class FigureClaim:
    """A number one article attaches to a noun ("700 agents"), with the sentence it is in."""

    article: Article
    value: float
    text: str  # the figure as written ("700", "1.5 million")
    unit: str  # the noun it counts, as written
    sentence: str


@dataclass
class StoryComparison:
    """One story across outlets: who reported first, who carried it, where their figures disagree
    (per unit, the differing claims of different outlets)."""

    articles: list[Article]  # oldest first
    disagreements: list[tuple[str, list[FigureClaim]]]

    @property
    def first(self) -> Article:
        return self.articles[0]

    @property
    def outlets(self) -> list[str]:
        return list(dict.fromkeys(a.outlet for a in self.articles if a.outlet))

    def to_dict(self) -> dict:
        return {
            "first": self.first.to_dict("outlet", "published", "url"),
            "articles": [a.to_dict("id", "outlet", "published", "title", "url") for a in self.articles],
            "disagreements": [
                {
                    "unit": unit,
                    "claims": [
                        {
                            "outlet": c.article.outlet,
                            "value": c.value,
                            "figure": c.text,
                            "sentence": c.sentence,
                            "url": c.article.url,
                        }
                        for c in claims
                    ],
                }
                for unit, claims in self.disagreements
            ],
        }


# -- standing questions and answer feedback -------------------------------


@dataclass(frozen=True)
class Watch:
    """A standing question: re-asked after each ingest, a notice when its cited answer changes.
    ``answer`` is the last answer as ((sentence, article id), …); ``seen_article_id`` the highest
    article id fully embedded at the last check."""

    id: int
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    question: str
    created_by: int | None
    created_at: str | None
    checked_at: str | None
    seen_article_id: int
    answer: tuple[tuple[str, int], ...]
    fingerprint: str | None
    seen_update_id: int = 0

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "user_id": self.user_id,
            "question": self.question,
            "created_at": self.created_at,
            "checked_at": self.checked_at,
            "answer": [{"sentence": s, "article_id": a} for s, a in self.answer],
        }


@dataclass
class WatchChange:
    """What changed in a watch's answer: the sentences new to it (with their articles), the new
    sources, and the previous answer's sentences no longer in it. ``sentences`` (the new stored
    answer) and ``seen`` (the coverage checked) are what claiming the change writes."""

    watch: Watch
    answer: Answer
    fingerprint: str
    new: list[tuple[str, Article]]
    superseded: list[str]
    new_sources: list[Article]
    sentences: list[tuple[str, int]] = field(default_factory=list)
    seen: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict:
        return {
            "watch_id": self.watch.id,
            "question": self.watch.question,
            "fingerprint": self.fingerprint,
            "new": [{"sentence": s, **a.to_dict("id", "url", "title")} for s, a in self.new],
            "superseded": self.superseded,
            "new_sources": [a.to_dict("id", "url", "title", "outlet") for a in self.new_sources],
            "answer": self.answer.text,
        }


@dataclass
class QuestionGroup:
    """Unanswered or down-voted questions on one topic, and feeds discovery suggests for them."""

    label: str
    questions: list[dict]  # {"id", "question", "asked_at", "abstained", "down", "up"}
    sites: list[str] = field(default_factory=list)  # sites the discovery looked at
    suggestions: list[dict] = field(default_factory=list)  # {"url", "title", "how", "site"}
    discovery: str = ""  # what discovery found, in words ("nothing found on …")

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "questions": self.questions,
            "sites": self.sites,
            "suggestions": self.suggestions,
            "discovery": self.discovery,
        }
