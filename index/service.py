"""Newsdesk: the one service the command line and the bot both call.

Every method is synchronous and safe to call from worker threads; the bot calls
them with ``asyncio.to_thread`` so the event loop never blocks.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from . import doctor
from .answers.extractive import ExtractiveAnswerer
from .answers.llm import LLMAnswerer
from .archive import Archive
from .archive.backends import open_archive
from .archive.posts import POST_GRACE_SECONDS
from .config import Config, llm_api_key
from .delivery import filters as delivery_filters
from .delivery import templates as post_templates
from .delivery.discovery import FoundFeed, discover
from .delivery.limits import ChannelLimits, make_limits, start_of_day
from .delivery.why import delivery_rows_in_scope
from .errors import BadQuery, IndexUnavailable, LimitReached, NewsdeskError, NotFound, PermissionDenied
from .feeds.fetch import Fetcher
from .feeds.imports import import_outlines
from .feeds.netguard import check_url
from .feeds.opml import OpmlOutline, parse_opml, render_opml
from .following import compare as story_compare
from .following import digests as digest_rules
from .following import feedback as answer_feedback
from .following import timeline as timelines
from .following import watches as watch_diff
from .following.alerts import Following
from .following.grouping import group_articles, headline_of
from .ingest.pipeline import Pipeline, Progress
from .logsafety import install_redaction, redact
from .models import (
    GLOBAL,
    Alert,
    AlertBatch,
    Answer,
    Article,
    Digest,
    DigestSchedule,
    DoctorReport,
    Feed,
    Follow,
    Hit,
    IngestReport,
    QuestionGroup,
    Scope,
    SearchResult,
    StoryComparison,
    Timeline,
    Watch,
    WatchChange,
)
from .search.retriever import Retriever, clean_question
from .serverstatus import scoped_status
from .text.dates import parse_moment
from .vectors.chroma import VectorStore
from .vectors.embedders import Embedder, load_embedder

__all__ = ["GLOBAL", "Newsdesk", "Scope", "install_redaction", "redact"]

log = logging.getLogger(__name__)

REINDEX_KEY = "reindex_request"

MAX_WATCHES_PER_GUILD = 25  # standing questions a server may hold
MAX_WATCHES_PER_MEMBER = 5  # …and each member (in a server, or in DMs)
MAX_WATCH_QUESTION = 300
MAX_WATCHES_PER_PASS = 200  # re-asked per check; the rest stay due for the next pass
MAX_REPORT_GROUPS = 8  # topics /status and `newsdesk stats` list
MAX_DISCOVERY_SITES = 6  # sites feed discovery fetches for one report
DISCOVERY_TIMEOUT = 5.0  # seconds per discovery fetch in a report
ASKED_RETENTION_DAYS = 180  # recorded answers (and their votes) older than this are forgotten

DELIVERY_MAX_ATTEMPTS = 5  # a failed auto-post is tried this often in all
DELIVERY_RETRY_SECONDS = 60  # the first retry; each next one waits four times longer
MAX_BACKFILL = 50  # existing articles a new feed may post at most
UPDATE_MODES = ("ignore", "edit", "repost")  # what a re-published, changed article does to its post


def parse_forum_tags(text: str) -> list[tuple[str, str]]:
    """``Tag=words, words; Other=words`` as [(tag, words)], each words list validated."""
    out = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, sep, words = part.partition("=")
        if not sep or not name.strip() or not words.strip():
            raise BadQuery(f"forum tags are written Tag=words; Other=words (not {part.strip()!r})")
        delivery_filters.compile_pattern(words, False, False)
        out.append((name.strip()[:20], words.strip()))
    return out


class Newsdesk:
    def __init__(self, config: Config, embedder: Embedder | None = None):
        self.config = config
        self.archive: Archive = open_archive(config.archive_target)
        self._embedder = embedder
        self._store: VectorStore | None = None
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()
        self.retriever = Retriever(
            self.archive, config.retrieval, self.embedder_or_load, self.store_or_open, index=config.index
        )
        self.extractive = ExtractiveAnswerer(config.answers, self.embedder_or_load)
        self.answerer: ExtractiveAnswerer | LLMAnswerer = self.extractive
        if config.answers.llm_url:
            self.answerer = LLMAnswerer(config.answers, llm_api_key(config), self.extractive)
        self.last_poll: str | None = None

    # -- lazily loaded parts ---------------------------------------------------
    def embedder_or_load(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.config.embedding, self.config.data_dir / "models")
            return self._embedder

    def store_or_open(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                embedder = self.embedder_or_load()
                self._store = VectorStore(self.config.index, self.config.chroma_path, embedder.name, embedder.dimension)
            return self._store

    @property
    def model_name(self) -> str:
        return self._embedder.name if self._embedder else self.config.embedding.model

    def close(self) -> None:
        self.archive.close()

    # -- feeds -------------------------------------------------------------------
    def add_feed(
        self,
        url: str,
        name: str = "",
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        added_by: int | None = None,
    ) -> tuple[Feed, bool]:
        url = (url or "").strip()
        check_url(url, self.config.feeds.allow_private_networks)
        per_server = self.config.feeds.max_feeds_per_server if guild_id is not None else 0
        return self.archive.add_feed(url, name.strip(), guild_id, channel_id, added_by, max_per_server=per_server)

    def discover_feeds(self, url: str) -> list[FoundFeed]:
        """The feeds behind a URL: itself when it is a feed, a YouTube channel's, subreddit's or
        Mastodon profile's feed, the feeds a web page links to, or common feed paths. An empty list
        when the page names none; FetchError when the URL cannot be fetched; UrlRefused by the guard."""
        url = (url or "").strip()
        check_url(url, self.config.feeds.allow_private_networks)
        with Fetcher(self.config.feeds) as fetcher:
            return discover(url, fetcher)

    def list_feeds(self, scope: Scope = GLOBAL) -> list[Feed]:
        return self.archive.list_feeds(scope)

    def feed_for(self, url_or_id: str | int, scope: Scope = GLOBAL, manage: bool = False) -> Feed:
        feed = self.archive.get_feed(url_or_id, scope)  # another server's row: the same NotFound as none
        if scope.scoped:
            if manage and feed.guild_id != scope.guild_id:
                raise PermissionDenied("that feed is global; only a bot owner can change it")
        return feed

    def remove_feed(self, url_or_id: str | int, scope: Scope = GLOBAL) -> tuple[Feed, int]:
        feed = self.feed_for(url_or_id, scope, manage=True)
        removed = self.archive.remove_feed(feed.id)
        try:
            self.pipeline().apply_vector_deletes(IngestReport())
        except IndexUnavailable as exc:
            log.warning("vectors of removed feed %s stay queued for deletion: %s", feed.url, exc)
        return feed, removed

    def import_opml(self, content: bytes, scope: Scope = GLOBAL, added_by: int | None = None) -> dict:
        guild_id = scope.guild_id if scope.scoped else None
        return import_outlines(self.archive, parse_opml(content), self.config.feeds, guild_id, added_by)

    def read_opml(self, source: str) -> bytes:
        """The bytes of an OPML file (a path) or URL (fetched like a feed, within the same guards)."""
        if source.startswith(("http://", "https://")):
            with Fetcher(self.config.feeds) as fetcher:
                return fetcher.get(source, accept="text/x-opml, application/xml, */*").content
        try:
            with open(source, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise NewsdeskError(f"cannot read {source}: {exc.strerror}") from None

    def export_opml(self, scope: Scope = GLOBAL) -> str:
        return render_opml([OpmlOutline(f.url, f.display_name) for f in self.list_feeds(scope)])

    # -- ingest ------------------------------------------------------------------
    def pipeline(self, progress: Progress | None = None, with_index: bool = True) -> Pipeline:
        if not with_index:
            return Pipeline(self.config, self.archive, None, None, progress)
        return Pipeline(self.config, self.archive, self.store_or_open, self.embedder_or_load, progress)

    def ingest(
        self,
        feed: str | int | None = None,
        *,
        scope: Scope = GLOBAL,
        full: bool = False,
        progress: Progress | None = None,
        due_only: bool = False,
    ) -> IngestReport:
        if feed is not None:
            feeds = [self.feed_for(feed, scope)]
        else:
            feeds = self.list_feeds(scope)
            if scope.scoped:
                feeds = [f for f in feeds if f.guild_id == scope.guild_id]
        if due_only:
            now = time.time()
            feeds = [f for f in feeds if not f.next_poll_at or f.next_poll_at <= now]
        with self._ingest_lock:
            report = self.pipeline(progress).run(feeds, full=full)
        self.last_poll = datetime.now(UTC).isoformat(timespec="seconds")
        return report

    def reindex(
        self,
        *,
        full: bool = False,
        feed: str | int | None = None,
        scope: Scope = GLOBAL,
        progress: Progress | None = None,
        requested_by: int | None = None,
    ) -> IngestReport:
        """Re-embed passages. ``full`` rebuilds the whole index (needed after a model change).

        The request is recorded in the archive (meta ``reindex_request``) until it is done, so a
        reindex interrupted by a restart is found by :meth:`pending_reindex` and finished by
        :meth:`resume_reindex`; its stage ("requested", "marked", "reset") says how far it got."""
        with self._ingest_lock:
            store = self.store_or_open()
            feeds: list[Feed] = []
            if feed is not None or scope.scoped:
                feeds = (
                    [self.feed_for(feed, scope, manage=True)]
                    if feed is not None
                    else [f for f in self.list_feeds(scope) if f.guild_id == scope.guild_id]
                )
            request = {
                "full": bool(full and feed is None and not scope.scoped),
                "feed_ids": [f.id for f in feeds],
                "scoped": scope.scoped,
                "guild_id": scope.guild_id,
                "feed": None if feed is None else str(feed),
                "requested_by": requested_by,
                "requested_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "stage": "requested",
            }
            self._save_reindex(request)
            return self._reindex(store, request, progress)

    def pending_reindex(self) -> dict | None:
        """The reindex request an interrupted run left in the archive, or None."""
        raw = self.archive.get_meta(REINDEX_KEY)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def resume_reindex(self, progress: Progress | None = None) -> tuple[dict, IngestReport] | None:
        """Finish an interrupted reindex (None when there is none): what the interrupted run
        already embedded is kept, the rest is embedded now."""
        with self._ingest_lock:
            request = self.pending_reindex()
            if request is None:
                return None
            return request, self._reindex(self.store_or_open(), request, progress)

    def _save_reindex(self, request: dict) -> None:
        self.archive.set_meta(REINDEX_KEY, json.dumps(request))

    def _reindex(self, store: VectorStore, request: dict, progress: Progress | None) -> IngestReport:
        pipeline = self.pipeline(progress)
        report = IngestReport()
        started = time.monotonic()
        # batches an interrupted run left in Chroma unmarked: before the marks below, which they must not undo
        assert pipeline.indexer is not None, "a reindex needs the index"
        recovered = pipeline.indexer.recover(report)
        if request["stage"] == "requested":
            with self.archive.transaction():  # the marks and the stage together
                if request["full"]:
                    self.archive.mark_all_unembedded()
                for feed_id in request["feed_ids"]:
                    self.archive.mark_all_unembedded(feed_id)
                request["stage"] = "marked"
                self._save_reindex(request)
        if request["full"] and request["stage"] == "marked":
            store.reset()  # nothing is embedded between the marks and the reset: safe to redo
            request["stage"] = "reset"
            self._save_reindex(request)
        pipeline.apply_vector_deletes(report)
        counts = self.archive.counts()
        pending = counts["passages"] - counts["embedded_passages"]
        if progress:
            progress("embedding", pending=pending)
        pipeline.embed_pending(report)
        report.seconds = time.monotonic() - started
        self.archive.delete_meta(REINDEX_KEY)
        log.info("reindex done: %d embedded, %d recovered", report.passages_embedded, recovered)
        return report

    # -- questions ------------------------------------------------------------------
    def search(
        self,
        query: str,
        *,
        as_of=None,
        since=None,
        until=None,
        source: str | None = None,
        limit: int = 10,
        scope: Scope = GLOBAL,
        context: str | None = None,
    ) -> SearchResult:
        return self.retriever.search(
            query, as_of=as_of, since=since, until=until, source=source, limit=limit, scope=scope, context=context
        )

    @property
    def streams(self) -> bool:
        """True when answers can be streamed as drafts (the LLM answerer is configured)."""
        return isinstance(self.answerer, LLMAnswerer)

    def ask(
        self,
        question: str,
        *,
        as_of=None,
        since=None,
        until=None,
        source: str | None = None,
        scope: Scope = GLOBAL,
        context: str | None = None,
        on_draft: Callable[[str], None] | None = None,
    ) -> Answer:
        """``on_draft(text_so_far)``: with the LLM answerer, called (from this thread) as the reply is
        written; the Answer returned is the checked one. Ignored by the extractive answerer."""
        result = self.search(
            question, as_of=as_of, since=since, until=until, source=source, limit=8, scope=scope, context=context
        )
        if on_draft is not None and isinstance(self.answerer, LLMAnswerer):
            return self.answerer.answer(question, result, on_text=on_draft)
        return self.answerer.answer(question, result)

    def latest(
        self, topic: str | None = None, *, source: str | None = None, limit: int = 10, as_of=None, scope: Scope = GLOBAL
    ) -> list[Hit]:
        limit = max(1, min(int(limit), 50))
        if topic and topic.strip():
            result = self.search(topic, source=source, limit=limit * 3, as_of=as_of, scope=scope)
            relevant = [h for h in result.hits if h.dense >= self.config.answers.min_relevance or h.keyword > 0.3]
            relevant.sort(key=lambda h: -(h.article.published_ts or 0))
            return relevant[:limit]
        outlets = self.retriever.resolve_outlets(source, scope)
        until = parse_moment(as_of, end_of_day=True, name="as-of")
        articles = self.archive.latest_articles(
            limit=limit * 3, until_ts=until.timestamp() if until else None, outlets=outlets, scope=scope
        )
        hits = [Hit(article=a, passage=self.archive.first_passage(a), score=0.0) for a in articles]
        try:
            self.retriever.refresh_mirror()
        except IndexUnavailable:
            pass
        return self.retriever.group_stories(hits, limit)[:limit]

    def article(self, url_or_id: str | int, scope: Scope = GLOBAL) -> Article:
        article = self.archive.get_article(url_or_id)
        if scope.scoped and not self.archive.article_visible(article.id, scope.guild_id):
            raise NotFound(f"no article {url_or_id!r} in this server's feeds")
        return article

    def sources(self, scope: Scope = GLOBAL) -> dict:
        return {"outlets": self.archive.outlets(scope), "feeds": self.list_feeds(scope)}

    def check_query(
        self,
        question: str | None,
        *,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        scope: Scope = GLOBAL,
    ) -> None:
        """The cheap checks of a question and its options, without searching (the bot runs them
        before deferring, so a mistake gets an ephemeral reply): an empty question, unreadable
        dates, since after until, an unknown source. Raises BadQuery."""
        if question is not None:
            clean_question(question)
        since_dt = parse_moment(since, name="since")
        until_dt = parse_moment(until, end_of_day=True, name="until")
        if since_dt and until_dt and since_dt > until_dt:
            raise BadQuery("since is after until")
        if source:
            self.retriever.resolve_outlets(source, scope)

    def passage_texts(self, article_id: int, scope: Scope = GLOBAL) -> tuple[Article, list[str]]:
        """An article visible in scope and the texts of its passages, in order (NotFound otherwise)."""
        article = self.article(article_id, scope)
        return article, [p.text for p in self.archive.article_passages(article.id)]

    # -- delivery (auto-posts and feed-health notices, claimed across processes) ------
    def pending_posts(self, limit: int = 200) -> list[tuple[int, Feed | None, Article]]:
        """(channel_id, feed, article) to auto-post, oldest first."""
        return self._with_feed_and_article(self.archive.pending_posts(limit=limit))

    def _with_feed_and_article(self, rows: list[tuple[int, int, int]]) -> list[tuple[int, Feed | None, Article]]:
        """(channel_id, feed_id, article_id) rows as (channel_id, feed, article), articles still archived."""
        if not rows:
            return []
        articles = self.archive.articles_by_ids([article_id for _, _, article_id in rows])
        feeds = {f.id: f for f in self.archive.list_feeds()}
        return [
            (channel_id, feeds.get(feed_id), articles[article_id])
            for channel_id, feed_id, article_id in rows
            if article_id in articles
        ]

    def claim_post(self, channel_id: int, article_id: int, feed_id: int) -> bool:
        """True for exactly one caller, in any process, per channel and article (logged as sending)."""
        return self.archive.claim_delivery(channel_id, article_id, feed_id)

    def record_post(self, channel_id: int, article_id: int, message_id: int | None) -> None:
        self.archive.record_post(channel_id, article_id, message_id)
        self.archive.log_delivery(channel_id, article_id, None, "posted", "posted", message_id=message_id)

    # -- delivery: filters, flood control, the delivery log and retries ---------------
    def delivery_queue(self, limit: int = 1000) -> list[tuple[int, Feed | None, Article]]:
        """The pending posts that may go out now, oldest first. Articles a filter rejects or that
        are older than the channel's maximum age are claimed and logged (never posted); those a
        rate or daily limit holds back stay pending, logged as held (and counted)."""
        now = time.time()
        out = []
        rules: dict[tuple[int, int], list] = {}
        limits: dict[int, ChannelLimits] = {}
        taken: dict[int, int] = {}
        for channel_id, feed, article in self._backfill_posts() + self.pending_posts(limit):
            feed_id = feed.id if feed is not None else 0
            key = (feed_id, channel_id)
            if key not in rules:
                rules[key] = self.archive.feed_filters(feed_id, channel_id) if feed is not None else []
            passes, why = delivery_filters.evaluate(rules[key], article)
            if not passes:
                if self.archive.claim_post(channel_id, article.id, feed_id):
                    self.archive.log_delivery(channel_id, article.id, feed_id, "filtered", why)
                continue
            if channel_id not in limits:
                limits[channel_id] = self.archive.channel_limits(channel_id)
            lim = limits[channel_id]
            if lim.max_age_days and article.published_ts and article.published_ts < now - lim.max_age_days * 86400:
                if self.archive.claim_post(channel_id, article.id, feed_id):
                    self.archive.log_delivery(
                        channel_id,
                        article.id,
                        feed_id,
                        "skipped",
                        f"older than the channel's maximum age of {lim.max_age_days:g} days",
                    )
                continue
            held = self._held_by(lim, taken.get(channel_id, 0), now)
            if held:
                self.archive.log_delivery(channel_id, article.id, feed_id, "held", held)
                continue
            taken[channel_id] = taken.get(channel_id, 0) + 1
            out.append((channel_id, feed, article))
        return out

    def _backfill_posts(self) -> list[tuple[int, Feed | None, Article]]:
        return self._with_feed_and_article(self.archive.pending_backfill())

    def backfill(self, feed: str | int, count: int, scope: Scope = GLOBAL) -> int:
        """Post (at most) the ``count`` newest articles a feed already has to its channel, through its
        filters and the channel's limits like new ones. Returns the articles queued."""
        found = self.feed_for(feed, scope, manage=True)
        if count < 0 or count > MAX_BACKFILL:
            raise BadQuery(f"a backfill is between 0 and {MAX_BACKFILL} articles")
        if not count:
            return 0
        if found.channel_id is None:
            raise BadQuery("that feed does not post to a channel")
        ids = self.archive.feed_recent_articles(found.id, count)
        return self.archive.queue_backfill(found.id, found.channel_id, ids)

    def _held_by(self, lim: ChannelLimits, taken: int, now: float) -> str | None:
        if (
            lim.per_window
            and lim.window_seconds
            and self.archive.posted_since(lim.channel_id, now - lim.window_seconds) + taken >= lim.per_window
        ):
            return (
                f"held back by the rate limit ({lim.per_window} posts per {(lim.window_seconds or 0) // 60} min); "
                "it goes out when the limit allows"
            )
        if lim.daily_max and self.archive.posted_since(lim.channel_id, start_of_day(now)) + taken >= lim.daily_max:
            return f"held back by the daily maximum ({lim.daily_max} posts); it goes out tomorrow"
        return None

    def skip_post(self, channel_id: int, article_id: int, feed_id: int, reason: str) -> None:
        """Log a claimed post that will not be sent (e.g. over the per-pass cap, summarised)."""
        self.archive.log_delivery(channel_id, article_id, feed_id, "skipped", reason)

    def post_failed(self, channel_id: int, article_id: int, feed_id: int, reason: str, attempts: int = 0) -> bool:
        """A claimed post could not be sent: retried with backoff (True) until MAX attempts, then failed."""
        attempts += 1
        if attempts >= DELIVERY_MAX_ATTEMPTS:
            self.archive.log_delivery(
                channel_id,
                article_id,
                feed_id,
                "failed",
                f"gave up after {attempts} attempts: {reason}",
                attempts=attempts,
            )
            return False
        delay = DELIVERY_RETRY_SECONDS * 4 ** (attempts - 1)
        self.archive.log_delivery(
            channel_id,
            article_id,
            feed_id,
            "retry",
            f"attempt {attempts} failed: {reason}",
            attempts=attempts,
            next_try_at=time.time() + delay,
        )
        return True

    def claim_channel_notice(self, channel_id: int, reason: str) -> bool:
        """True once (in any process, across restarts) per channel problem, until a post there succeeds."""
        return self.archive.claim_channel_notice(channel_id, reason)

    def channel_ok(self, channel_id: int) -> None:
        """A post to the channel succeeded: its next problem is news again."""
        self.archive.clear_channel_notice(channel_id)

    def due_retries(self, limit: int = 100) -> list[tuple[int, Feed | None, Article, int]]:
        """(channel_id, feed, article, attempts) of failed posts whose retry is due."""
        rows = self.archive.due_retries(time.time(), limit)
        if not rows:
            return []
        articles = self.archive.articles_by_ids([r[2] for r in rows])
        feeds = {f.id: f for f in self.archive.list_feeds()}
        return [
            (channel_id, feeds.get(feed_id), articles[article_id], attempts)
            for channel_id, feed_id, article_id, attempts in rows
            if article_id in articles
        ]

    def claim_retry(self, channel_id: int, article_id: int, attempts: int) -> bool:
        """True for exactly one caller, in any process, per retry."""
        return self.archive.claim_retry(channel_id, article_id, attempts)

    def add_filter(
        self,
        feed: str | int,
        action: str,
        field: str,
        pattern: str,
        *,
        regex: bool = False,
        negate: bool = False,
        case_sensitive: bool = False,
        scope: Scope = GLOBAL,
        added_by: int | None = None,
    ):
        """Add an include/exclude rule to a feed (for its channel); BadQuery names a bad regex."""
        found = self.feed_for(feed, scope, manage=True)
        action, field = (action or "").strip().lower(), (field or "any").strip().lower()
        delivery_filters.validate(action, field, pattern, regex, case_sensitive)
        if len(self.archive.feed_filters(found.id)) >= delivery_filters.MAX_RULES:
            raise BadQuery(f"a feed has at most {delivery_filters.MAX_RULES} filters")
        return self.archive.add_filter(
            found.id, found.channel_id, action, field, pattern.strip(), regex, negate, case_sensitive, added_by
        )

    def list_filters(self, feed: str | int, scope: Scope = GLOBAL) -> tuple[Feed, list]:
        found = self.feed_for(feed, scope, manage=True)
        return found, self.archive.feed_filters(found.id, found.channel_id)

    def remove_filter(self, feed: str | int, filter_id: int | str, scope: Scope = GLOBAL) -> Feed:
        """Remove one rule by id, or every rule of the feed with ``all``."""
        found = self.feed_for(feed, scope, manage=True)
        key = str(filter_id).strip().lstrip("#").lower()
        if key == "all":
            self.archive.clear_filters(found.id)
        elif not key.isdigit() or not self.archive.remove_filter(found.id, int(key)):
            raise NotFound(f"no filter {filter_id!r} on feed {found.display_name!r}")
        return found

    def test_filters(self, feed: str | int, scope: Scope = GLOBAL, limit: int = 20) -> tuple[Feed, list]:
        """Which of the feed's last ``limit`` articles its filters pass: [(article, passes, why)]."""
        found, rules = self.list_filters(feed, scope)
        articles = self.archive.articles_by_ids(self.archive.feed_recent_articles(found.id, limit))
        out = []
        for article_id in self.archive.feed_recent_articles(found.id, limit):
            if article_id in articles:
                out.append((articles[article_id], *delivery_filters.evaluate(rules, articles[article_id])))
        return found, out

    def set_template(
        self,
        feed: str | int,
        body: str,
        *,
        style: str = "embed",
        timezone_name: str = "UTC",
        scope: Scope = GLOBAL,
        updated_by: int | None = None,
    ) -> tuple[Feed, post_templates.PostTemplate]:
        """Set how a feed's posts look; BadQuery for an unknown placeholder, bad format or time zone."""
        found = self.feed_for(feed, scope, manage=True)
        style, timezone_name = (style or "embed").strip().lower(), (timezone_name or "UTC").strip()
        post_templates.validate(body, style, timezone_name)
        template = post_templates.PostTemplate(found.id, body, style, timezone_name)
        self.archive.set_template(template, updated_by)
        return found, template

    def get_template(self, feed: str | int, scope: Scope = GLOBAL):
        """(feed, its template or None: the default teaser)."""
        found = self.feed_for(feed, scope, manage=True)
        return found, self.archive.get_template(found.id)

    def clear_template(self, feed: str | int, scope: Scope = GLOBAL) -> Feed:
        found = self.feed_for(feed, scope, manage=True)
        self.archive.clear_template(found.id)
        return found

    def preview_template(
        self,
        feed: str | int,
        body: str | None = None,
        *,
        style: str | None = None,
        timezone_name: str | None = None,
        scope: Scope = GLOBAL,
        escape=lambda s: s,
    ):
        """(feed, template, its newest article, the rendered text) — a template given here is
        validated and previewed without being saved; NotFound when the feed has no article yet."""
        found, saved = self.get_template(feed, scope)
        if body is None and saved is None:
            raise BadQuery("that feed has no template yet (the default teaser is used); give one to preview")
        template = post_templates.PostTemplate(
            found.id,
            body if body is not None else saved.body,
            style or (saved.style if saved else "embed"),
            timezone_name or (saved.timezone if saved else "UTC"),
        )
        post_templates.validate(template.body, template.style, template.timezone)
        ids = self.archive.feed_recent_articles(found.id, 1)
        if not ids:
            raise NotFound("that feed has no articles to preview with yet")
        article = self.archive.articles_by_ids(ids)[ids[0]]
        return found, template, article, post_templates.render(template, article, found, escape)

    def post_content(self, feed: Feed | None, article: Article, escape=lambda s: s) -> tuple[str, str] | None:
        """(style, text) of an auto-post from the feed's template, or None for the default teaser."""
        template = self.archive.get_template(feed.id) if feed is not None else None
        if template is None:
            return None
        return template.style, post_templates.render(template, article, feed, escape)

    def add_ping(
        self,
        feed: str | int,
        role_id: int,
        *,
        pattern: str | None = None,
        field: str = "any",
        regex: bool = False,
        subscribable: bool = False,
        scope: Scope = GLOBAL,
        added_by: int | None = None,
    ) -> Feed:
        """Mention a role when the feed posts (only articles matching ``pattern``, when given). Only a
        server's own feeds may ping its roles; @everyone (the server's id) is refused."""
        found = self.feed_for(feed, scope, manage=True)
        if found.guild_id is None:
            raise BadQuery("only a server's own feeds can ping its roles")
        if role_id == found.guild_id:
            raise BadQuery("@everyone is never pinged")
        field = (field or "any").strip().lower()
        if pattern is not None and pattern.strip():
            delivery_filters.validate("include", field, pattern, regex, False)
            pattern = pattern.strip()
        else:
            pattern = None
        self.archive.set_ping(found.id, found.guild_id, role_id, field, pattern, regex, subscribable, added_by)
        return found

    def remove_ping(self, feed: str | int, role_id: int, scope: Scope = GLOBAL) -> Feed:
        found = self.feed_for(feed, scope, manage=True)
        if not self.archive.remove_ping(found.id, role_id):
            raise NotFound("that feed does not ping that role")
        return found

    def list_pings(self, feed: str | int, scope: Scope = GLOBAL) -> tuple[Feed, list[dict]]:
        found = self.feed_for(feed, scope, manage=True)
        return found, self.archive.feed_pings(found.id)

    def post_pings(self, feed: Feed | None, article: Article) -> list[int]:
        """The role ids an auto-post of this article mentions: the feed's pings whose filter matches."""
        if feed is None or feed.guild_id is None:
            return []
        roles = []
        for ping in self.archive.feed_pings(feed.id):
            if ping["role_id"] == feed.guild_id:
                continue
            if ping["pattern"]:
                rule = delivery_filters.FilterRule(
                    0, feed.id, None, "include", ping["field"], ping["pattern"], regex=ping["regex"]
                )
                if not delivery_filters.rule_matches(rule, article):
                    continue
            roles.append(ping["role_id"])
        return roles

    def role_subscribable(self, guild_id: int, role_id: int) -> bool:
        """Whether members of the server may give themselves this role (a feed's opt-in ping)."""
        return self.archive.role_subscribable(guild_id, role_id)

    def set_feed_options(
        self,
        feed: str | int,
        *,
        thread: bool | None = None,
        updates: str | None = None,
        forum_title: str | None = None,
        forum_tags: str | None = None,
        scope: Scope = GLOBAL,
    ) -> tuple[Feed, dict]:
        """A thread per post; a forum post's title template and tags (``Tag=words; Other=words``:
        a tag is applied when the article matches its words); what to do with a re-published,
        changed article (``ignore``, ``edit`` the earlier post, ``repost`` it marked updated)."""
        found = self.feed_for(feed, scope, manage=True)
        options = self.archive.feed_options(found.id)
        if thread is not None:
            options["thread"] = bool(thread)
        if updates is not None:
            updates = updates.strip().lower()
            if updates not in UPDATE_MODES:
                raise BadQuery(f"unknown update mode {updates!r} (use {', '.join(UPDATE_MODES)})")
            options["updates"] = updates
        if forum_title is not None:
            if forum_title.strip():
                post_templates.validate(forum_title, "text", "UTC")
            options["forum_title"] = forum_title.strip() or None
        if forum_tags is not None:
            options["forum_tags"] = parse_forum_tags(forum_tags)
        self.archive.set_feed_options(
            found.id, options["thread"], options["updates"], options["forum_title"], options["forum_tags"]
        )
        return found, options

    def feed_options(self, feed: str | int, scope: Scope = GLOBAL) -> tuple[Feed, dict]:
        found = self.feed_for(feed, scope, manage=True)
        return found, self.archive.feed_options(found.id)

    def post_thread(self, feed: Feed | None, article: Article) -> dict:
        """Where a post goes beyond its message: ``thread`` (open one per post), the forum post's
        ``title`` (the feed's title template, or the article's title) and the names of the forum
        ``tags`` whose words the article matches."""
        options = self.archive.feed_options(feed.id) if feed is not None else self.archive.feed_options(0)
        title = article.title or "(untitled)"
        if options["forum_title"]:
            title = (
                post_templates.render(post_templates.PostTemplate(0, options["forum_title"], "text"), article, feed)
                or title
            )
        tags = []
        for name, words in options["forum_tags"]:
            rule = delivery_filters.FilterRule(0, 0, None, "include", "any", words)
            if delivery_filters.rule_matches(rule, article):
                tags.append(name)
        return {"thread": options["thread"], "title": " ".join(title.split())[:100], "tags": tags}

    def pending_updates(self) -> list[tuple[int, Feed | None, Article, int, str, int]]:
        """(channel_id, feed, article, message_id, mode, update_id) of posted articles the feed
        re-published changed, for feeds that edit or repost them."""
        rows = self.archive.pending_updates()
        if not rows:
            return []
        articles = self.archive.articles_by_ids([r[2] for r in rows])
        feeds = {f.id: f for f in self.archive.list_feeds()}
        return [
            (channel_id, feeds.get(feed_id), articles[article_id], message_id, mode, update_id)
            for channel_id, feed_id, article_id, message_id, mode, update_id in rows
            if article_id in articles
        ]

    def claim_update(self, channel_id: int, article_id: int, update_id: int) -> bool:
        """True for exactly one caller, in any process, per channel and update."""
        return self.archive.claim_update(channel_id, article_id, update_id)

    def record_update(
        self, channel_id: int, article_id: int, mode: str, message_id: int | None, error: str | None = None
    ) -> None:
        """Log what an update did to the post (edited, reposted, or why not)."""
        if error:
            reason = f"posted; the update could not be applied ({error})"
        elif mode == "edit":
            reason = "posted; edited after the feed updated the article"
        else:
            reason = f"posted; reposted as updated (message {message_id})"
        self.archive.log_delivery(channel_id, article_id, None, "posted", reason)

    def set_limits(
        self,
        channel_id: int,
        *,
        per_window: int | None = None,
        window_minutes: float | None = None,
        daily_max: int | None = None,
        max_age_days: float | None = None,
        scope: Scope = GLOBAL,
    ) -> ChannelLimits:
        """Flood control for a channel (0 or None turns a limit off)."""
        limits = make_limits(channel_id, per_window, window_minutes, daily_max, max_age_days)
        self.archive.set_channel_limits(limits, scope.guild_id if scope.scoped else None)
        return limits

    def channel_limits(self, channel_id: int) -> tuple[ChannelLimits, int]:
        """A channel's limits and how many articles they hold back now."""
        return self.archive.channel_limits(channel_id), self.archive.held_counts([channel_id]).get(channel_id, 0)

    def why(self, url_or_id: str | int, scope: Scope = GLOBAL) -> tuple[Article, list[dict]]:
        """For one article: per channel it could go to, whether it was posted (message id) or what
        held it back (filter, limit, backlog, error), from the delivery log."""
        article = self.article(url_or_id, scope)
        feeds = {f.id: f for f in self.list_feeds(scope)}
        rows = delivery_rows_in_scope(self.archive.article_deliveries(article.id), feeds, scope)
        out = []
        for feed_id in self.archive.article_feed_ids(article.id):
            feed = feeds.get(feed_id)
            if feed is None:
                continue
            entry: dict[str, Any] = {"feed": feed, "channel_id": feed.channel_id}
            row = rows.pop(feed.channel_id, None) if feed.channel_id else None
            if feed.channel_id is None:
                entry.update(state="none", reason="the feed does not post to a channel")
            elif row is not None:
                state = row["state"] or ("posted" if row["message_id"] else "claimed")
                entry.update(
                    state=state,
                    reason=row["reason"] or state,
                    message_id=row["message_id"],
                    attempts=row["attempts"] or 0,
                    next_try_at=row["next_try_at"],
                )
            elif self.archive.is_backlog(feed_id, article.id):
                entry.update(
                    state="backlog",
                    reason="it was already in the feed when the feed was added (backlog is not auto-posted)",
                )
            elif self.archive.published_before_feed(feed_id, article.id, POST_GRACE_SECONDS):
                entry.update(
                    state="backlog",
                    reason="it was published before the feed was added (older articles are not auto-posted)",
                )
            else:
                entry.update(state="waiting", reason="not looked at yet: it goes out with the next posting pass")
            out.append(entry)
        for channel_id, row in rows.items():  # posted by a feed since removed, or another feed's channel
            out.append(
                {
                    "feed": feeds.get(row["feed_id"]),
                    "channel_id": channel_id,
                    "state": row["state"] or "posted",
                    "reason": row["reason"] or "posted",
                    "message_id": row["message_id"],
                }
            )
        return article, out

    def feed_health_changes(self) -> list[Feed]:
        """Feeds whose health differs from what was last announced for them (by any process)."""
        return self.archive.unannounced_feed_health()

    def claim_feed_notice(self, feed_id: int, state: str) -> bool:
        """True for exactly one caller, in any process, per change of a feed's health."""
        return self.archive.claim_feed_notice(feed_id, state)

    # -- health ------------------------------------------------------------------
    def stats(self) -> dict:
        counts = self.archive.counts()
        counts["model"] = self.model_name
        counts["index"] = self.config.index.chroma_url or str(self.config.chroma_path)
        return counts

    def status(self, scope: Scope = GLOBAL) -> dict:
        stats = self.stats()
        if scope.scoped:  # this server's share of the archive, not the whole archive's counts
            return scoped_status(stats, self.archive, self.list_feeds(scope), scope, self.last_poll)
        feeds = self.list_feeds(scope)
        stats["failing_feeds"] = [
            {"url": f.url, "name": f.display_name, "error": f.last_error} for f in feeds if f.status == "error"
        ]
        stats["last_poll"] = self.last_poll or max((f.last_fetch_at or "" for f in feeds), default="") or None
        try:
            stats["vectors"] = self.store_or_open().count()
        except IndexUnavailable as exc:
            stats["vectors"] = None
            stats["index_error"] = str(exc)
        stats["archive_bytes"] = self.archive.size_bytes()
        return stats

    def doctor(self, fix: bool = False) -> DoctorReport:
        """The installation (model, Chroma, migrations, the optional LLM endpoint and Chroma server),
        then the archive and the index; one line per problem, each with its fix."""
        installation = doctor.check_installation(
            self.config, self.archive, self.embedder_or_load, self.store_or_open, llm_api_key(self.config)
        )
        broken = [c["problem"] for c in installation if not c["ok"]]

        def open_store() -> VectorStore:
            if any(c["check"] in ("model", "chroma") and not c["ok"] for c in installation):
                raise IndexUnavailable(
                    next(c["problem"] for c in installation if c["check"] in ("model", "chroma") and not c["ok"])
                )
            return self.store_or_open()

        report = doctor.check(self.archive, open_store, self.pipeline, fix)
        report.installation = installation
        report.problems = list(dict.fromkeys(broken + report.problems))
        if broken:
            report.ok = False
        return report

    # -- standing questions (issue #15) ---------------------------------------------------
    def _watch_scope(self, watch: Watch) -> Scope:
        """What a watch asks over: its server's feeds plus the global ones; a DM watch the global
        feeds; a terminal watch everything."""
        if watch.guild_id is not None:
            return Scope(guild_id=watch.guild_id, everything=False)
        if watch.user_id is not None or watch.channel_id is not None:
            return Scope(guild_id=None, everything=False)
        return GLOBAL

    def add_watch(
        self,
        question: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        created_by: int | None = None,
    ) -> tuple[Watch, Answer]:
        """Save a standing question (for a channel, a member's DMs, or the terminal when neither)
        with its answer now; BadQuery for an empty or too long question, or over the limits."""
        question = " ".join(clean_question(question).split())
        if len(question) > MAX_WATCH_QUESTION:
            raise BadQuery(f"a watched question has at most {MAX_WATCH_QUESTION} characters")
        ready = (self.archive.ready_article_id(), self.archive.ready_update_id())
        probe = Watch(0, guild_id, channel_id, user_id, question, created_by, None, None, ready[0], (), None)
        answer = self.ask(question, scope=self._watch_scope(probe))
        sentences = watch_diff.answer_sentences(answer)
        watch = self.archive.add_watch(
            guild_id,
            channel_id,
            user_id,
            question,
            created_by,
            ready,
            sentences,
            watch_diff.fingerprint(sentences),
            MAX_WATCHES_PER_GUILD,
            MAX_WATCHES_PER_MEMBER,
        )
        return watch, answer

    def list_watches(self, scope: Scope = GLOBAL, user_id: int | None = None) -> list[Watch]:
        """A server's watches (``user_id``: only that member's), or every watch for GLOBAL."""
        if not scope.scoped:
            watches = self.archive.list_watches(everything=True)
        else:
            watches = self.archive.list_watches(scope.guild_id)
        if user_id is not None:
            watches = [w for w in watches if w.created_by == user_id]
        return watches

    def remove_watch(
        self, watch_id: int | str, scope: Scope = GLOBAL, user_id: int | None = None, admin: bool = False
    ) -> Watch:
        """Remove a watch of the server (a member only their own; admins any of the server's)."""
        key = str(watch_id).strip().lstrip("#")
        if not key.isdigit():
            raise BadQuery(f"a watch is named by its number (not {str(watch_id)[:40]!r})")
        watch = self.archive.get_watch(int(key))
        if scope.scoped and watch.guild_id != scope.guild_id:
            raise NotFound(f"no watch #{key}")  # the same words as for no watch at all
        if scope.scoped and not admin and watch.created_by != user_id:
            raise PermissionDenied("that watch is someone else's (admins can remove any)")
        self.archive.remove_watch(watch.id)
        return watch

    def check_watches(self, delivered: bool | None = None) -> list[WatchChange]:
        """Re-ask every watch not yet checked against the newest embedded coverage and return the
        changes this caller claimed (each (watch, answer) claimed once, across processes).
        ``delivered`` True: watches with a Discord destination (the bot), False: the terminal's."""
        ready = (self.archive.ready_article_id(), self.archive.ready_update_id())
        changes: list[WatchChange] = []
        for watch in self.archive.watches_due(ready, delivered)[:MAX_WATCHES_PER_PASS]:
            try:
                change = self._check_watch(watch, ready)
            except NewsdeskError as exc:
                log.warning("watch #%s: the check failed: %s", watch.id, exc)
                continue
            if change is not None:
                changes.append(change)
        return changes

    def _check_watch(self, watch: Watch, ready: tuple[int, int]) -> WatchChange | None:
        answer = self.ask(watch.question, scope=self._watch_scope(watch))
        current = watch_diff.answer_sentences(answer)
        fp = watch_diff.fingerprint(current)
        if fp == watch.fingerprint:
            self.archive.mark_watch_checked(watch.id, ready, None, None)
            return None
        new, superseded = watch_diff.diff(watch.answer, current)
        updated = self.archive.updated_articles(watch.seen_update_id, ready[1])
        if not watch_diff.news_in(new, watch.seen_article_id, updated):
            # not new coverage (older articles reshuffled, or a source gone): the stored answer moves on quietly
            self.archive.mark_watch_checked(watch.id, ready, current, fp)
            return None
        if not self.archive.claim_watch_notice(watch.id, watch.fingerprint, fp, current, ready):
            return None  # another process reports this change
        articles = self.archive.articles_by_ids([a for _, a in current])
        return WatchChange(
            watch,
            answer,
            fp,
            [(s, articles[a]) for s, a in new if a in articles],
            superseded,
            watch_diff.new_sources(new, watch.answer, articles),
        )

    def record_watch_notice(self, watch_id: int, fingerprint: str, message_id: int | None) -> None:
        self.archive.record_watch_notice(watch_id, fingerprint, message_id)

    # -- answer feedback and the gaps it shows (issue #15) -------------------------------
    def record_answer(
        self, answer: Answer, *, scope: Scope = GLOBAL, via: str = "discord", as_of: str | None = None
    ) -> int:
        """Keep an answer /ask or ``newsdesk ask`` gave (question, as-of, cited ids, abstained, the
        question's embedding) so it can be voted on and, unanswered, reported. Returns its id."""
        vector = None
        try:
            vector = answer_feedback.to_blob(self.retriever.embed_query(answer_feedback.topic_text(answer.question)))
        except NewsdeskError:
            pass
        moment = parse_moment(as_of, end_of_day=True, name="as-of") if as_of else None
        return self.archive.record_asked(
            scope.guild_id if scope.scoped else None,
            via,
            answer.question,
            (moment or datetime.now(UTC)).isoformat(timespec="seconds"),
            [c.article.id for c in answer.citations],
            answer.abstained or not answer.citations,
            vector,
        )

    def vote_answer(self, answer_id: int, user_id: int, vote: int, guild_id: int | None) -> dict:
        """One vote per member per answer (+1 / -1; a second vote replaces the first). The member is
        stored as a keyed hash. NotFound for an answer of another server or no longer on record."""
        record = self.archive.get_asked(int(answer_id))
        if record["guild_id"] != guild_id:
            raise NotFound("that answer is no longer on record")  # the same words as for no answer at all
        if vote not in (1, -1):
            raise BadQuery("a vote is up or down")
        voter = answer_feedback.voter_hash(self.archive.voter_key(), user_id)
        previous = self.archive.set_vote(record["id"], voter, vote)
        up, down = self.archive.vote_counts(record["id"])
        return {"answer_id": record["id"], "vote": vote, "previous": previous, "up": up, "down": down}

    def question_report(self, scope: Scope = GLOBAL, *, find_feeds: bool = True) -> list[QuestionGroup]:
        """Unanswered and down-voted questions (a server's own; GLOBAL: all), grouped by topic, each
        group with the feeds discovery finds on the sites its questions name or its down-voted
        answers cited (sites whose feeds are all added already give none)."""
        cutoff = datetime.fromtimestamp(time.time() - ASKED_RETENTION_DAYS * 86400, UTC)
        self.archive.prune_asked(cutoff.isoformat(timespec="seconds"))
        items = self.archive.questions_needing_coverage(scope.guild_id, not scope.scoped)
        grouped = answer_feedback.group_questions(items)[:MAX_REPORT_GROUPS]
        groups = [QuestionGroup(answer_feedback.label(g), g) for g in grouped]
        if not groups:
            return groups
        known = {f.url for f in self.list_feeds(GLOBAL)}
        cited_ids = {a for g in groups for q in g.questions if q["down"] > q["up"] for a in q["cited"]}
        articles = self.archive.articles_by_ids(list(cited_ids)) if cited_ids else {}
        budget = MAX_DISCOVERY_SITES if find_feeds else 0
        fetch_config = replace(
            self.config.feeds, timeout_seconds=min(self.config.feeds.timeout_seconds, DISCOVERY_TIMEOUT), retries=0
        )
        tried: dict[str, list[FoundFeed] | str] = {}  # site -> the feeds found, or why it could not be read
        with Fetcher(fetch_config) as fetcher:
            for group in groups:
                sites: list[str] = []
                for q in group.questions:
                    sites += answer_feedback.named_sites(q["question"])
                    if q["down"] > q["up"]:
                        cited_sites = [answer_feedback.site_of(articles[a].url) for a in q["cited"] if a in articles]
                        sites += [s for s in cited_sites if s]
                group.sites = list(dict.fromkeys(sites))
                for site in group.sites:
                    if site not in tried:
                        if budget <= 0:
                            continue
                        budget -= 1
                        try:
                            check_url(site, self.config.feeds.allow_private_networks)
                            tried[site] = discover(site, fetcher)
                        except NewsdeskError as exc:
                            tried[site] = str(exc)
                    found = tried[site]
                    if isinstance(found, list):
                        for f in found:
                            if f.url not in known and all(s["url"] != f.url for s in group.suggestions):
                                group.suggestions.append({"url": f.url, "title": f.title, "how": f.how, "site": site})
                read = [s for s in group.sites if isinstance(tried.get(s), list)]
                failed = [f"{s} ({tried[s]})" for s in group.sites if isinstance(tried.get(s), str)]
                if not group.sites:
                    group.discovery = "no site to look at (the questions name none and no down-voted answer cited one)"
                elif not read and not failed:
                    group.discovery = "feed discovery was not run for " + ", ".join(group.sites)
                elif group.suggestions:
                    group.discovery = f"{len(group.suggestions)} feed(s) found on " + ", ".join(read)
                else:
                    group.discovery = "feed discovery found no new feed" + (" on " + ", ".join(read) if read else "")
                if failed:
                    group.discovery += "; could not read " + "; ".join(failed)
        return groups

    # -- topic alerts (issue #15): follows, planned and claimed in the archive ---------------
    @functools.cached_property
    def following(self) -> Following:
        return Following(self.archive, self.retriever)

    def follow_topic(
        self,
        topic: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        created_by: int | None = None,
    ) -> Follow:
        """Follow a topic for a server's channel, for a member by DM (``user_id``), or with neither
        (command line: ``newsdesk alerts`` shows what it would get). BadQuery for an empty or too long
        topic or a duplicate, LimitReached over the per-server / per-member limits."""
        return self.following.add(
            topic, guild_id=guild_id, channel_id=channel_id, user_id=user_id, created_by=created_by
        )

    def unfollow(
        self,
        follow_id: int | str,
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        admin: bool = False,
        everything: bool = False,
    ) -> Follow:
        return self.following.remove(follow_id, guild_id=guild_id, user_id=user_id, admin=admin, everything=everything)

    def follows(
        self, *, guild_id: int | None = None, user_id: int | None = None, everything: bool = False
    ) -> list[Follow]:
        """A server's channel follows and a member's DM follows (or every follow)."""
        return self.following.list_follows(guild_id=guild_id, user_id=user_id, everything=everything)

    def resume_follows(self, user_id: int) -> int:
        """Deliver a member's paused DM follows again (their DMs were closed)."""
        return self.following.resume(user_id)

    def plan_alerts(self) -> int:
        """Score the follows' new articles and queue their alerts (in the archive); returns how many."""
        return self.following.plan()

    def alert_batches(self) -> list[AlertBatch]:
        """The queued alerts per follow, capped per delivery target and pass (the rest: ``overflow``)."""
        return self.following.batches()

    def claim_alert(self, follow_id: int, article_id: int) -> bool:
        """True for exactly one caller, in any process, per follow and article."""
        return self.following.claim(follow_id, article_id)

    def summarise_alert(self, follow_id: int, article_id: int) -> bool:
        """Claim a queued alert as summarised in a flood line (never sent on its own)."""
        return self.following.summarise(follow_id, article_id)

    def record_alert(self, follow_id: int, article_id: int, message_id: int | None) -> None:
        self.following.sent(follow_id, article_id, message_id)

    def alert_failed(self, follow_id: int, article_id: int, reason: str, *, dm_closed: bool = False) -> None:
        """A claimed alert could not be sent (not retried); closed DMs pause the member's DM follows."""
        self.following.failed(follow_id, article_id, reason, dm_closed=dm_closed)

    def preview_alerts(self, since=None, threshold: float | None = None) -> list[Alert]:
        """What every follow would receive: from articles published since ``since``, or else from
        those that arrived after each follow's last pass (at another ``threshold``, to compare).
        Nothing is queued or claimed."""
        since_dt = parse_moment(since, name="since")
        return self.following.preview(since_dt.timestamp() if since_dt else None, threshold=threshold)

    # -- following stories: digests, timelines, story comparison (issue #15) ----------------
    def _story_vectors(self, articles: list[Article]):
        """article id -> its first passage's vector (nothing when the index is unavailable)."""
        try:
            self.retriever.refresh_mirror()
        except IndexUnavailable:
            return lambda _id: None
        first = self.archive.first_passage_ids(a.id for a in articles)
        mirror = self.retriever.mirror
        return lambda article_id: mirror.vector(first[article_id]) if article_id in first else None

    def digest_window(
        self, *, since=None, until=None, period: str | None = None, as_of=None
    ) -> tuple[datetime, datetime]:
        """The digest's [since, until]: until (default the as-of moment, default now), since (default
        one period, daily or weekly, before until). BadQuery for unreadable dates, an unknown period,
        since after until."""
        as_of_dt = parse_moment(as_of, end_of_day=True, name="as-of") or datetime.now(UTC)
        until_dt = parse_moment(until, end_of_day=True, name="until", relative_to=as_of_dt) or as_of_dt
        until_dt = min(until_dt, as_of_dt)
        kind = digest_rules.parse_period(period)
        since_dt = parse_moment(since, name="since", relative_to=as_of_dt)
        if since_dt is None:
            since_dt = until_dt - timedelta(days=digest_rules.PERIODS[kind])
        if since_dt > until_dt:
            raise BadQuery("since is after until")
        return since_dt, until_dt

    def digest(
        self,
        *,
        since=None,
        until=None,
        period: str | None = None,
        topic: str | None = None,
        as_of=None,
        limit: int = digest_rules.DIGEST_STORIES,
        scope: Scope = GLOBAL,
    ) -> Digest:
        """The period's top stories, ranked by how widely they were covered (outlets, then articles),
        each with an extract and its articles' links; a topic keeps the stories the hybrid retriever
        finds relevant to it."""
        since_dt, until_dt = self.digest_window(since=since, until=until, period=period, as_of=as_of)
        topic = digest_rules.parse_topic(topic)
        limit = max(1, min(int(limit), digest_rules.MAX_STORIES))
        articles = self.archive.period_articles(
            since_dt.timestamp(), until_dt.timestamp(), scope=scope, limit=digest_rules.MAX_PERIOD_ARTICLES
        )
        groups = group_articles(articles, self._story_vectors(articles))
        counted = len(articles)
        if topic:
            result = self.retriever.search(
                topic, as_of=until_dt, since=since_dt, until=until_dt, limit=100, scope=scope, group_stories=False
            )
            wanted = digest_rules.relevant(result.hits, self.config.answers.min_relevance)
            groups = [g for g in groups if any(a.id in wanted for a in g)]
            counted = sum(len(g) for g in groups)
        return digest_rules.make_digest(since_dt, until_dt, topic, groups, headline_of, limit, counted)

    def check_digest(self, *, period: str | None = None, topic: str | None = None, at: str | None = None) -> None:
        """The cheap checks of /digest before deferring: the period, the time, the topic."""
        kind = digest_rules.parse_period(period)
        digest_rules.parse_time(at, kind)
        if topic is not None:
            if not topic.strip():
                raise BadQuery("the topic is empty")
            digest_rules.parse_topic(topic)

    def schedule_digest(
        self,
        guild_id: int,
        channel_id: int,
        period: str,
        at: str | None = None,
        topic: str | None = None,
        created_by: int | None = None,
    ) -> DigestSchedule:
        """A server's digest every day or week at a UTC time (``08:00``; ``mon 08:00`` weekly), in a
        channel, optionally on a topic; at most MAX_SCHEDULES_PER_GUILD per server."""
        kind = digest_rules.parse_period(period)
        minute, weekday = digest_rules.parse_time(at, kind)
        topic = digest_rules.parse_topic(topic)
        limit = digest_rules.MAX_SCHEDULES_PER_GUILD
        found = self.archive.add_digest_schedule(guild_id, channel_id, kind, minute, weekday, topic, created_by, limit)
        if found is None:
            raise LimitReached(f"this server already has {limit} digest schedules; cancel one first")
        return found

    def digest_schedules(self, scope: Scope = GLOBAL) -> list[DigestSchedule]:
        return self.archive.digest_schedules(scope.guild_id if scope.scoped else None)

    def cancel_digest(self, schedule_id: int | str, scope: Scope = GLOBAL) -> DigestSchedule:
        key = str(schedule_id).strip().lstrip("#")
        found = self.archive.digest_schedule(int(key)) if key.isdigit() else None
        if found is None or (scope.scoped and found.guild_id != scope.guild_id):
            raise NotFound(f"no digest schedule {schedule_id!r} in this server")
        self.archive.remove_digest_schedule(found.id, None)
        return found

    def due_digests(self, now: float | None = None) -> list[digest_rules.DueRun]:
        """Scheduled runs whose time has come and that no process has claimed yet."""
        moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
        out = []
        for schedule in self.archive.digest_schedules():
            run = digest_rules.due_run(schedule, moment)
            if run is not None and not self.archive.digest_run_claimed(schedule.id, run.period_key):
                out.append(run)
        return out

    def claim_digest_run(self, schedule_id: int, period_key: str) -> bool:
        """True for exactly one caller, in any process, per schedule and period."""
        return self.archive.claim_digest_run(schedule_id, period_key)

    def scheduled_digest(self, run: digest_rules.DueRun) -> Digest:
        """The digest of a claimed run, in its server's scope."""
        return self.digest(
            since=run.since,
            until=run.until,
            as_of=run.until,
            topic=run.schedule.topic,
            scope=Scope(guild_id=run.schedule.guild_id, everything=False),
        )

    def record_digest_run(
        self, schedule_id: int, period_key: str, state: str, message_id: int | None = None, detail: str | None = None
    ) -> None:
        self.archive.record_digest_run(schedule_id, period_key, state, message_id, detail)

    def check_timeline(self, topic: str | None, *, since=None, until=None, as_of=None) -> None:
        """The cheap checks of /timeline before deferring: a topic with words, readable dates in order."""
        clean_question(topic or "")
        as_of_dt = parse_moment(as_of, end_of_day=True, name="as-of")
        since_dt = parse_moment(since, name="since", relative_to=as_of_dt)
        until_dt = parse_moment(until, end_of_day=True, name="until", relative_to=as_of_dt)
        if since_dt and until_dt and since_dt > until_dt:
            raise BadQuery("since is after until")

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
        if since_dt and since_dt > until_dt:
            raise BadQuery("since is after until")
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
            self.article(key, scope)

    def compare_story(self, query: str, *, scope: Scope = GLOBAL) -> StoryComparison:
        """One story grouped across outlets, found from an article (URL or id) or a query: its
        articles oldest first (who reported first), and the figures their outlets disagree on."""
        key = (query or "").strip()
        anchor = None
        if key.isdigit() or key.lower().startswith(("http://", "https://")):
            try:
                anchor = self.article(key, scope)
            except NotFound:
                if key.isdigit():
                    raise
        if anchor is None:
            result = self.search(clean_question(key), limit=10, scope=scope)
            if not self.extractive.is_relevant(result):
                raise NotFound(f"no story in the archive matches {render_query(key)!r}")
            anchor = result.hits[0].article
        around = anchor.published_ts or 0.0
        days = 86400 * story_compare.AROUND_DAYS
        articles = self.archive.period_articles(around - days, around + days, scope=scope)
        if anchor.id not in {a.id for a in articles}:
            articles.append(anchor)
        story = next(g for g in group_articles(articles, self._story_vectors(articles)) if anchor in g)
        story.sort(key=lambda a: (a.published_ts or 0, a.id))
        return StoryComparison(story, story_compare.disagreements(story))


def render_query(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
