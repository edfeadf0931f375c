"""Dense search on Chroma's own engine (embedded or server), for archives past the mirror's size.

No copy of the vectors in this process: candidates come from Chroma's HNSW query, over-fetched
(ids and distances only: Chroma reading each result's metadata was 70% of a 4,000-result query
at 1M) and post-filtered: arrays of every article's date and outlet (index.vectors.facts) keep
the results that may pass, and only those are checked on the archive's own record of each passage
(date, outlet, article; one covering-index lookup; the records go on with the hits, for the
retriever not to read them again) and on server visibility. When a filter keeps
so little of the archive that over-fetching would need too many results (a 30-day window, a
small server), the search is pre-filtered instead: the archive's indexes pick the matching
passages (by date, or a server's feeds); up to EXACT_MAX of them are scored exactly on their
vectors, more are ranked by Chroma restricted to their ids (its query's ``ids``). Chroma's own
``where`` is not used: at 1M passages an outlet filter cost 425 ms and a 30-day range 2.4 s
(460 ms at 100k). The density penalty of each candidate comes from its stored neighbour list,
the lists themselves from ANN queries (index.vectors.neighbours) as passages arrive, costing in
proportion to the new passages."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from ..archive import Archive
from ..errors import NewsdeskError
from .chroma import VectorStore
from .density import DENSITY_FULL_AT, NEIGHBOURS, density
from .facts import ArticleFacts
from .mirror import DenseHits, filter_mask
from .neighbours import ann_lists, merge_offers

log = logging.getLogger(__name__)

OVERFETCH = 3  # results asked per candidate wanted, unfiltered (room for the density re-ranking)
MAX_OVERFETCH = 4000  # results at most when it cannot (no date range, a big server): fewer may pass
# Past this many results a filtered search is pre-filtered instead, when it can be. Up to it,
# over-fetching is the cheaper way: Chroma's query costs ~5.5 us a result at 1M (4,000: 23 ms),
# its ids-restricted query more for the same share (10,000 ids at 100k: 1 year, 34 ms against 26)
MAX_FETCH = MAX_OVERFETCH
IDS_MAX = 20_000  # passages at most picked by the archive for a pre-filtered search (Chroma's ``ids``)
# Up to this many pre-filtered passages are scored exactly on their vectors (fetched from Chroma,
# ~47 us each at 1M) instead of by Chroma's HNSW restricted to their ids, whose cost grows as the
# allowed share shrinks: at 1M, 1,000 ids took 636 ms, 4,000 214 ms, 8,000 150 ms (n = 300).
EXACT_MAX = 2_000
# A date range keeping more than this share of the archive is not walked by the date index to pick
# passages (at 100k, "until now" with an outlet read every article: 56 ms, against 9 for Chroma)
DATE_NARROWS = 0.5
SAMPLE = 20_000  # passages in the selectivity sample
RESAMPLE_GROWTH = 0.05  # the sample (and mean density) is redrawn when the archive grows by 5%
_NEIGHBOUR_PAGE = 256  # passages per round of neighbour lists (short Chroma reads: it holds the GIL)
_VECTOR_CACHE = 4096


class DenseEngine:
    """Dense candidates from Chroma's query, with the mirror's interface where the retriever needs it."""

    def __init__(self, archive: Archive, density_penalty: float = 0.0, full_strength_at: int = DENSITY_FULL_AT):
        self.archive = archive
        self.density_penalty = density_penalty
        self.full_strength_at = max(1, full_strength_at)
        self.generation: str | None = None
        self.count = 0
        self.article_count = 0
        self.mean_density = 0.0
        self._sample: list[tuple[str, int, float, str]] = []
        self._sample_ts = np.zeros(0)
        self._sample_outlets = np.zeros(0, dtype=np.int32)  # codes, by _sample_codes
        self._sample_codes: dict[str, int] = {}
        self.facts = ArticleFacts()  # each article's date and outlet, for the post-filter
        self._sample_basis = -1
        self._visible_share: dict[tuple, float] = {}
        self._watermark = 0  # passages up to this rowid have had their neighbour lists looked at
        self._missing_after_full = 0
        self._store: VectorStore | None = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.last_path = ""  # "overfetch" or "prefilter": how the last search ran (for tests, benchmarks)
        self.last_asked = 0  # results asked of Chroma (over-fetched) or passages picked (pre-filtered)

    def __len__(self) -> int:
        return self.count

    # -- keeping up -----------------------------------------------------------------------------
    def refresh(self, store: VectorStore, generation: str, between: Callable[[], None] | None = None) -> int:
        """Catch up with the archive: neighbour lists for passages embedded since the last
        refresh (from a full look on the first one), the counts, the selectivity sample when
        the archive has grown. Returns how many lists were written."""
        with self._lock:
            if generation == self.generation:
                return 0
            self._store = store
            self._vectors.clear()  # a re-embedded passage must not keep its old vector
            written = 0
            if self.density_penalty > 0:
                written = self.catch_up_neighbours(store, between)
                # lists dropped behind the watermark (a re-embedded feed, a full reindex): one full pass,
                # not repeated while the same passages stay without one (e.g. their vector is missing)
                missing = self.archive.embedded_passage_count() - self.archive.neighbour_list_count()
                if missing > 0 and missing != self._missing_after_full:
                    watermark, self._watermark = self._watermark, 0
                    written += self.catch_up_neighbours(store, between)
                    self._watermark = max(watermark, self._watermark)
                    missing = self.archive.embedded_passage_count() - self.archive.neighbour_list_count()
                    self._missing_after_full = missing
            self.count = store.count()
            self.facts.refresh(self.archive)
            if self._sample_basis < 0 or abs(self.count - self._sample_basis) > RESAMPLE_GROWTH * self._sample_basis:
                self._resample()
            self.generation = generation
            return written

    def catch_up_neighbours(self, store: VectorStore, between: Callable[[], None] | None = None) -> int:
        """ANN neighbour lists for embedded passages without one, past the watermark, with the
        reverse update of the old passages they found."""
        written = 0
        while True:
            rows = self.archive.embedded_without_neighbours(self._watermark, _NEIGHBOUR_PAGE)
            if not rows:
                break
            ids = [r[1] for r in rows]
            vectors = store.vectors(ids)
            ids = [pid for pid in ids if pid in vectors]
            articles = {r[1]: r[2] for r in rows}
            if ids:
                matrix = np.stack([vectors[pid] for pid in ids])
                lists = ann_lists(store, ids, matrix, [articles[pid] for pid in ids], between=between)
                updates = {pid: lists.top[i].tobytes() for i, pid in enumerate(ids)}
                old = self.archive.neighbour_sims(list(lists.reverse))
                targets = [pid for pid in lists.reverse if pid in old]
                if targets:
                    current = np.stack([np.frombuffer(old[pid], dtype=np.float32) for pid in targets])
                    merged, moved = merge_offers(current, [lists.reverse[pid] for pid in targets])
                    updates.update({pid: merged[i].tobytes() for i, pid in enumerate(targets) if moved[i]})
                try:
                    self.archive.save_neighbours(updates)
                except NewsdeskError as exc:  # read-only: searched without them, retried next start
                    log.warning("could not store passage neighbours: %s", exc)
                    return written
                written += len(updates)
            self._watermark = rows[-1][0]
        return written

    def _resample(self) -> None:
        self._sample = self.archive.passage_sample(SAMPLE)
        self._sample_basis = self.count
        self._sample_ts = np.array([r[2] for r in self._sample], dtype=np.float64)
        self._sample_codes = {}
        self._sample_outlets = np.array(
            [self._sample_codes.setdefault(r[3], len(self._sample_codes)) for r in self._sample], dtype=np.int32
        )
        self._visible_share.clear()
        sims = self.archive.neighbour_sims([r[0] for r in self._sample])
        if sims:
            dens = density(np.stack([np.frombuffer(b, dtype=np.float32) for b in sims.values()]))
            finite = np.isfinite(dens)
            self.mean_density = float(dens[finite].mean()) if finite.any() else 0.0
        self.article_count = len({r[1] for r in self._sample})
        if self._sample and self.count > len(self._sample):  # articles per passage, as sampled
            self.article_count = int(self.count * self.article_count / len(self._sample))

    # -- selectivity ------------------------------------------------------------------------------
    def selectivity(self, since_ts: float | None, until_ts: float | None, outlets: list[str] | None) -> float:
        """The share of the archive passing the filters, estimated on the sample."""
        if not self._sample:
            return 1.0
        kept = filter_mask(self._sample_ts, self._sample_outlets, self._sample_codes, since_ts, until_ts, outlets)
        return 1.0 if kept is None else float(kept.mean())

    def visible_share(self, guild_id: int | None, signature: tuple) -> float:
        key = (guild_id, signature, self._sample_basis)
        share = self._visible_share.get(key)
        if share is None:
            articles = [r[1] for r in self._sample]
            visible = self.archive.visible_among(articles, guild_id) if articles else set()
            share = sum(1 for a in articles if a in visible) / len(articles) if articles else 1.0
            if len(self._visible_share) > 256:
                self._visible_share.clear()
            self._visible_share[key] = share
        return share

    # -- search -----------------------------------------------------------------------------------
    def search(
        self,
        query: np.ndarray,
        k: int,
        since_ts: float | None = None,
        until_ts: float | None = None,
        outlets: list[str] | None = None,
        guild_id: int | None = None,
        scoped: bool = False,
        signature: tuple = (),
    ) -> DenseHits:
        """The ``k`` best passages by cosine less density penalty inside the filters."""
        store = self._store
        if store is None or self.count == 0:
            return DenseHits([], np.zeros(0), np.zeros(0))
        share = self.selectivity(since_ts, until_ts, outlets)
        if scoped:
            share *= self.visible_share(guild_id, signature)
        want = k * OVERFETCH
        fetch = int(want / max(share, 1e-9))
        scope_id = guild_id if scoped else None
        among = None
        if fetch > MAX_FETCH and share * self.count <= 2 * IDS_MAX:
            # a date range keeping most of the archive (a question's "until now") does not narrow it:
            # the archive then starts from the server's feeds, or nothing picks the passages
            dated = since_ts is not None or until_ts is not None
            by_date = dated and self.selectivity(since_ts, until_ts, None) <= DATE_NARROWS
            among = self.archive.passage_ids_filtered(
                since_ts, until_ts, outlets, guild_id, scoped, IDS_MAX, by_date=by_date
            )
        if among is not None:  # selective: the archive's indexes pick the passages, Chroma ranks them
            self.last_path = "prefilter"
            self.last_asked = len(among)
            if not among:
                return DenseHits([], np.zeros(0), np.zeros(0))
            if len(among) <= EXACT_MAX:  # few: their vectors, scored exactly
                vectors = self.fetch_vectors(among)
                ids = [pid for pid in among if pid in vectors]
                sims = [float(vectors[pid] @ query) for pid in ids]
            else:  # Chroma's HNSW restricted to the ids, asked for k (its cost grows with n / share)
                ids, sims, _ = store.nearest(query[None, :], min(k, len(among)), among=among, metadata=False)[0]
            keep = list(range(len(ids)))
            meta: dict[str, tuple] = {}
        else:
            self.last_path = "overfetch"
            n = min(fetch, MAX_OVERFETCH, self.count)
            self.last_asked = n
            ids, sims, _ = store.nearest(query[None, :], n, metadata=False)[0]
            keep, meta = self._post_filter(ids, since_ts, until_ts, outlets, scope_id)
        ids = [ids[i] for i in keep]
        cos = np.array([sims[i] for i in keep], dtype=np.float32)
        scores = cos - self.penalties(ids)
        order = np.argsort(-scores, kind="stable")[:k]
        top = [ids[i] for i in order]
        return DenseHits(top, scores[order], cos[order], {pid: meta[pid] for pid in top if pid in meta})

    def _post_filter(
        self,
        ids: list[str],
        since_ts: float | None,
        until_ts: float | None,
        outlets: list[str] | None,
        guild_id: int | None,
    ) -> tuple[list[int], dict[str, tuple]]:
        """The positions of the results inside the filters, by the archive's own record of each
        passage (one lookup by primary key; cheaper than Chroma's metadata, and a passage the
        archive no longer has is dropped with it), and the records read (none, unfiltered)."""
        unfiltered = since_ts is None and until_ts is None and not outlets and guild_id is None
        if unfiltered:
            return list(range(len(ids))), {}
        # the arrays of article dates and outlets narrow the thousands of results to those that may
        # pass; only these are looked up (a passage deleted since, or of an unknown article, is
        # decided by the archive's own record)
        maybe = self.facts.narrow(ids, since_ts, until_ts, outlets).tolist()
        meta = self.archive.passage_meta([ids[i] for i in maybe])
        wanted = set(outlets) if outlets else None
        keep = []
        for i in maybe:
            row = meta.get(ids[i])
            if row is None:
                continue
            ts = float(row[1] or 0.0)
            if since_ts is not None and ts < since_ts or until_ts is not None and ts > until_ts:
                continue
            if wanted is not None and row[2] not in wanted:
                continue
            keep.append(i)
        if guild_id is not None and keep:
            visible = self.archive.visible_among([meta[ids[i]][0] for i in keep], guild_id)
            keep = [i for i in keep if meta[ids[i]][0] in visible]
        return keep, meta

    # -- scores of given passages ---------------------------------------------------------------------
    def penalties(self, ids: list[str]) -> np.ndarray:
        """Density penalty of each passage (0 for one without a list yet: the archive's mean)."""
        out = np.zeros(len(ids), dtype=np.float32)
        if self.density_penalty <= 0 or not ids:
            return out
        strength = self.density_penalty * min(1.0, self.article_count / self.full_strength_at)
        sims = self.archive.neighbour_sims(ids)
        rows = [i for i, pid in enumerate(ids) if len(sims.get(pid) or b"") == 4 * NEIGHBOURS]
        if rows:
            dens = density(
                np.frombuffer(b"".join(sims[ids[i]] for i in rows), dtype=np.float32).reshape(-1, NEIGHBOURS)
            )
            out[rows] = np.where(np.isfinite(dens), strength * (dens - self.mean_density), 0.0)
        return out

    def fetch_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        missing = [pid for pid in dict.fromkeys(ids) if pid not in self._vectors]
        if missing and self._store is not None:
            for pid, vec in self._store.vectors(missing).items():
                self._vectors[pid] = vec
            while len(self._vectors) > _VECTOR_CACHE:
                self._vectors.popitem(last=False)
        return {pid: self._vectors[pid] for pid in ids if pid in self._vectors}

    def scores_for(self, query: np.ndarray, passage_ids: list[str]) -> list[tuple[float, float] | None]:
        """(ranking score, cosine) of each passage, None for one not in the index."""
        vectors = self.fetch_vectors(passage_ids)
        present = [pid for pid in passage_ids if pid in vectors]
        penalty = dict(zip(present, self.penalties(present).tolist(), strict=True))
        out: list[tuple[float, float] | None] = []
        for pid in passage_ids:
            vec = vectors.get(pid)
            if vec is None:
                out.append(None)
            else:
                cosine = float(vec @ query)
                out.append((cosine - penalty[pid], cosine))
        return out

    def vector(self, passage_id: str) -> np.ndarray | None:
        return self.fetch_vectors([passage_id]).get(passage_id)


def engine_wanted(mode: str, embedded: int, mirror_max: int) -> bool:
    """Whether dense search runs on the engine: by config, or for ``auto`` by the archive's size."""
    return mode == "engine" or (mode == "auto" and embedded > mirror_max)
