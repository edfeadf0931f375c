"""Sentence selection: which sentences of the retrieved articles answer a question, best first.

One place for the rules, used by the extractive answer, the passages given to the LLM and the
``{summary}`` of posted articles. A sentence scores by

- the question's content words it covers, matched on their stems ("announced" answers "announce");
- whether it holds the kind of answer asked for (how many → a number, when → a date, where → a
  place, who → a name) that the question does not already name;
- the article's rank and the sentence's place in it (a news lead usually says what happened).

The top article's lead is always a candidate, also when retrieval matched a later passage. A
chosen sentence that opens with a pronoun ("He said…") brings its predecessor along. When the
question asks how many/how much and the best sentence holds exactly one new number, that number
and the words it counts lead the answer as a bold line; for other kinds no line is written,
because on the dev questions such lines were wrong too often (see docs/retrieval-and-answers.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import Hit
from ..text.chunking import split_sentences
from ..text.words import WORD, content_words, is_content_word, word_list

_SUFFIXES: tuple[str, ...] = ("ements", "ement", "ments", "ment", "ations", "ation", "ings", "ing", "edly", "ies")
_SUFFIXES += ("ied", "ed", "es", "ly", "s", "e")
MIN_STEM = 3

KIND_BONUS = 0.15  # a sentence holding the kind of answer asked for (a round guess, not fitted)
RANK_FIRST, RANK_OTHERS = 1.0, 0.2  # prior of the top article, and of the n-th one (divided by n)
PLACE_PRIOR = 0.15  # lead sentences of an article: PLACE_PRIOR / (1 + position)
LEAD_SENTENCES = 3  # the top article's first sentences are always candidates
REDUNDANCY = 0.5  # MMR: relevance minus this times the word overlap with a chosen sentence
KEEP_RATIO = 0.85  # past two sentences, add one only while it scores this close to the best
MIN_CHARS, MIN_WORDS = 20, 4  # shorter fragments are never answers
LEAD_WEIGHT = 0.5  # a summary's lead prior: a later sentence must cover a quarter more of the title to win

PRONOUN_START = re.compile(r"^(?:He|She|It|They|This|That|These|Those|His|Her|Its|Their)\b")
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty hundred hundreds "
    "thousand thousands million millions billion billions trillion dozen dozens half percent"
).split()
_MONTHS = "january february march april may june july august september october november december".split()
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_NUMBER = re.compile(r"(?<![\w$])(?:[$£€])?\d[\d,.]*(?:%| percent)?|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.I)
# "\s+(?:of|…)?\s*" would split every run of spaces two ways (quadratic); a space run is one \s+ here
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:of|de|the|and|&)\s*)?[A-Z][\w'’.-]*)*")
_DATE = re.compile(r"\b(?:" + "|".join(_MONTHS + _WEEKDAYS) + r")\b|\b(?:19|20)\d\d\b", re.I)
_PLACES = "country|city|state|nation|region|town|island|continent|province"
_KINDS = [
    (
        "number",
        re.compile(
            r"\bhow (many|much|old|long|far|big|large|tall|fast)\b"
            r"|\bwhat (percentage|percent|share|number|fraction|amount|proportion)\b"
        ),
    ),
    ("date", re.compile(r"\bwhen\b|\b(what|which) (year|day|date|month)\b")),
    ("place", re.compile(rf"\bwhere\b|\b(what|which) ({_PLACES})\b")),
    (
        "name",
        re.compile(
            r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (company|person|man|woman|leader|team|group|organi[sz]ation"
            r"|politician|president|senator|actor|actress|singer|player|official|firm|network|party|brand)\b"
        ),
    ),
]
# words that end the phrase a number counts ("700 federal immigration agents | will be withdrawn")
_PHRASE_STOP = frozenset(
    "will would was were is are have has had that who which in on at from by to and for of".split()
)
MAX_COUNTED_WORDS = 3


def stem(word: str) -> str:
    """A light suffix-stripping stem of a lower-cased word (announced, announces → announc)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[: -len(suffix)]
    return word


def stems(text: str) -> set[str]:
    """Stems of the text's content words."""
    return {stem(w) for w in content_words(text)}


def answer_kind(question: str) -> str | None:
    """The kind of answer the question asks for: number, date, place, name, or None."""
    lowered = question.lower()
    return next((kind for kind, pattern in _KINDS if pattern.search(lowered)), None)


def answer_spans(sentence: str, kind: str | None, question_stems: set[str]) -> list[re.Match]:
    """Spans of the sentence of the kind asked for that the question does not already name."""
    if kind == "number":
        spans = list(_NUMBER.finditer(sentence))
    elif kind == "date":
        spans = list(_DATE.finditer(sentence))
    elif kind in ("name", "place"):
        spans = [m for m in _NAME.finditer(sentence) if m.start() > 0]  # a sentence's first word is capitalised anyway
    else:
        return []
    found = []
    for match in spans:
        words = [w for w in word_list(match.group(0)) if is_content_word(w)] or word_list(match.group(0))
        if words and not {stem(w) for w in words} & question_stems:
            found.append(match)
    return found


@dataclass
class Candidate:
    text: str
    hit_index: int
    score: float
    words: set[str]
    previous: str | None  # the sentence before it in its passage


def is_sentence(text: str) -> bool:
    return len(text) >= MIN_CHARS and len(WORD.findall(text)) >= MIN_WORDS


