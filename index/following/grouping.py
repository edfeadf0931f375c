"""Stories across outlets: articles of one period grouped when they report the same event.

:mod:`index.search.stories` folds near-copies (cosine >= 0.9, or the same title) under a search
hit. Different outlets rarely write that close, so here two articles are also the same story when
their headline and opening share enough rare words (IDF-weighted overlap of Snowball stems, the
IDF taken over the articles being grouped), helped by a fair cosine when vectors are there.
Grouping is greedy, oldest first, and an article joins a story only when it matches at least
half of the story's articles, so a run of related stories does not chain into one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..models import Article
from ..search.stories import DAY, STORY_SIMILARITY
from ..text.chunking import split_sentences
from ..text.stemming import stem
from ..text.words import content_words

STORY_DAYS = 3.0  # articles further apart than this (from every member) are different stories
LEXICAL_STRONG = 0.5  # shared rare vocabulary alone makes the same story
LEXICAL_WEAK = 0.3  # ... or this much together with a fair cosine
COSINE_FAIR = 0.6
BACKGROUND = 50  # the fewest articles the IDF weights assume
COMMON_SHARE = 0.5  # stems in more than this share of the batch are not used to find candidates


def lead_text(article: Article) -> str:
    """Headline and the first two sentences: what tells a story apart."""
    body = " ".join(split_sentences(article.text or article.summary or "")[:2])
    return f"{article.title} {body}"


def _stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text) if not w.isdigit()}


@dataclass
class _Batch:
    articles: list[Article]
    stems: list[set[str]]
    weights: dict[str, float]
    vectors: np.ndarray | None  # rows normalised; a zero row when an article has no vector
    titles: list[str]
    similar: dict[tuple[int, int], float] = field(default_factory=dict)

    def lexical(self, i: int, j: int) -> float:
        a, b = self.stems[i], self.stems[j]
        if not a or not b:
            return 0.0
        shared = sum(self.weights[s] for s in a & b)
        smaller = min(sum(self.weights[s] for s in a), sum(self.weights[s] for s in b))
        return shared / smaller if smaller > 0 else 0.0

    def cosine(self, i: int, j: int) -> float:
        if self.vectors is None:
            return 0.0
        return float(self.vectors[i] @ self.vectors[j])

    def same(self, i: int, j: int) -> bool:
        key = (min(i, j), max(i, j))
        if key not in self.similar:
            self.similar[key] = self._score(i, j)
        return self.similar[key] > 0

    def _score(self, i: int, j: int) -> float:
        a, b = self.articles[i], self.articles[j]
        if abs((a.published_ts or 0) - (b.published_ts or 0)) > STORY_DAYS * DAY:
            return 0.0
        if self.titles[i] and self.titles[i] == self.titles[j]:
            return 1.0
        cos = self.cosine(i, j)
        if cos >= STORY_SIMILARITY:
            return 1.0
        lex = self.lexical(i, j)
        if lex >= LEXICAL_STRONG or (lex >= LEXICAL_WEAK and cos >= COSINE_FAIR):
            return lex
        return 0.0


def group_articles(
    articles: list[Article], vector_of: Callable[[int], np.ndarray | None] = lambda _id: None
) -> list[list[Article]]:
    """The articles as stories (each a list, oldest first); stories in the order they began."""
    articles = sorted(articles, key=lambda a: (a.published_ts or 0, a.id))
    if not articles:
        return []
    batch = _batch(articles, vector_of)
    # candidates: articles sharing a stem that is not in most of the batch (or a near-copy vector)
    postings: dict[str, list[int]] = defaultdict(list)
    for i, stems in enumerate(batch.stems):
        for s in stems:
            postings[s].append(i)
    limit = max(2, int(COMMON_SHARE * len(articles)))
    neighbours: dict[int, set[int]] = defaultdict(set)
    for ids in postings.values():
        if len(ids) > limit:
            continue
        for x in ids:
            neighbours[x].update(ids)
    by_title: dict[str, list[int]] = defaultdict(list)
    for i, title in enumerate(batch.titles):
        if title:
            by_title[title].append(i)
    for ids in by_title.values():
        for x in ids:
            neighbours[x].update(ids)
    if batch.vectors is not None and len(articles) > 1:
        sims = batch.vectors @ batch.vectors.T
        for x, y in zip(*np.nonzero(sims >= STORY_SIMILARITY), strict=True):
            neighbours[int(x)].add(int(y))
    groups: list[list[int]] = []
    group_of: dict[int, int] = {}
    for i in range(len(articles)):
        votes: dict[int, int] = defaultdict(int)
        for j in neighbours[i]:
            if j < i and j in group_of and batch.same(i, j):
                votes[group_of[j]] += 1
        best = None
        for g, n in votes.items():
            if 2 * n >= len(groups[g]) and (best is None or (n, -g) > (votes[best], -best)):
                best = g
        if best is None:
            group_of[i] = len(groups)
            groups.append([i])
        else:
            group_of[i] = best
            groups[best].append(i)
    return [[articles[i] for i in g] for g in groups]


def _batch(articles: list[Article], vector_of: Callable[[int], np.ndarray | None]) -> _Batch:
    stems = [_stems(lead_text(a)) for a in articles]
    df: dict[str, int] = defaultdict(int)
    for s in stems:
        for w in s:
            df[w] += 1
    n = len(articles)
    # as if among at least BACKGROUND articles: in a small batch a story's own words are most of
    # the batch, and would weigh nothing just because several outlets used them
    documents = max(n, BACKGROUND)
    weights = {w: math.log((documents + 1) / (d + 0.5)) + 0.1 for w, d in df.items()}
    vectors = None
    found = [vector_of(a.id) for a in articles]
    dims = {len(v) for v in found if v is not None}
    if len(dims) == 1:
        dim = dims.pop()
        vectors = np.zeros((n, dim), dtype=np.float32)
        for i, v in enumerate(found):
            if v is not None:
                norm = float(np.linalg.norm(v))
                vectors[i] = v / norm if norm else v
    titles = [" ".join(a.title.lower().split()) for a in articles]
    return _Batch(articles, stems, weights, vectors, titles)


def headline_of(story: list[Article]) -> Article:
    """The article most like the others (the story's centre); the earliest among equals."""
    if len(story) <= 2:
        return story[0]
    stems = [_stems(lead_text(a)) for a in story]

    def centrality(i: int) -> float:
        return sum(len(stems[i] & stems[j]) / (len(stems[i] | stems[j]) or 1) for j in range(len(story)) if j != i)

    best = max(range(len(story)), key=lambda i: (centrality(i), -i))
    return story[best]
