"""Standing questions: what an answer says, as (sentence, cited article) pairs, and whether a new
answer changed it.

An answer's text is ``sentence [n] sentence [m] …`` with ``[n]`` numbering its citations in order of
first use. Read as (sentence, article id) pairs the numbers drop out, so the same sentences cited in
another order — renumbered citations — are the same answer. Two answers are the same when they make
the same statements: the sets of normalised sentences (case, spacing, punctuation and markers
ignored) are equal; their order does not matter. The fingerprint is a hash of that set. What a
notice lists as new or superseded also ignores a sentence merely reworded (most content words
shared, the same numbers), so an LLM answer written anew each time does not report its own rewording.

A change is only news when it comes from new coverage: a sentence new to the answer must be taken
from an article archived (and embedded) since the watch's last check, or from one its feed
re-published changed since then. Reshuffles of older
articles' sentences (a retrieval tweak, a reindex, the recency prior moving with the clock) move the
stored answer on silently."""

from __future__ import annotations

import hashlib
import re

from ..models import Answer, Article
from ..text.words import content_words

_CITED = re.compile(r"(.+?)\s*((?:\[\d{1,3}\]\s*)+)(?=\S|$)", re.S)
_MARKER = re.compile(r"\[(\d{1,3})\]")
_MARKER_RUN = re.compile(r"\[\d{1,3}\]\s*")
_NORM = re.compile(r"[^\w]+", re.UNICODE)


def normalise(sentence: str) -> str:
    """A sentence reduced to its words: lower case, no punctuation, no citation markers."""
    return " ".join(_NORM.sub(" ", _MARKER.sub(" ", sentence).lower()).split())


def _through_last_marker(text: str) -> str:
    """The text up to its last citation marker and the spaces after it: past it _CITED's lazy
    ``.+?`` would rescan the rest from every character (quadratic), never to match."""
    end = 0
    for m in _MARKER_RUN.finditer(text):
        end = m.end()
    return text[:end]


def answer_sentences(answer: Answer) -> list[tuple[str, int]]:
    """(sentence, cited article id) in answer order; an abstention has none. A sentence citing
    several sources counts once per source."""
    if answer.abstained or not answer.citations:
        return []
    by_number = {c.n: c.article.id for c in answer.citations}
    out: list[tuple[str, int]] = []
    seen: set[tuple[str, int]] = set()
    for m in _CITED.finditer(_through_last_marker(answer.text or "")):
        text = " ".join(m.group(1).split()).strip()
        for n in _MARKER.findall(m.group(2)):
            article_id = by_number.get(int(n))
            if article_id is None or not normalise(text):
                continue
            key = (normalise(text), article_id)
            if key not in seen:
                seen.add(key)
                out.append((text, article_id))
    return out


def fingerprint(sentences: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> str:
    """The answer's identity: a hash of its set of normalised sentences (order and numbering ignored)."""
    norm = sorted({normalise(s) for s, _ in sentences})
    return hashlib.sha256("\n".join(norm).encode("utf-8")).hexdigest()[:32]


SAME_WORDS = 0.6  # a sentence reworded keeps at least this share of its content words (Jaccard)


def _words(sentence: str) -> tuple[set[str], set[str]]:
    """(content words, numbers) of a sentence."""
    words = content_words(_MARKER.sub(" ", sentence))
    return words, {w for w in words if any(ch.isdigit() for ch in w)}


def same_statement(a: str, b: str) -> bool:
    """The same sentence, or the same statement reworded (an LLM answer is written anew each time):
    most content words shared and exactly the same numbers — "12 dead" is news after "10 dead"."""
    if normalise(a) == normalise(b):
        return True
    (wa, na), (wb, nb) = _words(a), _words(b)
    return bool(wa | wb) and na == nb and len(wa & wb) / len(wa | wb) >= SAME_WORDS


def diff(
    previous: list[tuple[str, int]] | tuple[tuple[str, int], ...],
    current: list[tuple[str, int]],
) -> tuple[list[tuple[str, int]], list[str]]:
    """(sentences of ``current`` that state something ``previous`` did not, sentences of ``previous``
    no longer stated in ``current``); a reworded sentence is neither."""
    new = [(s, a) for s, a in current if not any(same_statement(s, p) for p, _ in previous)]
    gone: list[str] = []
    for s, _ in previous:
        if not any(same_statement(s, c) for c, _ in current) and s not in gone:
            gone.append(s)
    return new, gone


def news_in(
    new: list[tuple[str, int]], seen_article_id: int, updated: set[int] | frozenset[int] = frozenset()
) -> list[tuple[str, int]]:
    """The new sentences that come from coverage archived since the last check (a new article, or
    one the feed re-published changed: ``updated``)."""
    return [(s, a) for s, a in new if a > seen_article_id or a in updated]


def new_sources(new: list[tuple[str, int]], previous: list[tuple[str, int]] | tuple, articles: dict[int, Article]):
    """Articles the new answer cites that the previous one did not, in order of first use."""
    before = {a for _, a in previous}
    out: list[Article] = []
    for _, a in new:
        if a not in before and a in articles and articles[a] not in out:
            out.append(articles[a])
    return out
