"""The vector index of record: one Chroma collection (embedded or client-server) holding a
vector per archived passage, tagged with the model that made it.

Embedded Chroma (a ``PersistentClient``) keeps each collection's HNSW index in the memory of the
process that opened it and never looks at the directory again: after another process adds or
deletes vectors, a query of this process fails with "Error finding id" (the metadata it reads
from the shared SQLite names vectors its HNSW copy lacks) or misses them, until it opens the
directory anew. Opening a new client is not enough either: chromadb caches one ``System`` per
directory for the whole process (``SharedSystemClient``), so a new client gets the old HNSW.
``VectorStore.follow`` therefore drops that cache entry and opens a new client whenever the
archive's index generation (bumped by every vector write, in any process) moved since this
store last saw it and the move was not its own write. With a Chroma server only the collection
handle is fetched again (a full reindex in another process replaces the collection)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import numpy as np

from ..config import IndexConfig
from ..errors import IndexUnavailable, ModelMismatch

log = logging.getLogger(__name__)

_PAGE = 2000  # ids per read call
# chromadb counts a PersistentClient twice on its System (the client and its admin client)
_REFS_PER_CLIENT = 2
# Vectors per write call. Chroma's bindings hold the GIL while they write (bench_scale: 512 vectors
# into a 100k collection stalled an asyncio loop for 0.55 s), so a bot that ingests in-process
# would freeze for that long; small writes bound each stall.
_WRITE_PAGE = 128


class VectorStore:
    """One Chroma collection holding a vector per archived passage, tagged with its model."""

    def __init__(self, config: IndexConfig, path, model_name: str, dimension: int):
        self.config = config
        self.model_name = model_name
        self.dimension = dimension
        self.location = config.chroma_url or str(path)
        self.path = str(path)
        # the archive's index generation this client's view is known to match (None: opened and
        # not yet compared); see follow()
        self.synced: str | None = None
        self.reopened = 0  # times follow() opened the embedded directory anew (for tests, doctor)
        self._reopen_lock = threading.Lock()
        # calls on the collection in flight (searches run in several threads): a reopen waits for
        # them and holds new ones back, so none runs on a client being closed
        self._gate = threading.Condition()
        self._calls = 0
        self._reopening = False
        with self._unavailable("vector index at {} is unavailable"):
            import chromadb  # heavy: loaded only when the index is opened
            from chromadb.config import Settings

            settings = Settings(anonymized_telemetry=False, allow_reset=False)
            if config.chroma_url:
                parts = urlsplit(config.chroma_url)
                self.client = chromadb.HttpClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=settings,
                )
                self.client.heartbeat()
            else:
                self.client = chromadb.PersistentClient(path=str(path), settings=settings)
            self._settings = settings
            self.collection = self._open_collection()
        self.mismatch: str | None = self._model_mismatch()

    def _model_mismatch(self) -> str | None:
        meta = self.collection.metadata or {}
        if meta.get("model") and meta.get("model") != self.model_name:
            return f"index was built with model {meta.get('model')!r}, config says {self.model_name!r}"
        return None

    @contextmanager
    def _unavailable(self, message: str) -> Iterator[None]:
        """Any failure of Chroma's (it raises many kinds; all mean "not usable") as IndexUnavailable;
        ``message`` has a {} for the index's location. The block counts as a call in flight."""
        with self._gate:
            while self._reopening:
                self._gate.wait()
            self._calls += 1
        try:
            with self._translated(message):
                yield
        finally:
            with self._gate:
                self._calls -= 1
                self._gate.notify_all()

    @contextmanager
    def _translated(self, message: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            raise IndexUnavailable(f"{message.format(self.location)}: {_describe(exc)}") from None

    @contextmanager
    def _alone(self) -> Iterator[None]:
        """No call in flight for the block (new ones wait until it ends)."""
        with self._gate:
            self._reopening = True
            while self._calls:
                self._gate.wait()
        try:
            yield
        finally:
            with self._gate:
                self._reopening = False
                self._gate.notify_all()

    def _open_collection(self, client=None):
        return (client or self.client).get_or_create_collection(
            self.config.collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "model": self.model_name, "dimension": self.dimension},
        )

    @property
    def embedded(self) -> bool:
        return not self.config.chroma_url

    def follow(self, generation: str | None) -> bool:
        """Make this store see the vectors of index generation ``generation`` (the archive's meta
        ``index_generation``): an embedded client opened before another process's writes is opened
        anew. Returns True when it was. Call it before a query or a write whenever the archive's
        generation may have moved; ``synced`` is set by the writer after its own writes, which
        need no reopening."""
        with self._reopen_lock:
            moved = self.synced is not None and generation != self.synced
            if moved and self.embedded:
                with self._alone():
                    self._reopen()
            elif moved:  # a server: one copy for all, but a full reindex made a new collection
                with self._unavailable("vector index at {} is unavailable"):
                    self.collection = self._open_collection()
                self.mismatch = self._model_mismatch()
            self.synced = generation
            return moved and self.embedded

    def _reopen(self) -> None:
        """A new embedded client and collection on the directory. The old client is closed first
        when it is the only one of this process on the directory: that stops its System and frees
        its in-memory HNSW copy (dropping the System from chromadb's cache without closing it
        leaks that copy: ~2 KiB a vector on each reopen, measured). When another store of this
        process still uses it (another Newsdesk on the same directory), the cache entry is only
        dropped, so the new client is not handed the old, stale System; the other store keeps
        it until it follows too."""
        with self._translated("vector index at {} cannot be reopened"):
            import chromadb
            from chromadb.api.shared_system_client import SharedSystemClient

            identifier = getattr(self.client, "_identifier", None)
            systems = getattr(SharedSystemClient, "_identifier_to_system", None)
            refcounts = getattr(SharedSystemClient, "_identifier_to_refcount", None)
            if identifier is None or not isinstance(systems, dict) or not isinstance(refcounts, dict):
                SharedSystemClient.clear_system_cache()  # another chromadb layout: the public, process-wide way
            elif refcounts.get(identifier, 0) <= _REFS_PER_CLIENT:
                self.collection = None  # nothing of the old client may outlive its close
                self.client.close()  # type: ignore[attr-defined]  # PersistentClient has it (chromadb >= 1.1)
            else:
                systems.pop(identifier, None)
                refcounts.pop(identifier, None)
            client = chromadb.PersistentClient(path=self.path, settings=self._settings)
            self.client, self.collection = client, self._open_collection(client)
        self.mismatch = self._model_mismatch()
        self.reopened += 1
        log.info("vector index at %s changed in another process: reopened", self.location)

    def check_model(self) -> None:
        if self.mismatch:
            raise ModelMismatch(self.mismatch + "; run `newsdesk reindex --full`")

    def reset(self) -> None:
        """Drop and recreate the collection for the configured model."""
        try:
            self.client.delete_collection(self.config.collection)
        except Exception:  # absent is fine
            pass
        self.collection = self._open_collection()
        self.mismatch = None

    def upsert(self, ids: list[str], vectors: np.ndarray, metadatas: list[dict]) -> None:
        self.check_model()
        with self._unavailable("cannot write to the vector index at {}"):
            for start in range(0, len(ids), _WRITE_PAGE):
                end = start + _WRITE_PAGE
                self.collection.upsert(
                    ids=ids[start:end], embeddings=vectors[start:end], metadatas=metadatas[start:end]
                )

    def delete(self, ids: list[str]) -> None:
        with self._unavailable("cannot delete from the vector index at {}"):
            for start in range(0, len(ids), _WRITE_PAGE):
                self.collection.delete(ids=ids[start : start + _WRITE_PAGE])

    def count(self) -> int:
        with self._unavailable("vector index at {} is unavailable"):
            return self.collection.count()

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        with self._unavailable("vector index at {} is unavailable"):
            total = self.collection.count()
            for offset in range(0, total, _PAGE * 5):
                ids.update(self.collection.get(include=[], limit=_PAGE * 5, offset=offset)["ids"])
        return ids

    def ids_tagged(self, ids: list[str], key: str, value) -> list[str]:
        """Of ``ids``, those whose vector is in the index with metadata ``key`` equal to ``value``."""
        found: list[str] = []
        with self._unavailable("vector index at {} is unavailable"):
            for start in range(0, len(ids), _PAGE):
                got = self.collection.get(ids=ids[start : start + _PAGE], include=["metadatas"])
                metas = got["metadatas"] or []
                found += [pid for pid, meta in zip(got["ids"], metas, strict=True) if (meta or {}).get(key) == value]
        return found

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._unavailable("vector index at {} is unavailable"):
            for start in range(0, len(ids), _PAGE):
                got = self.collection.get(ids=ids[start : start + _PAGE], include=["embeddings"])
                for pid, vec in zip(got["ids"], got["embeddings"], strict=True):
                    out[pid] = np.asarray(vec, dtype=np.float32)
        return out

    def nearest(
        self,
        vectors: np.ndarray,
        n: int,
        where: dict | None = None,
        among: list[str] | None = None,
        metadata: bool = True,
    ) -> list[tuple[list[str], list[float], list[dict]]]:
        """Chroma's own (HNSW) nearest neighbours of each vector: ids, cosine similarities (best
        first) and metadatas (empty dicts with ``metadata=False``: Chroma reads each result's
        metadata from its SQLite, ~17 us a result at 1M, 70% of a 4,000-result query); ``where``
        is Chroma's pre-filter on metadata, ``among`` on ids."""
        if len(vectors) == 0:
            return []
        with self._unavailable("vector index at {} is unavailable"):
            kwargs: dict = {
                "query_embeddings": np.asarray(vectors, dtype=np.float32),
                "n_results": max(1, n),  # more than there are: Chroma returns what there is
                "include": ["distances", "metadatas"] if metadata else ["distances"],
            }
            if where:
                kwargs["where"] = where
            if among is not None:
                kwargs["ids"] = among
            got = self.collection.query(**kwargs)
        out = []
        metadatas = got["metadatas"] if metadata else None
        for i, (ids, dists) in enumerate(zip(got["ids"], got["distances"] or [], strict=True)):
            metas = metadatas[i] if metadatas else [{}] * len(ids)
            out.append((list(ids), [1.0 - float(d) for d in dists], [m or {} for m in metas]))
        return out


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text[:200]}" if text else exc.__class__.__name__