def candidates(question: str, hits: list[Hit], query: str | None = None, max_articles: int = 4) -> list[Candidate]:
    """Every sentence of the best articles' matching passages (and the top article's lead), scored.
    ``query``: the question's words that are about the subject (its dates removed), when known."""
    question_stems = stems(query or question)
    kind = answer_kind(question)
    out: list[Candidate] = []
    top_score = hits[0].score or 1.0 if hits else 1.0
    for index, hit in enumerate(hits[:max_articles]):
        if index and hit.score < 0.6 * top_score:
            break
        sources = [(p.seq, split_sentences(p.text)) for p in (hit.passages[:2] if index == 0 else hit.passages[:1])]
        if index == 0 and not any(seq == 0 for seq, _ in sources) and hit.article.text:
            sources.append((0, split_sentences(hit.article.text)[:LEAD_SENTENCES]))
        seen: set[str] = set()
        for seq, sentences in sources:
            for position, sentence in enumerate(sentences):
                if sentence in seen or not is_sentence(sentence):
                    continue
                seen.add(sentence)
                words = content_words(sentence)
                covered = (
                    len(question_stems & {stem(w) for w in words}) / len(question_stems) if question_stems else 0.0
                )
                score = covered + (RANK_FIRST if index == 0 else RANK_OTHERS / index)
                score += PLACE_PRIOR / (1 + position) if seq == 0 else 0.0
                if kind and answer_spans(sentence, kind, question_stems):
                    score += KIND_BONUS
                previous = sentences[position - 1] if position else None
                out.append(Candidate(sentence, index, score, words, previous))
    return out


def select(pool: list[Candidate], max_sentences: int) -> list[Candidate]:
    """MMR: relevance minus redundancy with what is already chosen; two to ``max_sentences``."""
    chosen: list[Candidate] = []
    pool = sorted(pool, key=lambda c: -c.score)
    if not pool:
        return chosen
    best = pool[0].score

    def mmr(c: Candidate) -> float:
        if not chosen:
            return c.score
        return c.score - REDUNDANCY * max(_jaccard(c.words, o.words) for o in chosen)

    while pool and len(chosen) < max_sentences:
        pick = max(pool, key=mmr)
        if len(chosen) >= 2 and pick.score < KEEP_RATIO * best:
            break
        chosen.append(pick)
        pool.remove(pick)
    return chosen


def with_antecedents(chosen: list[Candidate]) -> list[tuple[str, int]]:
    """(sentence, hit index) in answer order; a sentence opening with a pronoun brings the one before it."""
    used = {c.text for c in chosen}
    out = []
    for c in chosen:
        if c.previous and PRONOUN_START.match(c.text) and c.previous not in used and is_sentence(c.previous):
            out.append((c.previous, c.hit_index))
            used.add(c.previous)
        out.append((c.text, c.hit_index))
    return out


def direct_answer(question: str, sentence: str) -> str | None:
    """The short bold line that answers a how-many question from its best sentence ("**700** federal
    immigration agents"), or None when the question asks for something else or the sentence holds
    no single new number."""
    if answer_kind(question) != "number":
        return None
    spans = answer_spans(sentence, "number", stems(question))
    if len(spans) != 1:
        return None
    match = spans[0]
    counted = []
    for word in re.findall(r"[\w’'-]+|[^\w\s]", sentence[match.end() :])[:6]:
        if not re.fullmatch(r"[\w’'-]+", word) or word.lower() in _PHRASE_STOP:
            break
        counted.append(word)
        if len(counted) >= MAX_COUNTED_WORDS:
            break
    return f"**{match.group(0).strip()}** {' '.join(counted)}".strip()


def best_sentences(query: str, text: str, limit: int = 2, max_chars: int = 400) -> list[str]:
    """The ``limit`` best sentences of one text for a query (a post's title), in the text's order,
    within ``max_chars`` together: the lead wins unless a later sentence says much more of the query."""
    sentences = [s for s in split_sentences(text) if is_sentence(s)][: LEAD_SENTENCES + 2] or split_sentences(text)[:1]
    sentences = [s for i, s in enumerate(sentences) if not _cut_copy(s, sentences[i + 1 :])]
    query_stems = stems(query)
    scored = []
    for position, sentence in enumerate(sentences):
        covered = len(query_stems & stems(sentence)) / len(query_stems) if query_stems else 0.0
        scored.append((covered + LEAD_WEIGHT / (1 + position), position, sentence))
    picked: list[tuple[int, str]] = []
    used = 0
    for _, position, sentence in sorted(scored, key=lambda s: (-s[0], s[1])):
        if len(picked) >= limit:
            break
        if picked and used + 1 + len(sentence) > max_chars:
            continue
        picked.append((position, sentence))
        used += len(sentence) + (1 if used else 0)
    return [s for _, s in sorted(picked)]


def _cut_copy(sentence: str, later: list[str]) -> bool:
    """A sentence cut short with an ellipsis that a later one repeats in full (a feed's teaser line)."""
    stripped = sentence.rstrip()
    if not stripped.endswith(("…", "...")):
        return False
    head = stripped.rstrip(".… ")
    return bool(head) and any(other.startswith(head) and len(other) > len(head) for other in later)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def ranked_text(question: str, hit: Hit, max_chars: int) -> str:
    """One article's sentences for a language model, the best for the question first (its lead
    included), within ``max_chars``: the model reads the answer before the padding."""
    pool = sorted(candidates(question, [hit]), key=lambda c: -c.score)
    out: list[str] = []
    used = 0
    for c in pool:
        if out and used + 1 + len(c.text) > max_chars:
            continue
        used += len(c.text) + (1 if out else 0)
        out.append(c.text)
    return " ".join(out)
