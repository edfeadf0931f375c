"""The domain objects every layer shares: feeds, articles, passages, who is asking, search
hits, answers and reports. Plain frozen (or simple) dataclasses with no behaviour beyond
``to_dict``; the bot imports these and :mod:`index.service`, never the stages behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .text.lead import lead

if TYPE_CHECKING:
    import numpy as np

# -- the archive ---------------------------------------------------------------

# what a delivery filter may look at (index.delivery.filters)
FILTER_FIELDS = ("any", "title", "text", "author", "category")


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    name: str
    title: str | None
    guild_id: int | None
    channel_id: int | None
    status: str
    last_fetch_at: str | None
    last_ok_at: str | None
    last_error: str | None
    warning: str | None
    etag: str | None
    last_modified: str | None
    failures: int
    next_poll_at: float | None
    articles: int = 0

    @property
    def display_name(self) -> str:
        return self.name or self.title or self.url


@dataclass(frozen=True)
class Article:
    id: int
    guid: str
    url: str
    title: str
    outlet: str
    authors: tuple[str, ...]
    published: str | None
    published_ts: float | None
    date_source: str
    fetched_at: str
    language: str | None
    summary: str
    text: str
    text_source: str
    categories: tuple[str, ...] = ()

    @property
    def teaser(self) -> str:
        """The opening a post shows: the summary (or text) without a dateline, live-blog furniture
        or a sentence that only repeats the title."""
        return lead(self.summary or self.text, self.title)

    def to_dict(self, *fields: str) -> dict:
        """The article as JSON data: every field, or only ``fields``, in the order given (the
        one way an article becomes a dict, so its keys are named alike in every output)."""
        full = {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "outlet": self.outlet,
            "published": self.published,
            "authors": list(self.authors),
            "categories": list(self.categories),
            "language": self.language,
            "text_source": self.text_source,
            "date_source": self.date_source,
            "fetched_at": self.fetched_at,
            "text": self.text,
        }
        return {name: full[name] for name in fields} if fields else full


@dataclass(frozen=True)
class PassageRow:
    id: str
    article_id: int
    seq: int
    title: str
    text: str
    published_ts: float | None
    outlet: str


# -- who is asking -------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Who is asking: a guild (its feeds plus the global ones) or everything (CLI, owners)."""

    guild_id: int | None = None
    everything: bool = True

    @property
    def scoped(self) -> bool:
        return not self.everything


GLOBAL = Scope()


# -- search ---------------------------------------------------------------------


@dataclass(frozen=True)
class TimeIntent:
    as_of: datetime
    since: datetime | None = None  # hard lower bound (explicit option)
    until: datetime | None = None  # hard upper bound (explicit option or as_of)
    window: tuple[datetime, datetime] | None = None  # what the question's words point at (soft)
    day: datetime | None = None  # a single day the question names
    phrase: str | None = None  # the words that named the time
    prefer_recent: bool = False
    query: str = ""  # the question without the date phrase
    years: tuple[int, ...] = ()  # years the question uses as a label ("the 2022 Stanley Cup")


@dataclass
class Hit:
    article: Article
    passage: PassageRow
    score: float
    dense: float = 0.0
    keyword: float = 0.0
    also: list[Article] = field(default_factory=list)
    passages: list[PassageRow] = field(default_factory=list)  # the article's matching passages, best first

    @property
    def snippet(self) -> str:
        """What a result shows under its title: the matching passage (or the article's summary)
        without a dateline, live-blog furniture or a sentence that only repeats the title."""
        a = self.article
        return lead(self.passage.text if self.passage else a.summary or a.text, a.title)

    def to_dict(self) -> dict:
        return {
            **self.article.to_dict("id", "url", "title", "outlet", "published"),
            "score": round(self.score, 4),
            "passage": self.passage.text,
            "also": [a.to_dict("id", "url", "title", "outlet") for a in self.also],
        }


@dataclass
class SearchResult:
    hits: list[Hit]
    intent: TimeIntent
    notices: list[str] = field(default_factory=list)
    query_vector: np.ndarray | None = None
    weights: dict[str, float] = field(default_factory=dict)  # the question's words by stem -> IDF in the archive


# -- answers --------------------------------------------------------------------


@dataclass
class Citation:
    n: int
    article: Article
    quote: str

    def to_dict(self) -> dict:
        return {"n": self.n, **self.article.to_dict("id", "url", "title", "outlet", "published"), "quote": self.quote}


