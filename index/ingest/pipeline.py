"""The ingest pipeline: fetch feeds, build articles, archive them, embed their passages.

Fetching, parsing and page extraction run in worker threads (``drafts``); the calling thread is
the archive's single writer (``dedupe``, ``schedule``) and runs the embedding model
(``indexing``), so I/O overlaps embedding. Consistency with the vector index rests on two
markers kept in the archive: ``passages.embedded`` (0 until the vector is in Chroma) and
``vector_deletes`` (vectors still to remove). Both are written in the same transaction as the
passages, so a run killed at any point leaves work the next run finishes.

An interrupted run keeps what it did: each article is archived as soon as it is extracted (a
feed's ETag and Last-Modified only once all its entries are, so an interrupted feed is read
again and its archived entries are recognised without fetching their pages), and embedding is
durable batch by batch (see ``indexing``). The next run says how much it found done ("resume").
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import queue
import time
from collections.abc import Callable

from ..archive import Archive
from ..config import Config
from ..errors import NewsdeskError
from ..feeds.fetch import Fetcher
from ..models import Feed, IngestReport
from ..vectors.chroma import VectorStore
from ..vectors.embedders import Embedder
from .dedupe import ArticleWriter
from .drafts import Draft, DraftMaker, FeedResult
from .indexing import EMBED_BATCH, INFLIGHT, Indexer, passage_input
from .schedule import FeedSchedule

__all__ = ["EMBED_BATCH", "Draft", "FeedResult", "Pipeline", "Progress", "passage_input"]

log = logging.getLogger(__name__)

Progress = Callable[..., None]
WAIT = 0.5  # seconds the writer waits for a draft before embedding a part batch


def one_per_url(feeds: list[Feed]) -> list[Feed]:
    """The feeds with one row per URL (the first): the others get its result after the fetch."""
    seen: set[str] = set()
    out = []
    for feed in feeds:
        if feed.url not in seen:
            seen.add(feed.url)
            out.append(feed)
    return out


class Pipeline:
    def __init__(
        self,
        config: Config,
        archive: Archive,
        store_loader: Callable[[], VectorStore] | None,
        embedder_loader: Callable[[], Embedder] | None,
        progress: Progress | None = None,
    ):
        """The loaders are called only when there is something to chunk or embed, so a run over
        an unchanged archive never loads the model or opens the index."""
        self.config = config
        self.archive = archive
        self._store_loader = store_loader
        self._embedder_loader = embedder_loader
        self.indexer: Indexer | None = None
        if store_loader is not None and embedder_loader is not None:
            self.indexer = Indexer(config, archive, store_loader, embedder_loader, progress or (lambda *a, **k: None))
        self.indexing = self.indexer is not None
        self.progress = progress or (lambda *a, **k: None)
        self.drafts = DraftMaker(config, archive)
        self.writer = ArticleWriter(config, archive, lambda: self.embedder.count_tokens if self.indexing else None)
        self.schedule = FeedSchedule(config, archive)

    @property
    def store(self) -> VectorStore:
        assert self._store_loader is not None, "a pipeline without an index has no store"
        return self._store_loader()

    @property
    def embedder(self) -> Embedder:
        assert self._embedder_loader is not None, "a pipeline without an index has no embedder"
        return self._embedder_loader()

    # the steps, one per module (benchmarks wrap these to time them)
    def _process_feed(self, fetcher: Fetcher, feed: Feed, full: bool, emit=None) -> FeedResult:
        return self.drafts.process_feed(fetcher, feed, full, emit)

    def _write(self, draft: Draft, report: IngestReport) -> None:
        self.writer.write(draft, report)

    def _record_feed(self, result: FeedResult, report: IngestReport) -> None:
        self.schedule.record(result, report)

    def apply_vector_deletes(self, report: IngestReport) -> None:
        if self.indexer is not None:
            self.indexer.apply_vector_deletes(report)

    def embed_pending(self, report: IngestReport, limit: int | None = None) -> int:
        """Embed passages not yet in the vector index; returns how many were embedded."""
        return self.indexer.embed_pending(report, limit) if self.indexer is not None else 0

    # -- the run ------------------------------------------------------------------
    def run(self, feeds: list[Feed], full: bool = False) -> IngestReport:
        started = time.monotonic()
        report = IngestReport()
        feeds = one_per_url(feeds)  # a URL several servers follow is fetched once, for all of them
        messages: queue.Queue = queue.Queue()  # Drafts as they are made, then each feed's FeedResult
        with (
            Fetcher(self.config.feeds) as fetcher,
            cf.ThreadPoolExecutor(max_workers=self.config.feeds.workers, thread_name_prefix="ingest") as pool,
        ):
            futures = [pool.submit(self._process_feed, fetcher, feed, full, messages.put) for feed in feeds]
            for future in futures:
                future.add_done_callback(lambda f: messages.put(f.result()))
            # the workers fetch while this thread opens the index (and loads the model) to continue
            # what an interrupted run left; drafts wait in the queue
            try:
                self._resume(report)
            except BaseException:
                for future in futures:  # an unusable index: stop before reading every feed
                    future.cancel()
                raise
            self.progress("start", feeds=len(feeds))
            remaining = len(futures)
            while remaining:
                message = self._next_message(messages, report)
                if message is None:
                    continue
                if isinstance(message, Draft):
                    self._archive_draft(message, report)
                    continue
                result: FeedResult = message
                remaining -= 1
                for draft in result.drafts:  # drafts collected rather than streamed (none here)
                    self._archive_draft(draft, report)
                # only after its articles: when writing them fails, or the run is interrupted, the
                # feed keeps its old ETag and Last-Modified, so the next run reads it again
                self._record_feed(result, report)
                if result.status != "error":
                    self.archive.mark_feed_first_ok(result.feed.id)  # what it carried so far is backlog
                self.archive.share_feed_state(result.feed.id)  # the URL's other rows: same state and articles
                self.progress(
                    "feed", feed=result.feed, status=result.status, error=result.error, articles=result.articles
                )
        if self.indexing:
            counts = self.archive.counts()
            self.progress("embedding", pending=counts["passages"] - counts["embedded_passages"])
            self.embed_pending(report)
            self.apply_vector_deletes(report)
        report.seconds = time.monotonic() - started
        self.progress("done", report=report)
        return report

    def _resume(self, report: IngestReport) -> None:
        if not self.indexing or not (
            self.archive.pending_vector_deletes()
            or self.archive.passages_to_embed(1)
            or self.archive.meta_like(INFLIGHT)
        ):
            return
        # work left by an interrupted run (or a failed index): continue it
        self.store.check_model()
        self.apply_vector_deletes(report)
        recovered = self.indexer.recover(report) if self.indexer is not None else 0
        counts = self.archive.counts()
        pending = counts["passages"] - counts["embedded_passages"]
        if pending or recovered:
            self.progress("resume", embedded=counts["embedded_passages"], pending=pending, recovered=recovered)

    def _next_message(self, messages: queue.Queue, report: IngestReport):
        """The next draft or feed result; while none is waiting, embed (while other feeds are still
        being fetched): whole batches at once, a part batch after WAIT seconds with nothing to write."""
        try:
            return messages.get_nowait()
        except queue.Empty:
            pass
        if self.indexer is not None and self.indexer.embed_pending(report, limit=EMBED_BATCH, whole_batches=True):
            return None
        try:
            return messages.get(timeout=WAIT)
        except queue.Empty:
            if self.indexer is not None:
                self.indexer.embed_pending(report, limit=EMBED_BATCH)
            return None

    def _archive_draft(self, draft: Draft, report: IngestReport) -> None:
        if self.indexing and draft.unchanged_id is None:
            self.store.check_model()  # an unusable index stops the run before new text is archived
        try:
            self._write(draft, report)
        except NewsdeskError:
            raise
        except Exception as exc:
            log.exception("could not archive %s", draft.url or draft.guid)
            report.errors[draft.url or draft.guid] = f"{exc.__class__.__name__}: {exc}"
