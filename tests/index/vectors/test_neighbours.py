"""Neighbour lists from Chroma's HNSW (a real embedded collection) against the exact all-pairs
lists: the same lists on a small clustered set, new passages folded into old lists by the
reverse update, and the mirror in "ann" mode agreeing with "exact"."""

from __future__ import annotations

import numpy as np
import pytest

from index.config import IndexConfig
from index.vectors.chroma import VectorStore
from index.vectors.density import NEIGHBOURS, update_neighbours
from index.vectors.mirror import DenseMirror
from index.vectors.neighbours import ann_lists, merge_offers, recall_at

DIM = 24


def clustered(n: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around 12 topics, two passages per article."""
    rng = np.random.default_rng(seed)
    topics = rng.normal(size=(12, DIM))
    articles = np.arange(n) // 2
    base = topics[rng.integers(0, 12, size=n // 2 + 1)][articles] + rng.normal(scale=0.5, size=(n, DIM))
    vecs = (base + rng.normal(scale=0.2, size=(n, DIM))).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True), articles


def stored(tmp_path, vecs, articles, name="nb-test"):
    store = VectorStore(IndexConfig(collection=name), tmp_path / "chroma", "hand-made", DIM)
    ids = [f"p{i}" for i in range(len(vecs))]
    metas = [{"article_id": int(a), "published_ts": 0.0, "outlet": "x"} for a in articles]
    store.upsert(ids, vecs, metas)
    return store, ids


def exact(vecs, articles) -> np.ndarray:
    top = np.full((len(vecs), NEIGHBOURS), -np.inf, dtype=np.float32)
    update_neighbours(vecs, articles, top, np.zeros(len(vecs), dtype=bool))
    return top


def test_ann_lists_equal_the_exact_ones_on_a_small_collection(tmp_path):
    vecs, articles = clustered(400)
    store, ids = stored(tmp_path, vecs, articles)
    lists = ann_lists(store, ids, vecs, articles.tolist())
    want = exact(vecs, articles)
    np.testing.assert_allclose(lists.top, want, atol=1e-4)
    for i, found in enumerate(lists.neighbour_ids):  # never itself nor its own article
        assert f"p{i}" not in found and all(int(f[1:]) // 2 != articles[i] for f in found)


def test_the_reverse_update_folds_new_passages_into_old_lists(tmp_path):
    vecs, articles = clustered(300, seed=9)
    old = 200
    store, ids = stored(tmp_path, vecs[:old], articles[:old])
    top = exact(vecs[:old], articles[:old])
    new_ids = [f"p{i}" for i in range(old, 300)]
    store.upsert(
        new_ids, vecs[old:], [{"article_id": int(a), "published_ts": 0.0, "outlet": "x"} for a in articles[old:]]
    )
    lists = ann_lists(store, new_ids, vecs[old:], articles[old:].tolist())
    assert lists.reverse and not set(lists.reverse) & set(new_ids)
    rows = [int(pid[1:]) for pid in lists.reverse]
    merged, moved = merge_offers(top[rows], [lists.reverse[f"p{r}"] for r in rows])
    top[rows] = merged
    want = exact(vecs, articles)[:old]
    right = np.all(np.abs(top - want) < 1e-4, axis=1)
    before = exact(vecs[:old], articles[:old])
    assert (top >= before - 1e-6).all()  # a list only ever takes in better neighbours
    assert right.mean() >= 0.85  # most old lists as if computed from scratch (half the set is new here)
    assert right.mean() > np.all(np.abs(before - want) < 1e-4, axis=1).mean() + 0.3  # and the update did that
    assert moved.any()


def test_merge_offers_keeps_the_best_and_reports_changes():
    current = np.array([[0.9, 0.5] + [-np.inf] * (NEIGHBOURS - 2), [0.8] * NEIGHBOURS], dtype=np.float32)
    merged, moved = merge_offers(current, [[0.7], [0.1]])
    assert merged[0, :3].tolist() == pytest.approx([0.9, 0.7, 0.5]) and moved.tolist() == [True, False]


def test_recall_counts_shared_ids():
    assert recall_at([["a", "b"], ["c", "x"]], [["a", "b"], ["c", "d"]]) == pytest.approx(0.75)


def test_the_mirror_in_ann_mode_agrees_with_exact(tmp_path):
    vecs, articles = clustered(240, seed=3)
    store, ids = stored(tmp_path, vecs, articles, name="nb-mirror")
    rows = [(pid, int(a), 0.0, "x") for pid, a in zip(ids, articles, strict=True)]
    lists = {}
    for mode in ("exact", "ann"):
        mirror = DenseMirror(density_penalty=0.3, full_strength_at=1, neighbours=mode)
        updates = mirror.refresh(rows, store, "1")
        assert len(updates) == len(ids)
        lists[mode] = mirror.neighbours
    np.testing.assert_allclose(lists["ann"], lists["exact"], atol=1e-4)
