"""The density (hubness) correction's maths: exact nearest-neighbour similarities between
passages, kept up to date as passages arrive, and each passage's density (mean similarity to
its nearest neighbours). Pure NumPy, no storage."""

from __future__ import annotations

import numpy as np

NEIGHBOURS = 10  # a passage's density: mean cosine to its NEIGHBOURS nearest other passages


DENSITY_FULL_AT = 1000  # articles: below, the density correction is scaled down in proportion


SAME_STORY = 0.90  # closer than this, another passage is a copy of the story (as retrieval.STORY_SIMILARITY)


_NEIGHBOUR_BLOCK = 256  # rows per block of the all-pairs product (256 x 100k floats = 100 MB)


def update_neighbours(matrix: np.ndarray, groups: np.ndarray, top: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Exact nearest-neighbour similarities, kept up to date as rows arrive.

    ``top`` (rows x NEIGHBOURS, best first, -inf where there are too few rows) is filled in place
    for rows not ``known``, and those rows are folded into the known rows' lists. Rows of the same
    group (the passages of one article) are not each other's neighbours, nor are copies of the same
    story (cosine >= SAME_STORY): a long article is not crowded by itself, nor a story by its
    syndicated copies. Returns a mask of the rows whose lists were written or changed. Costs new
    rows x all rows dot products."""
    n, k = len(matrix), top.shape[1]
    changed = ~known
    new_rows = np.flatnonzero(~known)
    old_rows = np.flatnonzero(known)
    for start in range(0, len(new_rows), _NEIGHBOUR_BLOCK):
        block = new_rows[start : start + _NEIGHBOUR_BLOCK]
        sims = matrix[block] @ matrix.T
        sims[groups[block][:, None] == groups[None, :]] = -np.inf  # its own article, itself included
        sims[sims >= SAME_STORY] = -np.inf
        take = min(k, n)
        best = -np.partition(-sims, take - 1, axis=1)[:, :take] if take else np.empty((len(block), 0))
        best = -np.sort(-best, axis=1)
        top[block] = -np.inf
        top[block, : best.shape[1]] = best
        if len(old_rows):
            cand = sims[:, old_rows].T  # old rows x block
            take = min(k, len(block))
            cand = -np.partition(-cand, take - 1, axis=1)[:, :take]
            merged = -np.sort(-np.concatenate([top[old_rows], cand], axis=1), axis=1)[:, :k]
            moved = np.any(merged != top[old_rows], axis=1)
            top[old_rows] = merged
            changed[old_rows[moved]] = True
    return changed


def density(top: np.ndarray) -> np.ndarray:
    """Mean similarity to the nearest neighbours (NaN for a row with none)."""
    finite = np.isfinite(top)
    counts = finite.sum(axis=1)
    sums = np.where(finite, top, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
