"""Words: the one tokenizer and stopword list behind keyword search, lexical coverage and
answer selection."""

from __future__ import annotations

import re

WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being this that these
    those it its into about over after before than then so such what which who whom whose when where why how
    do does did has have had not no nor can could would should will shall may might must i you he she we they
    me him her us them my your his our their there here also just only very more most some any all each
    both few other same own s t week recently new according""".split()
)


def word_list(text: str) -> list[str]:
    """Every word of the text, lower-cased, in order."""
    return [w.lower() for w in WORD.findall(text or "")]


def is_content_word(word: str) -> bool:
    """A lower-cased word that carries meaning: not a stopword, not a single character."""
    return word not in STOPWORDS and len(word) > 1


def content_words(text: str) -> set[str]:
    """The text's content words, lower-cased."""
    return {w for w in word_list(text) if is_content_word(w)}
