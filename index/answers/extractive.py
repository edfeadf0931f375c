"""The extractive answerer: offline and deterministic.

It picks the sentences of the retrieved passages that best answer the question
(relevance plus diversity) and cites each. Every citation points at an article in the
archive by construction: citations are built from hits, which are built from archive rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import AnswersConfig
from ..models import Answer, SearchResult
from ..text.chunking import split_sentences
from ..text.words import WORD, content_words
from .citations import abstain, build_answer

log = logging.getLogger(__name__)


def _overlap(question_words: set[str], sentence: str) -> float:
    if not question_words:
        return 0.0
    return len(question_words & content_words(sentence)) / len(question_words)


@dataclass
class _Candidate:
    text: str
    hit_index: int
    score: float
    words: set[str]


class ExtractiveAnswerer:
    def __init__(self, config: AnswersConfig, embedder_loader):
        self.config = config
        self._embedder_loader = embedder_loader

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
        """Two to five sentences from the best articles: relevance (words shared with the
        question, the article's rank, the sentence's place) plus diversity (MMR)."""
        if not self.is_relevant(result):
            return abstain(question, result)
        qwords = content_words(result.intent.query or question)
        candidates: list[_Candidate] = []
        top_score = result.hits[0].score or 1.0
        for index, hit in enumerate(result.hits[:max_articles]):
            if index and hit.score < 0.6 * top_score:
                break
            seen = set()
            for passage in hit.passages[:2] if index == 0 else hit.passages[:1]:
                for position, sentence in enumerate(split_sentences(passage.text)):
                    if sentence in seen or len(sentence) < 20 or len(WORD.findall(sentence)) < 4:
                        continue
                    seen.add(sentence)
                    rank_prior = 1.0 if index == 0 else 0.2 / index
                    place_prior = 0.15 / (1 + position) if passage.seq == 0 else 0.0
                    score = _overlap(qwords, sentence) + rank_prior + place_prior
                    candidates.append(_Candidate(sentence, index, score, content_words(sentence)))
        if not candidates:
            return abstain(question, result)
        chosen = self._select(candidates)
        return build_answer(question, result, [(c.text, c.hit_index) for c in chosen])

    def _select(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """MMR: relevance minus redundancy with what is already chosen; two to max_sentences."""
        chosen: list[_Candidate] = []
        pool = sorted(candidates, key=lambda c: -c.score)
        best = pool[0].score

        def mmr(c: _Candidate) -> float:
            if not chosen:
                return c.score
            redundancy = max(_jaccard(c.words, o.words) for o in chosen)
            return c.score - 0.5 * redundancy

        while pool and len(chosen) < self.config.max_sentences:
            pick = max(pool, key=mmr)
            if len(chosen) >= 2 and pick.score < 0.85 * best:
                break
            chosen.append(pick)
            pool.remove(pick)
        return chosen


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0
