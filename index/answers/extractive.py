"""The extractive answerer: offline and deterministic.

It picks the sentences of the retrieved passages that best answer the question (see
:mod:`.selection`: coverage of the question's stems, the kind of answer asked for, the article's
rank and the sentence's place, then diversity) and cites each. Every citation points at an
article in the archive by construction: citations are built from hits, which are built from
archive rows.
"""

from __future__ import annotations

import logging

from ..config import AnswersConfig
from ..models import Answer, SearchResult
from . import hedging, selection
from .citations import abstain, build_answer

log = logging.getLogger(__name__)


class ExtractiveAnswerer:
    def __init__(self, config: AnswersConfig, embedder_loader):
        self.config = config
        self._embedder_loader = embedder_loader

    def _embed(self, texts: list[str]):
        return self._embedder_loader().encode(texts)

    def is_relevant(self, result: SearchResult) -> bool:
        if not result.hits:
            return False
        top = result.hits[0]
        if result.query_vector is not None:
            return (
                top.dense >= self.config.min_relevance
                or top.keyword >= 0.99
                and top.dense >= self.config.min_relevance * 0.7
            )
        return top.keyword > 0  # keyword-only mode: any match

    def answer(self, question: str, result: SearchResult, max_articles: int = 4) -> Answer:
        """Two to five sentences from the best articles, the best first; a how-many question whose
        best sentence holds one new number gets it as a bold line before them."""
        if not self.is_relevant(result):
            return abstain(question, result)
        pool = selection.candidates(question, result.hits, query=result.intent.query, max_articles=max_articles)
        if not pool:
            return abstain(question, result)
        chosen = selection.select(pool, self.config.max_sentences)
        sentences = selection.with_antecedents(chosen)
        answer = build_answer(question, result, sentences)
        hedging.assess(answer, result, sentences, hedging.Thresholds.of(self.config), self._embed)
        line = selection.direct_answer(question, chosen[0].text)
        if line:
            answer.text = f"{line} [1]\n\n{answer.text}"  # the best sentence is cited first: it is [1]
        return answer
