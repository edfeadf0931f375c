"""An in-memory mirror of the vector collection for exact, filterable dense search.

Chroma's metadata filters are brute force and slow at 100k vectors, so queries run on a NumPy
copy of the collection with boolean masks for dates, outlets and server scope; the mirror is
refreshed incrementally from Chroma when the archive's index generation changes."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import IndexUnavailable
from .chroma import VectorStore
from .density import DENSITY_FULL_AT, NEIGHBOURS, density, update_neighbours
from .neighbours import EXACT_UP_TO, ann_lists, merge_offers

log = logging.getLogger(__name__)

_blas_limited = False


def limit_blas_threads() -> None:
    """NumPy's BLAS threads busy-wait after a product and starve the embedding model's threads on a
    small machine; the mirror's matrix-vector products are fast on one thread. Process-wide (BLAS
    has one pool), so it is done once, when the first mirror is made, not at import."""
    global _blas_limited
    if not _blas_limited:
        threadpool_limits(1, user_api="blas")
        _blas_limited = True


@dataclass
class DenseHits:
    ids: list[str]
    scores: np.ndarray  # ranking scores: cosine minus the passage's density penalty
    cosines: np.ndarray  # plain cosine similarity to the query
    # the archive's (article, date, outlet) of hits already looked up on the way (the engine's
    # post-filter), so the retriever need not read them again
    meta: dict[str, tuple] = field(default_factory=dict)


def filter_mask(
    published: np.ndarray,
    outlet_codes: np.ndarray,
    outlet_index: dict[str, int],
    since_ts: float | None,
    until_ts: float | None,
    outlets: list[str] | None,
) -> np.ndarray | None:
    """Rows inside the date range and of the outlets (``outlet_codes`` numbered by ``outlet_index``);
    None when nothing is filtered. The mirror's rows, the engine's sample and article arrays alike."""
    mask = None
    if since_ts is not None:
        mask = published >= since_ts
    if until_ts is not None:
        m = published <= until_ts
        mask = m if mask is None else mask & m
    if outlets:
        codes = [outlet_index[o] for o in outlets if o in outlet_index]
        m = np.isin(outlet_codes, codes)
        mask = m if mask is None else mask & m
    return mask


class DenseMirror:
    """Exact cosine search over an in-memory copy of the collection, with row masks.

    With ``density_penalty`` > 0, a passage's score is its cosine minus penalty x (its density -
    the archive's mean density): passages in crowded regions of the space ("hubs", e.g. the tenth
    brief on a recurring topic) are near every question about that topic and win too often by
    that alone; this is the CSLS/hubness correction of cross-lingual retrieval (Conneau et al.
    2018), with densities from passage-passage neighbours so no query log is needed. In a small
    archive a passage's nearest neighbours are much of the archive and "crowded" means little, so
    the correction grows with the archive, in full from ``full_strength_at`` articles."""

    def __init__(self, density_penalty: float = 0.0, full_strength_at: int = DENSITY_FULL_AT, neighbours: str = "auto"):
        limit_blas_threads()
        self.density_penalty = density_penalty
        # neighbour lists: "exact" all-pairs, "ann" from Chroma's HNSW, "auto" exact up to EXACT_UP_TO rows
        self.neighbour_mode = neighbours
        self.full_strength_at = max(1, full_strength_at)
        self.ids: list[str] = []
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.neighbours = np.zeros((0, NEIGHBOURS), dtype=np.float32)
        self.penalty = np.zeros(0, dtype=np.float32)
        self.published = np.zeros(0)
        self.article = np.zeros(0, dtype=np.int64)
        self.article_count = 0
        self.outlet: list[str] = []
        self.outlet_codes = np.zeros(0, dtype=np.int32)
        self.outlet_index: dict[str, int] = {}
        self.generation: str | None = None
        self._row_of: dict[str, int] = {}
        self._row_of_generation: str | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def refresh(self, rows: list[tuple], store: VectorStore, generation: str) -> dict[str, bytes]:
        """Sync with the archive's embedded passages (rows: id, article_id, published_ts, outlet and,
        optionally, the neighbour similarities stored for it). Returns the neighbour similarities
        computed or changed here, by passage id, for the caller to store."""
        with self._lock:
            if generation == self.generation:
                return {}
            old = {pid: i for i, pid in enumerate(self.ids)}
            missing = [r[0] for r in rows if r[0] not in old]
            fetched = store.vectors(missing) if missing else {}
            dim = store.dimension
            keep_rows = [r for r in rows if r[0] in old or r[0] in fetched]
            # each kept row's row in the last mirror (-1: new), for its vector and neighbour list
            carried = np.array([old.get(r[0], -1) for r in keep_rows], dtype=np.int64)
            is_old = carried >= 0
            matrix = np.empty((len(keep_rows), dim), dtype=np.float32)
            if is_old.any():
                matrix[is_old] = self.matrix[carried[is_old]]
            for i in np.flatnonzero(~is_old):
                matrix[i] = fetched[keep_rows[i][0]]
            last_neighbours = self.neighbours if len(self.neighbours) == len(self.ids) else None
            self.ids = [r[0] for r in keep_rows]
            self.matrix = matrix
            self.article = np.array([r[1] for r in keep_rows], dtype=np.int64)
            self.published = np.array([r[2] if r[2] is not None else 0.0 for r in keep_rows], dtype=np.float64)
            self.outlet_index = {}
            self.outlet_codes = np.array(
                [self.outlet_index.setdefault(r[3] or "", len(self.outlet_index)) for r in keep_rows], dtype=np.int32
            )
            self.article_count = len(np.unique(self.article))
            updates = (
                self._refresh_density(keep_rows, carried, last_neighbours, store) if self.density_penalty > 0 else {}
            )
            self.generation = generation
            log.debug(
                "dense mirror refreshed: %d vectors (%d fetched, %d densities updated)",
                len(self.ids),
                len(fetched),
                len(updates),
            )
            return updates

    def _refresh_density(
        self, rows: list[tuple], carried: np.ndarray, last_neighbours: np.ndarray | None, store: VectorStore
    ) -> dict[str, bytes]:
        """Neighbour lists: carried over from the last refresh, else as stored, else computed."""
        top = np.full((len(rows), NEIGHBOURS), -np.inf, dtype=np.float32)
        known = np.zeros(len(rows), dtype=bool)
        if last_neighbours is not None:
            known = carried >= 0
            top[known] = last_neighbours[carried[known]]
        for i in np.flatnonzero(~known):
            stored = rows[i][4] if len(rows[i]) > 4 else None
            if stored is not None and len(stored) == 4 * NEIGHBOURS:
                top[i] = np.frombuffer(stored, dtype=np.float32)
                known[i] = True
        if known.all():
            changed = np.zeros_like(known)
        elif self.neighbour_mode == "exact" or (self.neighbour_mode == "auto" and len(rows) <= EXACT_UP_TO):
            changed = update_neighbours(self.matrix, self.article, top, known)
        else:
            changed = self._ann_neighbours(rows, top, known, store)
        self.neighbours = top
        dens = density(top)
        finite = np.isfinite(dens)
        mean = float(dens[finite].mean()) if finite.any() else 0.0
        strength = self.density_penalty * min(1.0, self.article_count / self.full_strength_at)
        self.penalty = (strength * np.where(finite, dens - mean, 0.0)).astype(np.float32)
        return {rows[i][0]: top[i].tobytes() for i in np.flatnonzero(changed)}

    def _ann_neighbours(self, rows: list[tuple], top: np.ndarray, known: np.ndarray, store: VectorStore) -> np.ndarray:
        """Lists of the rows not ``known`` from Chroma's HNSW; the old rows it found take the new
        ones into their lists (in place). Returns the rows written or changed."""
        fresh = np.flatnonzero(~known)
        ids = [rows[i][0] for i in fresh]
        lists = ann_lists(store, ids, self.matrix[fresh], self.article[fresh].tolist())
        top[fresh] = lists.top
        changed = ~known
        if lists.reverse:
            row_of = {rows[i][0]: i for i in range(len(rows))}
            targets = [row_of[pid] for pid in lists.reverse if pid in row_of]
            if targets:
                idx = np.array(targets, dtype=np.int64)
                merged, moved = merge_offers(top[idx], [lists.reverse[rows[i][0]] for i in targets])
                top[idx] = merged
                changed[idx[moved]] = True
        return changed

    def article_mask(self, article_ids: set[int]) -> np.ndarray:
        """Rows whose article is in ``article_ids`` (for the current generation of the mirror)."""
        return np.isin(self.article, np.fromiter(article_ids, dtype=np.int64, count=len(article_ids)))

    def mask(
        self, since_ts: float | None, until_ts: float | None, outlets: list[str] | None, allowed: np.ndarray | None
    ) -> np.ndarray | None:
        """Rows inside the date range, of the outlets, and set in ``allowed`` (a row mask, e.g. the
        server scope from ``article_mask``); None when nothing is filtered."""
        mask = filter_mask(self.published, self.outlet_codes, self.outlet_index, since_ts, until_ts, outlets)
        if allowed is not None:
            mask = allowed if mask is None else mask & allowed
        return mask

    def row_of(self) -> dict[str, int]:
        if self._row_of_generation != self.generation:
            self._row_of = {pid: i for i, pid in enumerate(self.ids)}
            self._row_of_generation = self.generation
        return self._row_of

    def vector(self, passage_id: str) -> np.ndarray | None:
        row = self.row_of().get(passage_id)
        return None if row is None else self.matrix[row]

    def scores_for(self, query: np.ndarray, passage_ids: list[str]) -> list[tuple[float, float] | None]:
        """(ranking score, cosine) of each passage, None for one not in the mirror."""
        rows = self.row_of()
        out: list[tuple[float, float] | None] = []
        for pid in passage_ids:
            row = rows.get(pid)
            if row is None:
                out.append(None)
            else:
                cosine = float(self.matrix[row] @ query)
                out.append((cosine - float(self.penalty[row]) if len(self.penalty) else cosine, cosine))
        return out

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None) -> DenseHits:
        with self._lock:
            if not self.ids:
                return DenseHits([], np.zeros(0), np.zeros(0))
            cosines = self.matrix @ query.astype(np.float32)
            scores = cosines - self.penalty if len(self.penalty) == len(cosines) else cosines
            if mask is not None and len(mask) != len(scores):
                raise IndexUnavailable("the vector mirror changed during the search; try again")
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
            k = min(k, len(scores))
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.argsort(-scores[top])]
            top = top[np.isfinite(scores[top])]
            return DenseHits([self.ids[i] for i in top], scores[top], cosines[top])
