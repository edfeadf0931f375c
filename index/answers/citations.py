"""Citations: numbered in order of first use, built from hits (so every one points at an
archived article), and checked when a model wrote them."""

from __future__ import annotations

import re

from ..models import Answer, Citation, Hit, SearchResult
from ..text.chunking import split_sentences
from ..text.words import content_words

_CITE = re.compile(r"\[(\d{1,3})\]")


_SCAFFOLD = re.compile(r'[{}]|"\w+"\s*:')  # the prompt's JSON framing ({"title": ...}), never an answer's prose
MIN_SHARED_WORDS = 3  # a supported sentence shares at least this many content words with its passage


def build_answer(
    question: str,
    result: SearchResult,
    sentences: list[tuple[str, int]],
    mode: str = "extractive",
    notices: list[str] | None = None,
) -> Answer:
    """Number citations in order of first use; each sentence followed by its [n]."""
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    parts = []
    for text, hit_index in sentences:
        if hit_index not in numbers:
            numbers[hit_index] = len(numbers) + 1
            hit = result.hits[hit_index]
            citations.append(Citation(numbers[hit_index], hit.article, text))
        parts.append(f"{text} [{numbers[hit_index]}]")
    return Answer(
        question, " ".join(parts), citations, False, mode, list(result.notices) + (notices or []), result.hits
    )


def abstain(question: str, result: SearchResult) -> Answer:
    if result.hits:
        text = "I couldn't find coverage in the archive that answers this. The closest articles are listed below."
    else:
        text = "I couldn't find any coverage in the archive that matches this question."
    return Answer(question, text, [], True, "extractive", list(result.notices), result.hits)


def check_citations(reply: str, hits: list[Hit], min_support: float = 0.5) -> list[tuple[str, int]]:
    """Sentences of the reply that cite a real passage which supports them: (sentence, hit index).

    Unknown citation numbers are removed; a sentence is kept only when enough of its
    content words appear in a passage it cites, and never when it carries the prompt's JSON
    framing (a model echoing its prompt, as a base model does, would otherwise pass).
    """
    if reply.strip().upper().startswith("NO ANSWER"):
        return []
    kept = []
    for sentence in split_sentences(reply):
        numbers = [int(n) for n in _CITE.findall(sentence)]
        valid = [n for n in numbers if 1 <= n <= len(hits)]
        text = _CITE.sub("", sentence).strip()
        text = re.sub(r"(?<!\s)\s+([.,;:!?])", r"\1", text)  # from a run's start only: linear
        if not valid or not text or _SCAFFOLD.search(text):
            continue  # a model that echoes its prompt copies passages with their [n]: not an answer
        words = content_words(text)
        supported = None
        for n in dict.fromkeys(valid):
            passage_words = content_words(
                " ".join([hits[n - 1].article.title] + [p.text for p in hits[n - 1].passages])
            )
            shared = len(words & passage_words)
            if words and shared >= MIN_SHARED_WORDS and shared / len(words) >= min_support:
                supported = n
                break
        if supported is not None:
            kept.append((text, supported - 1))
    return kept
