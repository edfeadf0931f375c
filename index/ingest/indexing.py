"""Keeping the vector index in step with the archive: embed passages not yet embedded, apply
queued vector deletions. The archive's ``passages.embedded`` flag and ``vector_deletes`` queue
are the record of what is left to do.

Embedding is durable batch by batch (EMBED_BATCH passages, a few seconds of encoding): before a
batch is written to Chroma its ids and a fresh token are recorded in the archive (meta key
``embed_inflight:<token>``) and every vector carries the token in its metadata; the batch is
then marked embedded and the record dropped in one transaction. A run killed between the two
leaves a record whose vectors are in Chroma: the next run finds them (by id, with the token,
so an older vector of a passage waiting to be re-embedded does not count) and marks them
instead of encoding them again."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..archive import Archive
from ..config import Config
from ..models import IngestReport, PassageRow
from ..vectors.chroma import VectorStore
from ..vectors.embedders import Embedder

log = logging.getLogger(__name__)

# passages per encode call and per durable step: 128 is ~5 s of encoding on a 2-core CPU (a kill
# loses at most that) and two of sentence-transformers' internal batches (embedding.batch_size 64)
EMBED_BATCH = 128
INFLIGHT = "embed_inflight:"


class Indexer:
    def __init__(
        self,
        config: Config,
        archive: Archive,
        store_loader: Callable[[], VectorStore],
        embedder_loader: Callable[[], Embedder],
        progress: Callable[..., None],
    ):
        self.config = config
        self.archive = archive
        self._store_loader = store_loader
        self._embedder_loader = embedder_loader
        self.progress = progress

    @property
    def store(self) -> VectorStore:
        return self._store_loader()

    @property
    def embedder(self) -> Embedder:
        return self._embedder_loader()

    def writable_store(self) -> VectorStore:
        """The store, caught up with what other processes wrote since it last looked (an embedded
        client that missed them would write from a stale view)."""
        store = self.store
        store.follow(self.archive.get_meta("index_generation"))
        return store

    def written(self, store: VectorStore) -> None:
        """After a write of this store's: the new generation is one its view already matches."""
        store.synced = self.archive.bump_generation()

    def apply_vector_deletes(self, report: IngestReport) -> None:
        pending = self.archive.pending_vector_deletes()
        if pending:
            store = self.writable_store()
            store.delete(pending)
            self.archive.clear_vector_deletes(pending)
            self.written(store)
            report.vectors_deleted += len(pending)

    def recover(self, report: IngestReport) -> int:
        """Mark the batches an interrupted run wrote to Chroma but did not mark in the archive;
        returns how many passages were marked (without encoding them)."""
        records = self.archive.meta_like(INFLIGHT)
        if not records:
            return 0
        store = self.writable_store()
        found: list[str] = []
        for key, value in records.items():
            try:
                ids = json.loads(value)
            except ValueError:
                ids = []
            token = key[len(INFLIGHT) :]
            found += store.ids_tagged(ids, "batch", token)
        marked = self.archive.unembedded_among(found)
        with self.archive.transaction():
            if marked:
                self.archive.mark_embedded(marked)
            for key in records:
                self.archive.delete_meta(key)
        if marked:
            self.written(store)
            log.info("%d passages of an interrupted run were already in the vector index", len(marked))
        report.passages_recovered += len(marked)
        return len(marked)

    def embed_pending(self, report: IngestReport, limit: int | None = None, whole_batches: bool = False) -> int:
        """Embed passages not yet in the vector index, batch by batch; returns how many were
        embedded. ``whole_batches``: stop rather than encode a batch smaller than EMBED_BATCH."""
        done = 0
        while True:
            size = EMBED_BATCH if limit is None else min(limit - done, EMBED_BATCH)
            batch = self.archive.passages_to_embed(size) if size > 0 else []
            if not batch or (whole_batches and len(batch) < EMBED_BATCH):
                break
            self._embed_batch(batch)
            done += len(batch)
            report.passages_embedded += len(batch)
            self.progress("embedded", count=len(batch))
        return done

    def _embed_batch(self, batch: list[PassageRow]) -> None:
        texts = [passage_input(p) for p in batch]
        vectors = self.embedder.encode(texts, self.config.embedding.batch_size)
        ids = [p.id for p in batch]
        token = f"{os.getpid()}-{time.time_ns()}"
        metadatas = [
            {"article_id": p.article_id, "published_ts": p.published_ts or 0.0, "outlet": p.outlet, "batch": token}
            for p in batch
        ]
        key = INFLIGHT + token
        self.archive.set_meta(key, json.dumps(ids))
        store = self.writable_store()
        store.upsert(ids, vectors, metadatas)
        with self.archive.transaction():
            self.archive.mark_embedded(ids)
            self.archive.delete_meta(key)
            self.written(store)


def passage_input(passage: PassageRow) -> str:
    """What the model embeds: a short header (title, outlet, date) so the passage stands alone."""
    when = ""
    if passage.published_ts:
        when = datetime.fromtimestamp(passage.published_ts, tz=UTC).strftime("%-d %B %Y")
    header = " — ".join(x for x in (passage.title, passage.outlet, when) if x)
    return f"{header}\n{passage.text}" if header else passage.text
