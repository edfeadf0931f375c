"""The density correction's neighbour lists from Chroma's own HNSW index instead of all-pairs.

A new passage's list is an approximate nearest-neighbour query of the collection (it is in the
collection already: the pipeline writes its vector first); the reverse update, new passages
entering the lists of old ones, touches only the old passages those queries found (HNSW's
neighbourhoods are nearly symmetric), so adding n passages costs n queries of O(log N), not
n x N dot products. Lists hold similarities only (what the density needs), best first, -inf
padded, excluding the passage's own article and copies of its story as density.update_neighbours
does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .chroma import VectorStore
from .density import NEIGHBOURS, SAME_STORY

EXACT_UP_TO = 20_000  # passages: ``neighbours = "auto"`` keeps exact all-pairs lists up to this size
_EXTRA = 12  # results beyond NEIGHBOURS + itself: room for the passage's own article and story copies
_QUERY_BATCH = 64  # query vectors per Chroma call (it holds the GIL while it works: short calls)
_MAX_FETCH = 400  # results per query at most, when copies crowd a passage's neighbourhood


@dataclass
class AnnLists:
    """Neighbour lists of the queried rows and, per old passage id, similarities to offer its list."""

    top: np.ndarray  # rows x NEIGHBOURS similarities, best first, -inf padded
    neighbour_ids: list[list[str]]  # the ids behind ``top`` (for recall measurements)
    reverse: dict[str, list[float]] = field(default_factory=dict)


def ann_lists(
    store: VectorStore,
    ids: list[str],
    vectors: np.ndarray,
    article_ids: list[int],
    new: set[str] | None = None,
    between: Callable[[], None] | None = None,
) -> AnnLists:
    """Approximate neighbour lists of ``ids`` (their vectors and articles given) from the collection.

    ``new``: ids written in the same batch (their own queries find each other, so they are not
    offered to each other's lists twice); the reverse offers cover the other passages found.
    ``between`` runs between Chroma calls (a pause for a busy event loop, a progress tick)."""
    k = NEIGHBOURS
    new = set(ids) if new is None else new
    top = np.full((len(ids), k), -np.inf, dtype=np.float32)
    reverse: dict[str, list[float]] = {}
    found_ids: list[list[str]] = [[] for _ in ids]
    for start in range(0, len(ids), _QUERY_BATCH):
        rows = list(range(start, min(start + _QUERY_BATCH, len(ids))))
        n = k + 1 + _EXTRA
        while rows:
            results = store.nearest(vectors[rows], n)
            short = []
            for row, (rids, sims, metas) in zip(rows, results, strict=True):
                kept_ids, kept = _kept(ids[row], article_ids[row], rids, sims, metas, n)
                if len(kept) < k and len(rids) == n and n < _MAX_FETCH:
                    short.append(row)  # a crowd of its own article or story copies: ask for more
                    continue
                top[row, : min(k, len(kept))] = kept[:k]
                found_ids[row] = kept_ids[:k]
                for rid, sim in zip(kept_ids, kept, strict=True):  # every result found, not only the k best
                    if rid not in new:
                        reverse.setdefault(rid, []).append(sim)
            rows, n = short, n * 4
            if between is not None:
                between()
    return AnnLists(top, found_ids, reverse)


def _kept(pid: str, article: int, rids: list[str], sims: list[float], metas: list[dict], k: int):
    """The first ``k`` results that are neither the passage, its article, nor a copy of its story."""
    kept_ids: list[str] = []
    kept: list[float] = []
    for rid, sim, meta in zip(rids, sims, metas, strict=True):
        if rid == pid or meta.get("article_id") == article or sim >= SAME_STORY:
            continue
        kept_ids.append(rid)
        kept.append(sim)
        if len(kept) == k:
            break
    return kept_ids, kept


def merge_offers(current: np.ndarray, offers: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's list (rows x NEIGHBOURS, best first) with its offered similarities folded in;
    returns the merged lists and a mask of the rows that changed."""
    k = current.shape[1]
    width = max((len(o) for o in offers), default=0)
    if width == 0:
        return current, np.zeros(len(current), dtype=bool)
    extra = np.full((len(current), width), -np.inf, dtype=np.float32)
    for i, o in enumerate(offers):
        extra[i, : len(o)] = o
    merged = -np.sort(-np.concatenate([current, extra], axis=1), axis=1)[:, :k]
    return merged, np.any(merged != current, axis=1)


def recall_at(ann_ids: list[list[str]], exact_ids: list[list[str]]) -> float:
    """Mean share of each exact list that the approximate list found."""
    shares = [len(set(a) & set(e)) / len(e) for a, e in zip(ann_ids, exact_ids, strict=True) if e]
    return float(np.mean(shares)) if shares else 1.0