# what a hedged answer opens with (the bot, the terminal and --json show it; Answer.text is the cited sentences)
HEDGE_OPENING = "I found no coverage that answers this directly; the closest:"


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    mode: str = "extractive"
    notices: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    hedged: bool = False  # related coverage that does not answer the question directly
    evidence: dict = field(default_factory=dict)  # what the hedge decision saw (index.answers.hedging.Evidence)

    @property
    def shown_text(self) -> str:
        """The answer as a reader sees it: a hedged one opens with HEDGE_OPENING."""
        return f"{HEDGE_OPENING}\n\n{self.text}" if self.hedged else self.text

    def to_dict(self) -> dict:
        return {
            "answer": self.shown_text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "hedged": self.hedged,
            "mode": self.mode,
            "notices": self.notices,
            "closest": [h.to_dict() for h in self.hits[:5]] if self.abstained else [],
        }


# -- reports --------------------------------------------------------------------


@dataclass
class IngestReport:
    feeds_ok: int = 0
    feeds_failed: int = 0
    feeds_not_modified: int = 0
    articles_new: int = 0
    articles_updated: int = 0
    articles_unchanged: int = 0
    passages_embedded: int = 0
    passages_recovered: int = 0  # found in the vector index after an interrupted run, not re-embedded
    vectors_deleted: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    new_article_ids: list[int] = field(default_factory=list)
    index_error: str | None = None
    deferred: dict[int, int] = field(default_factory=dict)  # feed id -> entries left for the next poll
    passes: int = 1  # reads of the deferred feeds (see ``index.ingest.passes``)

    def to_dict(self) -> dict:
        return {
            "feeds_ok": self.feeds_ok,
            "feeds_failed": self.feeds_failed,
            "feeds_not_modified": self.feeds_not_modified,
            "articles_new": self.articles_new,
            "articles_updated": self.articles_updated,
            "articles_unchanged": self.articles_unchanged,
            "passages_embedded": self.passages_embedded,
            "passages_recovered": self.passages_recovered,
            "vectors_deleted": self.vectors_deleted,
            "seconds": round(self.seconds, 2),
            "errors": self.errors,
            "warnings": self.warnings,
            "index_error": self.index_error,
        }


@dataclass
class DoctorReport:
    ok: bool
    problems: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    installation: list[dict] = field(default_factory=list)  # {"check", "ok", "detail", "problem"}


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
    sources, and the previous answer's sentences no longer in it."""

    watch: Watch
    answer: Answer
    fingerprint: str
    new: list[tuple[str, Article]]
    superseded: list[str]
    new_sources: list[Article]

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


# -- what a feed's deliveries are configured with (stored by the archive) --
@dataclass(frozen=True)
class FilterRule:
    id: int
    feed_id: int
    channel_id: int | None
    action: str  # include | exclude
    field: str  # any | title | text | author | category
    pattern: str
    regex: bool = False
    negate: bool = False
    case_sensitive: bool = False

    def describe(self) -> str:
        kind = "regex" if self.regex else "words"
        neg = "not " if self.negate else ""
        case = ", case-sensitive" if self.case_sensitive else ""
        return f'#{self.id} {self.action} {neg}{self.field} {kind} "{self.pattern}"{case}'


@dataclass(frozen=True)
class ChannelLimits:
    channel_id: int
    per_window: int | None = None
    window_seconds: int | None = None
    daily_max: int | None = None
    max_age_days: float | None = None
    summarise_over: int | None = None  # an admin's choice: past N new articles per pass, one line instead

    @property
    def any(self) -> bool:
        return bool(self.per_window or self.daily_max or self.max_age_days or self.summarise_over)

    def describe(self) -> str:
        parts = []
        if self.per_window:
            parts.append(f"at most {self.per_window} posts per {(self.window_seconds or 0) // 60} min")
        if self.daily_max:
            parts.append(f"at most {self.daily_max} posts a day")
        if self.max_age_days:
            parts.append(f"nothing older than {self.max_age_days:g} days")
        if self.summarise_over:
            parts.append(f"past {self.summarise_over} new articles in one pass, a one-line summary instead of posts")
        return "; ".join(parts) or "no limits"


@dataclass(frozen=True)
class PostTemplate:
    feed_id: int
    body: str
    style: str = "embed"
    timezone: str = "UTC"
