"""index.fusion on hand-written lists, exact values."""
from __future__ import annotations

import pytest

from index.fusion import best_per_group, linear_fusion, max_normalise, ranked, reciprocal_rank_fusion


def test_rrf_sums_reciprocal_ranks():
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert scores == pytest.approx({
        "a": 1 / 61,
        "b": 1 / 62 + 1 / 61,
        "c": 1 / 63,
        "d": 1 / 62,
    })
    assert ranked(scores) == ["b", "a", "d", "c"]


def test_rrf_weights_and_k():
    scores = reciprocal_rank_fusion([["x", "y"], ["y", "x"]], k=1, weights=[2.0, 1.0])
    assert scores == pytest.approx({"x": 2 / 2 + 1 / 3, "y": 2 / 3 + 1 / 2})
    assert ranked(scores) == ["x", "y"]


def test_rrf_duplicates_in_one_list_count_once():
    scores = reciprocal_rank_fusion([["a", "a", "b"]], k=0)
    # "b" keeps its position (rank 3): the duplicate still occupies rank 2
    assert scores == pytest.approx({"a": 1.0, "b": 1 / 3})


def test_rrf_empty():
    assert reciprocal_rank_fusion([]) == {}
    assert reciprocal_rank_fusion([[], []]) == {}


def test_max_normalise():
    assert max_normalise({"a": 4.0, "b": 2.0, "c": 0.0, "d": -1.0}) == {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.0}
    assert max_normalise({"a": -3.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
    assert max_normalise({}) == {}
    assert max_normalise({"only": 0.25}) == {"only": 1.0}


def test_linear_fusion():
    fused = linear_fusion([({"a": 1.0, "b": 0.5}, 1.0), ({"b": 1.0, "c": 0.5}, 0.2)])
    assert fused == pytest.approx({"a": 1.0, "b": 0.7, "c": 0.1})
    assert ranked(fused) == ["a", "b", "c"]
    assert linear_fusion([]) == {}
    assert linear_fusion([({"a": 2.0}, 0.0)]) == {"a": 0.0}


def test_best_per_group():
    items = [("s1", "p1", 0.3), ("s1", "p2", 0.9), ("s2", "p3", 0.5), ("s1", "p4", 0.9), ("s2", "p5", 0.1)]
    assert best_per_group(items) == {"s1": ("p2", 0.9), "s2": ("p3", 0.5)}  # ties keep the first
    assert best_per_group([]) == {}


def test_ranked_breaks_ties_by_key():
    assert ranked({"b": 1.0, "a": 1.0, "c": 2.0, "d": 0.0}) == ["c", "a", "b", "d"]
    assert ranked({3: 1.0, 10: 1.0}) == [10, 3]  # by str(key): "10" < "3"
    assert ranked({}) == []
