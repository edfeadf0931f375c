"""Pure rank- and score-fusion functions (tested on hand-written lists)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def max_normalise(scores: Mapping[K, float]) -> dict[K, float]:
    """Scale positive scores into [0, 1] by the largest one (0 stays 0; negatives become 0)."""
    top = max((s for s in scores.values()), default=0.0)
    if top <= 0:
        return {k: 0.0 for k in scores}
    return {k: max(0.0, s) / top for k, s in scores.items()}


def linear_fusion(components: Sequence[tuple[Mapping[K, float], float]]) -> dict[K, float]:
    """Weighted sum of score maps; a key missing from a map contributes 0 there."""
    out: dict[K, float] = {}
    for scores, weight in components:
        for key, value in scores.items():
            out[key] = out.get(key, 0.0) + weight * value
    return out
