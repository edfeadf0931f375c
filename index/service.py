"""Newsdesk: the one service the command line and the bot both call.

Every method is synchronous and safe to call from worker threads; the bot calls
them with ``asyncio.to_thread`` so the event loop never blocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from . import doctor
from .answers.extractive import ExtractiveAnswerer
from .answers.llm import LLMAnswerer
from .archive import Archive
from .config import Config, llm_api_key
from .errors import BadQuery, IndexUnavailable, NewsdeskError, NotFound, PermissionDenied, UrlRefused
from .feeds.fetch import Fetcher
from .feeds.netguard import check_url
from .feeds.opml import OpmlOutline, parse_opml, render_opml
from .ingest.pipeline import Pipeline, Progress
from .logsafety import install_redaction, redact
from .models import (
    GLOBAL,
    Answer,
    Article,
    DoctorReport,
    Feed,
    Hit,
    IngestReport,
    Scope,
    SearchResult,
)
from .search.retriever import Retriever, clean_question
from .text.dates import parse_moment
from .vectors.chroma import VectorStore
from .vectors.embedders import Embedder, load_embedder

__all__ = ["GLOBAL", "Newsdesk", "Scope", "install_redaction", "redact"]

log = logging.getLogger(__name__)


class Newsdesk:
    def __init__(self, config: Config, embedder: Embedder | None = None):
        self.config = config
        self.archive = Archive(config.archive_path)
        self._embedder = embedder
        self._store: VectorStore | None = None
        self._lock = threading.RLock()
        self._ingest_lock = threading.Lock()
        self.retriever = Retriever(self.archive, config.retrieval, self.embedder_or_load, self.store_or_open)
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
        return self.archive.add_feed(url, name.strip(), guild_id, channel_id, added_by)

    def list_feeds(self, scope: Scope = GLOBAL) -> list[Feed]:
        return self.archive.list_feeds(scope)

    def feed_for(self, url_or_id: str | int, scope: Scope = GLOBAL, manage: bool = False) -> Feed:
        feed = self.archive.get_feed(url_or_id)
        if scope.scoped:
            if feed.guild_id not in (None, scope.guild_id):
                raise NotFound(f"no feed {url_or_id!r} in this server")
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
        outlines = parse_opml(content)
        added: list[Feed] = []
        existing: list[Feed] = []
        refused: dict[str, str] = {}
        for outline in outlines:
            try:
                feed, created = self.add_feed(
                    outline.url, outline.name, guild_id=scope.guild_id if scope.scoped else None, added_by=added_by
                )
            except UrlRefused as exc:
                refused[outline.url] = str(exc)
                continue
            (added if created else existing).append(feed)
        return {"added": added, "existing": existing, "refused": refused}

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
    ) -> IngestReport:
        """Re-embed passages. ``full`` rebuilds the whole index (needed after a model change)."""
        with self._ingest_lock:
            store = self.store_or_open()
            if full and feed is None and not scope.scoped:
                store.reset()
                self.archive.mark_all_unembedded()
            elif feed is not None or scope.scoped:
                feeds = (
                    [self.feed_for(feed, scope, manage=True)]
                    if feed is not None
                    else [f for f in self.list_feeds(scope) if f.guild_id == scope.guild_id]
                )
                for f in feeds:
                    self.archive.mark_all_unembedded(f.id)
            pipeline = self.pipeline(progress)
            report = IngestReport()
            started = time.monotonic()
            pipeline.apply_vector_deletes(report)
            if progress:
                counts = self.archive.counts()
                progress("embedding", pending=counts["passages"] - counts["embedded_passages"])
            pipeline.embed_pending(report)
            report.seconds = time.monotonic() - started
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
        rows = self.archive.pending_posts(limit=limit)
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
        """True for exactly one caller, in any process, per channel and article."""
        return self.archive.claim_post(channel_id, article_id, feed_id)

    def record_post(self, channel_id: int, article_id: int, message_id: int | None) -> None:
        self.archive.record_post(channel_id, article_id, message_id)

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
        size = self.config.archive_path.stat().st_size if self.config.archive_path.exists() else 0
        stats["archive_bytes"] = size
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
