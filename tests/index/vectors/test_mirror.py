"""The vector mirror's neighbour lists and density correction, on hand-made vectors and a real
embedded Chroma collection."""

from __future__ import annotations

import numpy as np
import pytest

from index.config import IndexConfig
from index.vectors.chroma import VectorStore
from index.vectors.density import NEIGHBOURS, SAME_STORY, density, update_neighbours
from index.vectors.mirror import DenseMirror


def unit(rows) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def brute_force(matrix: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = np.full((len(matrix), NEIGHBOURS), -np.inf, dtype=np.float32)
    for i in range(len(matrix)):
        sims = [float(matrix[i] @ matrix[j]) for j in range(len(matrix)) if groups[j] != groups[i]]
        sims = sorted((x for x in sims if x < SAME_STORY), reverse=True)[:NEIGHBOURS]
        out[i, : len(sims)] = sims
    return out


def test_neighbours_kept_up_to_date_as_rows_arrive_equal_a_full_computation():
    rng = np.random.default_rng(7)
    matrix = unit(rng.normal(size=(70, 12)))
    groups = np.repeat(np.arange(35), 2)  # two passages per article
    top = np.full((0, NEIGHBOURS), -np.inf, dtype=np.float32)
    for size in (3, 30, 52, 70):  # arrivals in batches, the first too small to fill a list
        grown = np.full((size, NEIGHBOURS), -np.inf, dtype=np.float32)
        grown[: len(top)] = top
        known = np.arange(size) < len(top)
        changed = update_neighbours(matrix[:size], groups[:size], grown, known)
        assert changed[~known].all()  # every new row is written
        top = grown
        np.testing.assert_allclose(top, brute_force(matrix[:size], groups[:size]), atol=1e-6)


def test_a_copy_of_the_same_story_is_not_a_neighbour():
    matrix = unit([[1, 0, 0], [1, 0.05, 0], [0.6, 0.8, 0]])  # a syndicated copy (cosine 0.999), another story
    top = np.full((3, NEIGHBOURS), -np.inf, dtype=np.float32)
    update_neighbours(matrix, np.array([1, 2, 3]), top, np.zeros(3, dtype=bool))
    assert top[0, 0] == pytest.approx(float(matrix[0] @ matrix[2]), abs=1e-6) and np.isinf(top[0, 1:]).all()


def test_a_passage_is_not_crowded_by_its_own_article():
    matrix = unit([[1, 0, 0], [1, 0.01, 0], [1, 0.02, 0], [0, 1, 0]])
    groups = np.array([1, 1, 1, 2])  # one long article repeating itself, and another
    top = np.full((4, NEIGHBOURS), -np.inf, dtype=np.float32)
    update_neighbours(matrix, groups, top, np.zeros(4, dtype=bool))
    assert top[0, 0] == pytest.approx(float(matrix[0] @ matrix[3]), abs=1e-6)  # only the other article
    assert np.isinf(top[0, 1:]).all()
    assert density(top)[0] == pytest.approx(float(matrix[0] @ matrix[3]), abs=1e-6)


def test_density_of_a_row_without_neighbours_is_nan():
    top = np.full((2, NEIGHBOURS), -np.inf, dtype=np.float32)
    top[1, :2] = [0.5, 0.3]
    dens = density(top)
    assert np.isnan(dens[0]) and dens[1] == pytest.approx(0.4)


@pytest.fixture
def store(tmp_path):
    return VectorStore(IndexConfig(collection="mirror-test"), tmp_path / "chroma", "hand-made", 3)


@pytest.fixture
def crowd_store(tmp_path):
    """Six briefs on a recurring topic crowd one region (each 0.8 from the others); p6 a lone
    brief; p7 far from everything."""
    axes = np.eye(9)
    matrix = unit([axes[0] + 0.5 * axes[2 + i] for i in range(6)] + [axes[1], axes[8]])
    store = VectorStore(IndexConfig(collection="mirror-crowd"), tmp_path / "chroma9", "hand-made", 9)
    ids = [f"p{i}" for i in range(len(matrix))]
    store.upsert(ids, matrix, [{"article_id": i} for i in range(len(matrix))])
    return store, matrix, ids


def rows_for(ids, articles):
    return [(pid, article, 0.0, "Outlet") for pid, article in zip(ids, articles, strict=True)]


def test_the_density_penalty_demotes_a_passage_in_a_crowd(crowd_store):
    """The lone brief, slightly less similar to the question than the crowd, beats it once the
    penalty is on, and not without it."""
    store, matrix, ids = crowd_store
    axes = np.eye(9)
    query = unit([0.62 * axes[0] + 0.5 * axes[1]])[0]

    plain = DenseMirror()
    plain.refresh(rows_for(ids, range(len(ids))), store, "1")
    corrected = DenseMirror(density_penalty=0.5, full_strength_at=1)
    updates = corrected.refresh(rows_for(ids, range(len(ids))), store, "1")

    assert plain.search(query, 1, None).ids[0] != "p6"
    best = corrected.search(query, 1, None)
    assert best.ids == ["p6"]
    assert best.cosines[0] == pytest.approx(float(matrix[6] @ query), abs=1e-5)  # the plain cosine is kept
    assert set(updates) == set(ids) and all(len(b) == 4 * NEIGHBOURS for b in updates.values())


def test_stored_neighbours_are_used_instead_of_recomputed(store):
    matrix = unit([[1, 0, 0], [0.7, 0.7, 0], [0, 1, 0]])
    ids = ["a", "b", "c"]
    store.upsert(ids, matrix, [{"article_id": i} for i in range(3)])
    first = DenseMirror(density_penalty=0.3, full_strength_at=1)
    stored = first.refresh(rows_for(ids, range(3)), store, "1")

    # a restart: the stored lists come back with the rows, nothing is computed or written
    again = DenseMirror(density_penalty=0.3, full_strength_at=1)
    assert again.refresh([r + (stored[r[0]],) for r in rows_for(ids, range(3))], store, "1") == {}
    np.testing.assert_array_equal(again.penalty, first.penalty)

    # a new passage: its list is computed and the lists it enters are rewritten, nothing else
    store.upsert(["d"], unit([[0.8, 0, 0.6]]), [{"article_id": 3}])
    rows = [r + (stored[r[0]],) for r in rows_for(ids, range(3))] + [("d", 3, 0.0, "Outlet", None)]
    changed = again.refresh(rows, store, "2")
    assert "d" in changed and set(changed) <= {"a", "b", "c", "d"}
    expected = brute_force(again.matrix, again.article)
    np.testing.assert_allclose(again.neighbours, expected, atol=1e-6)


def test_the_correction_grows_with_the_archive(crowd_store):
    """Eight articles of a thousand: the penalty is 8/1000 of its full strength."""
    store, matrix, ids = crowd_store
    full = DenseMirror(density_penalty=0.5, full_strength_at=1)
    full.refresh(rows_for(ids, range(len(ids))), store, "1")
    small = DenseMirror(density_penalty=0.5, full_strength_at=1000)
    small.refresh(rows_for(ids, range(len(ids))), store, "1")
    assert np.abs(full.penalty).max() > 0.01
    np.testing.assert_allclose(small.penalty, full.penalty * 8 / 1000, atol=1e-7)


def test_without_a_penalty_nothing_is_computed(store):
    matrix = unit([[1, 0, 0], [0, 1, 0]])
    store.upsert(["a", "b"], matrix, [{"article_id": 0}, {"article_id": 1}])
    mirror = DenseMirror()
    assert mirror.refresh(rows_for(["a", "b"], [0, 1]), store, "1") == {}
    hits = mirror.search(unit([[1, 0.2, 0]])[0], 2, None)
    np.testing.assert_array_equal(hits.scores, hits.cosines)
