"""Pure rank- and score-fusion functions (tested on hand-written lists)."""
from __future__ import annotations

from typing import Hashable, Iterable, Mapping, Sequence


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hashable]], k: float = 60.0,
                           weights: Sequence[float] | None = None) -> dict[Hashable, float]:
    """RRF: sum over rankings of weight / (k + rank), rank starting at 1. Duplicates within a list count once."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[Hashable, float] = {}
    for ranking, weight in zip(rankings, weights):
        seen = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores


def max_normalise(scores: Mapping[Hashable, float]) -> dict[Hashable, float]:
    """Scale positive scores into [0, 1] by the largest one (0 stays 0; negatives become 0)."""
    top = max((s for s in scores.values()), default=0.0)
    if top <= 0:
        return {k: 0.0 for k in scores}
    return {k: max(0.0, s) / top for k, s in scores.items()}


def linear_fusion(components: Sequence[tuple[Mapping[Hashable, float], float]]) -> dict[Hashable, float]:
    """Weighted sum of score maps; a key missing from a map contributes 0 there."""
    out: dict[Hashable, float] = {}
    for scores, weight in components:
        for key, value in scores.items():
            out[key] = out.get(key, 0.0) + weight * value
    return out


def best_per_group(items: Iterable[tuple[Hashable, Hashable, float]]) -> dict[Hashable, tuple[Hashable, float]]:
    """Collapse (group, item, score) triples to each group's best (item, score)."""
    best: dict[Hashable, tuple[Hashable, float]] = {}
    for group, item, score in items:
        if group not in best or score > best[group][1]:
            best[group] = (item, score)
    return best


def ranked(scores: Mapping[Hashable, float]) -> list[Hashable]:
    """Keys by descending score, ties broken by key for determinism."""
    return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], str(kv[0])))]
