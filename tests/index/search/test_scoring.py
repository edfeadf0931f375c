"""index.search.scoring on hand-written lists, exact values."""

from __future__ import annotations

import pytest

from index.search.scoring import linear_fusion, max_normalise


def test_max_normalise():
    assert max_normalise({"a": 4.0, "b": 2.0, "c": 0.0, "d": -1.0}) == {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.0}
    assert max_normalise({"a": -3.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
    assert max_normalise({}) == {}
    assert max_normalise({"only": 0.25}) == {"only": 1.0}


def test_linear_fusion():
    fused = linear_fusion([({"a": 1.0, "b": 0.5}, 1.0), ({"b": 1.0, "c": 0.5}, 0.2)])
    assert fused == pytest.approx({"a": 1.0, "b": 0.7, "c": 0.1})
    assert sorted(fused, key=lambda k: -fused[k]) == ["a", "b", "c"]
    assert linear_fusion([]) == {}
    assert linear_fusion([({"a": 2.0}, 0.0)]) == {"a": 0.0}
