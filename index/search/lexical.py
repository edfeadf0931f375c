"""Lexical coverage: how much of a question's vocabulary, weighted by rarity, a passage contains.

BM25 over an OR of the question's words lets a passage win on one rare word repeated; coverage
is the soft AND: the share of the question's information (sum of IDF) that the passage holds.
Words are compared by their Snowball stems (:mod:`index.text.stemming`: "reports"/"reported",
"elected"/"election")."""

from __future__ import annotations

import math
import re

from ..text.stemming import stem, stems
from ..text.words import is_content_word, word_list

__all__ = ["coverage", "idf", "question_words", "stems"]


# "Which country...", "what breed of...", "which of these teams...": the noun is the kind of answer
# wanted; the article that answers names the country instead of saying "country".
_ANSWER_TYPE = re.compile(r"\b(which|what)\s+(?:of\s+(?:the|these|those)\s+)?\w+", re.I)


def question_words(text: str) -> dict[str, str]:
    """The question's content words by stem (stem -> first word seen with it), without the noun
    naming the kind of answer wanted."""
    out: dict[str, str] = {}
    for word in word_list(_ANSWER_TYPE.sub(r"\1", text or "")):
        if is_content_word(word):
            out.setdefault(stem(word), word)
    return out


def idf(document_frequency: int, documents: int) -> float:
    """Never negative: a word in (nearly) every document weighs nothing."""
    return max(0.0, math.log((documents + 1) / (document_frequency + 0.5)))


def coverage(weights: dict[str, float], passage_stems: set[str]) -> float:
    """Share of the question's weight (stem -> IDF) found in the passage, 0..1."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for stem, w in weights.items() if stem in passage_stems) / total
