"""Stories: copies of one story (another outlet's, a syndicated one) folded under the best-ranked."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..models import Hit
from ..vectors.density import SAME_STORY

DAY = 86400.0
STORY_SIMILARITY = SAME_STORY  # near-duplicates (same story, other outlet or syndicated copy)


def group_stories(hits: list[Hit], limit: int, vector_of: Callable[[str], np.ndarray | None]) -> list[Hit]:
    """Fold near-duplicates (same story, other outlet or syndicated copy) under the best-ranked one."""
    kept: list[Hit] = []
    kept_vecs: list[np.ndarray | None] = []
    for hit in hits:
        vec = vector_of(hit.passage.id)
        folded = False
        for other, ovec in zip(kept, kept_vecs, strict=True):
            same_text = hit.article.title and hit.article.title.lower() == other.article.title.lower()
            close = vec is not None and ovec is not None and float(vec @ ovec) >= STORY_SIMILARITY
            near_in_time = abs((hit.article.published_ts or 0) - (other.article.published_ts or 0)) <= 3 * DAY
            if (same_text or close) and near_in_time:
                other.also.append(hit.article)
                folded = True
                break
        if not folded:
            kept.append(hit)
            kept_vecs.append(vec)
            if len(kept) >= limit * 2:
                break
    return kept
