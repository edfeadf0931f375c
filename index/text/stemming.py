"""Stems and lemmas: the one stemmer behind keyword coverage, answer selection and story grouping.

The stem is Snowball English (PyStemmer), the family of the porter tokenizer that FTS5 already
uses for the keyword index: "announced"/"announces" → "announc", "elections" → "elect". A stem
also joins derivations: "affirmative" and "affirming" are both "affirm", which is right for
finding candidates and wrong for telling whether a sentence says what a question asks. So a
second, stricter key, the lemma, keeps the derivational ending: the word's Snowball stem plus
what is left of the word once an inflection (-s, -ed, -ing, ...) is taken off. "agents" and
"agent", "announced" and "announce" share a lemma; "affirmative" (affirm+ativ) and "affirming"
(affirm) do not, nor "election" and "elected".

:func:`match` grades a word against a text's words: exact, lemma, stem or none.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import Stemmer

from .words import content_words

EXACT, LEMMA, STEM, NONE = 3, 2, 1, 0  # how a word is matched, best first

# taken off a word's remainder past its stem; longest first ("ies" before "es" before "s")
_INFLECTIONS = ("ies", "ied", "ing", "es", "ed", "'s", "s", "d", "e", "y")
_local = threading.local()  # a PyStemmer object is not safe to share between threads


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball English stem of a lower-cased word (announced, announces → announc)."""
    return _stemmer().stemWord(word)


def stems(text: str) -> set[str]:
    """Stems of the text's content words."""
    return {stem(w) for w in content_words(text)}


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """The stem with the word's derivational ending kept, its inflection dropped:
    agents → agent, running → run, affirming → affirm, affirmative → affirm+ativ."""
    root = stem(word)
    if word.startswith(root):
        rest = word[len(root) :]
    elif len(word) == len(root) and word[:-1] == root[:-1]:
        rest = ""  # Snowball's y → i (study → studi)
    else:
        return word
    if rest and rest[0] == root[-1:] and (len(rest) == 1 or rest[1:] in _INFLECTIONS):
        rest = ""  # a doubled consonant, before an inflection (running, stopped) or undoubled by the stem (recall)
    for suffix in _INFLECTIONS:
        if rest.endswith(suffix):
            rest = rest[: -len(suffix)]
            break
    return f"{root}+{rest}" if rest else root


def match(word: str, words: set[str], word_stems: set[str] | None = None) -> int:
    """How ``word`` is found among ``words`` (lower-cased): EXACT, LEMMA, STEM or NONE.
    ``word_stems``: the stems of ``words``, when the caller has them already."""
    if word in words:
        return EXACT
    key = stem(word)
    if key not in (word_stems if word_stems is not None else {stem(w) for w in words}):
        return NONE
    wanted = lemma(word)
    return LEMMA if any(lemma(w) == wanted for w in words if stem(w) == key) else STEM
