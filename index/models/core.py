"""The core domain objects: feeds, articles, passages, who is asking, search hits, answers and
reports. Plain frozen (or simple) dataclasses with no behaviour beyond
``to_dict``; the bot imports these and :mod:`index.service`, never the stages behind them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..text.lead import lead

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
    # when the newest article in what was searched was published (up to the as-of moment): the
    # archive's front, read on demand (only a question about now needs it)
    front: Callable[[], float | None] | None = None


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
# ... when the coverage is about it but old: the question asks about now and the archive has newer news
STALE_OPENING = "I found no recent coverage that answers this; the closest is from {date}:"
HEDGE_OPENING_STARTS = ("I found no coverage that answers", "I found no recent coverage that answers")


def stale_opening(published_ts: float | None) -> str:
    """The stale-coverage opening, dated (in UTC, as sources are) by the newest cited article."""
    if published_ts is None:
        return STALE_OPENING.replace(" from {date}", "")
    date = datetime.fromtimestamp(published_ts, UTC)
    return STALE_OPENING.format(date=f"{date.day} {date:%B %Y}")  # strftime, as timelines and templates


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
    hedge_reason: str | None = None  # "unanswered" (related coverage) or "stale" (old coverage of a question about now)

    @property
    def opening(self) -> str:
        """The sentence a hedged answer opens with ("" when not hedged)."""
        if not self.hedged:
            return ""
        if self.hedge_reason == "stale":
            dated = [c.article.published_ts for c in self.citations if c.article.published_ts is not None]
            return stale_opening(max(dated, default=None))
        return HEDGE_OPENING

    @property
    def shown_text(self) -> str:
        """The answer as a reader sees it: a hedged one opens with its opening."""
        return f"{self.opening}\n\n{self.text}" if self.hedged else self.text

    def to_dict(self) -> dict:
        return {
            "answer": self.shown_text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "hedged": self.hedged,
            "hedge_reason": self.hedge_reason,
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
