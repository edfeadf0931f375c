"""Sentence-aware passages sized to the embedding model's window."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "gen",
    "gov",
    "sen",
    "rep",
    "lt",
    "col",
    "capt",
    "sgt",
    "rev",
    "hon",
    "pres",
    "vs",
    "etc",
    "inc",
    "ltd",
    "co",
    "corp",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "no",
    "fig",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
}
# A sentence ends at . ! ? or … plus any closing quotes, brackets and citation markers ("[3]"),
# which stay with it; the next one starts with a capital or a digit (not a citation marker).
_SPLIT = re.compile(r"(?<=[.!?…])((?:[\"”’)\]]|\s*\[\d{1,3}\])*)\s+(?!\[\d)(?=[\"“‘(\[]?[A-Z0-9À-Ý])")

TokenCounter = Callable[[Sequence[str]], list[int]]


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, paragraph breaks respected, common abbreviations kept whole."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        start = 0
        for match in _SPLIT.finditer(paragraph):
            before = paragraph[start : match.start()].rstrip('"”’)]')
            last_word = before.rsplit(" ", 1)[-1].rstrip(".").lower()
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            sentences.append(paragraph[start : match.end(1)].strip())
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return [s for s in sentences if s]


def approximate_tokens(texts: Sequence[str]) -> list[int]:
    """Word-piece estimate when no tokenizer is at hand: about 1.3 tokens a word."""
    return [int(len(t.split()) * 1.3) + 1 for t in texts]


def _split_long(sentence: str, budget: int, count: TokenCounter) -> list[str]:
    words = sentence.split()
    n = count([sentence])[0]
    pieces = max(2, -(-n // budget))
    size = max(1, -(-len(words) // pieces))
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def chunk_text(text: str, budget: int, count: TokenCounter = approximate_tokens, overlap: int = 1) -> list[str]:
    """Greedy packing of whole sentences into chunks of at most ``budget`` tokens.

    ``overlap`` sentences from the end of one chunk start the next. A sentence longer
    than the budget is cut into even word runs.
    """
    sentences = split_sentences(text)
    if not sentences:
        return []
    sizes = count(sentences)
    units: list[tuple[str, int]] = []
    for sentence, size in zip(sentences, sizes, strict=True):
        if size > budget:
            parts = _split_long(sentence, budget, count)
            units += list(zip(parts, count(parts), strict=True))
        else:
            units.append((sentence, size))
    chunks: list[str] = []
    current: list[tuple[str, int]] = []
    total = 0
    for unit in units:
        if current and total + unit[1] > budget:
            chunks.append(" ".join(s for s, _ in current))
            keep = current[-overlap:] if overlap else []
            if sum(n for _, n in keep) + unit[1] > budget:
                keep = []
            current, total = list(keep), sum(n for _, n in keep)
        current.append(unit)
        total += unit[1]
    if current:
        last = " ".join(s for s, _ in current)
        if not chunks or not chunks[-1].endswith(last):
            chunks.append(last)
    return chunks
