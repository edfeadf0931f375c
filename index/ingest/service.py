"""Ingest (fetch, extract, archive, embed) and reindex, one run at a time per process; a reindex is
recorded in the archive until done, so one interrupted by a restart is resumed."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

from ..feeds.service import FeedsService
from ..models import GLOBAL, Feed, IngestReport, Scope
from ..parts import Parts
from ..vectors.chroma import VectorStore
from .passes import read_until_complete
from .pipeline import Progress

log = logging.getLogger(__name__)

REINDEX_KEY = "reindex_request"


class IndexingService:
    def __init__(self, parts: Parts, feeds: FeedsService):
        self.archive = parts.archive
        self.parts = parts
        self.feeds = feeds
        self._ingest_lock = threading.Lock()
        self.last_poll: str | None = None

    def hold_writer(self, role: str) -> None:
        """Hold the index's writer lock until the desk closes (a worker, a polling bot): IndexBusy
        when another process writes the embedded index, so the second writer stops at start-up."""
        self.parts.writer.acquire(role)

    def ingest(
        self,
        feed: str | int | None = None,
        *,
        scope: Scope = GLOBAL,
        full: bool = False,
        progress: Progress | None = None,
        due_only: bool = False,
        complete: bool = False,
    ) -> IngestReport:
        """One pass over the feeds (a poll: each feed gets its share, the rest waits for the next
        poll), or with ``complete`` (a one-shot ingest) pass after pass until no feed has entries
        waiting (see ``passes``)."""
        if feed is not None:
            feeds = [self.feeds.find(feed, scope)]
        else:
            feeds = self.archive.list_feeds(scope)
            if scope.scoped:
                feeds = [f for f in feeds if f.guild_id == scope.guild_id]
        if due_only:
            now = time.time()
            feeds = [f for f in feeds if not f.next_poll_at or f.next_poll_at <= now]
        with self._ingest_lock, self.parts.writer.holding("ingest"):
            if complete:
                report = read_until_complete(self._pass_runner(full, progress), feeds, self.archive.get_feed)
            else:
                report = self.parts.pipeline(progress).run(feeds, full=full)
        self.last_poll = datetime.now(UTC).isoformat(timespec="seconds")
        return report

    def _pass_runner(self, full: bool, progress: Progress | None):
        def run(feeds: list[Feed], number: int) -> IngestReport:
            return self.parts.pipeline(_later_pass(progress, number)).run(feeds, full=full)

        return run

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
        with self._ingest_lock, self.parts.writer.holding("reindex"):
            store = self.parts.store_or_open()
            feeds: list[Feed] = []
            if feed is not None or scope.scoped:
                feeds = (
                    [self.feeds.find(feed, scope, manage=True)]
                    if feed is not None
                    else [f for f in self.archive.list_feeds(scope) if f.guild_id == scope.guild_id]
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
        with self._ingest_lock, self.parts.writer.holding("reindex"):
            request = self.pending_reindex()
            if request is None:
                return None
            return request, self._reindex(self.parts.store_or_open(), request, progress)

    def _save_reindex(self, request: dict) -> None:
        self.archive.set_meta(REINDEX_KEY, json.dumps(request))

    def _reindex(self, store: VectorStore, request: dict, progress: Progress | None) -> IngestReport:
        pipeline = self.parts.pipeline(progress)
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
            store.synced = self.archive.bump_generation()  # other processes' clients see the new collection
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


def _later_pass(progress: Progress | None, number: int) -> Progress | None:
    """A later pass announces itself as "pass" (its feeds add to the display's count) instead of "start"."""
    if progress is None or number == 1:
        return progress

    def relay(event, **info):
        if event == "start":
            progress("pass", number=number, **info)
        else:
            progress(event, **info)

    return relay
