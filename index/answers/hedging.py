"""Hedging: whether the sentences an answer chose answer the question, or are only related coverage.

Abstaining is for nothing relevant at all. Between that and a plain answer lies coverage that is
about the same things but does not say what was asked: "What did the Supreme Court decide about
affirmative action?" answered with a sentence on gender-affirming care. The evidence is what the
answer already has:

- how much of the question's distinctive content the chosen sentences (and their articles'
  titles) hold, each question word weighted by its rarity in the archive (IDF) and counted in
  full only when matched exactly or by lemma: a word matched by its stem alone ("affirmative" by
  "affirming") counts STEM_CREDIT;
- whether the question's rarest word and its names (capitalised words) are among them;
- whether the kind of answer asked for (a number for how many, a date for when...) is there;
- the relevance of the top article (its cosine) and whether keyword search agrees it is the best;
- whether the first cited article is from the time the question asks about: the period it names
  ("in March 2024", "on Monday": not from before it, nor from long after it; news of a day
  appears in the days after it), or the last days when it asks what happened "recently";
- the cosine between the question and the chosen sentences, by the embedder of the search (off by
  default: on the dev questions it declines no more than the top article's cosine does);
- for a question that speaks of the present ("is", "has", "will", "recently"...) and names no
  period: how much older the newest cited article is than the newest coverage in the archive at the
  as-of moment. A news question about now answered from coverage months older than the archive's
  latest says so, with the date ("I found no recent coverage that answers this; the closest is from
  18 November 2022:"): the archive kept up with the news, and none of the newer news is on this.

:func:`decide` turns that into hedged or not with thresholds fitted on the dev questions with
their gold articles removed (see README, "Answers that say how well they answer").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from ..config import AnswersConfig
from ..models import HEDGE_OPENING, Answer, Hit, SearchResult, TimeIntent
from ..search.lexical import question_words
from ..text.stemming import LEMMA, STEM, match, stem
from ..text.words import STOPWORDS, content_words, word_list
from .selection import answer_kind, answer_spans

STEM_CREDIT = 0.25  # a word found only by its stem is weak evidence the sentence says what was asked

OPENING = HEDGE_OPENING

DAY = 86400.0
PERIOD_SLACK = DAY  # an article dated the day before or after a named period still counts (time zones, late briefs)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
# the words that ask for a quantity are the question's form, not its content ("how much ice")
_QUANTITY = re.compile(r"\bhow (?:many|much|old|long|far|big|large|tall|fast)\b", re.I)
# words that put a question in the present, the near future or the last few days: "has lost a
# bid", "is slated", "will broadcast", "are suing", "made landfall Wednesday". A question without
# them ("What did...", "were withdrawn") may ask about any time, and old coverage answers it as well
# as new. Not "do"/"does": "What did they do?" is in the past.
NOW_WORDS = frozenset(
    "is are am isn't aren't has have hasn't haven't will won't who's what's where's it's that's there's "
    "now currently recently latest soon upcoming expected slated still being yesterday today tonight "
    "weekend monday tuesday wednesday thursday friday saturday sunday".split()
)
_APOSTROPHE_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?")


@dataclass(frozen=True)
class Evidence:
    coverage: float  # share of the question's IDF weight held (exact/lemma in full, stem-only at STEM_CREDIT)
    stem_only: float  # share of the weight matched by stem alone
    rarest_held: bool  # the question's rarest word is matched exactly or by lemma
    rarest_stem_only: bool  # ... or only by its stem ("affirmative" by "affirming"): said of something else
    names_held: float  # share of the question's names (capitalised words past its first) matched
    kind_held: bool | None  # the kind of answer asked for is there (None: no kind asked)
    dense: float  # cosine of the top article
    keyword: float  # the top article's keyword score, normalised (1.0: keyword search's best too)
    terms: int  # the question's content words
    outside_period: bool = False  # the question names a period and the first cited article is not from it
    recent_age_days: float | None = None  # "recently": the first cited article's age at the as-of moment
    sentence_dense: float | None = None  # best cosine of the question with one chosen sentence (None: not embedded)
    sentence_dense_mean: float | None = None  # their mean
    margin: float = 0.0  # the top article's cosine over the next article's
    period_after_days: float | None = None  # days the first cited article is past the named period's end (<= 0: not)
    period_before_days: float | None = None  # days it is before the period's start (<= 0: not)
    speaks_of_now: bool = False  # the question is in the present or near future (NOW_WORDS)
    stale_days: float | None = None  # days the newest cited article is behind the archive's newest (no period named)


@dataclass(frozen=True)
class Thresholds:
    """An answer is hedged when any of these fails."""

    min_coverage: float = 0.0
    min_names: float = 0.0
    min_dense: float = 0.30
    min_dense_when_keyword_disagrees: float = 0.30
    max_recent_age_days: float = 3.0
    min_sentence_dense: float = 0.0  # 0: off (the question-sentence cosine is then not computed)
    max_days_after_period: float = 7.0
    max_stale_days: float = 0.0  # 0: off

    @classmethod
    def of(cls, config: AnswersConfig) -> Thresholds:
        return cls(
            config.hedge_min_coverage,
            config.hedge_min_names,
            config.hedge_min_dense,
            config.hedge_min_dense_when_keyword_disagrees,
            config.hedge_max_recent_age_days,
            config.hedge_min_sentence_dense,
            config.hedge_max_days_after_period,
            config.hedge_max_stale_days,
        )


def question_names(question: str) -> set[str]:
    """The question's names, lower-cased: capitalised words past its first word that are not
    stopwords ("What did the Supreme Court decide" → supreme, court)."""
    found = set()
    for m in _CAPITALISED.finditer(question or ""):
        word = m.group(0).lower()
        if m.start() > 0 and word not in STOPWORDS and len(word) > 1:
            found.add(word)
    return found


def graded_coverage(weights: dict[str, float], terms: dict[str, str], words: set[str]) -> tuple[float, float]:
    """(coverage, stem-only share) of the question ``terms`` (stem -> word) in ``words``,
    each term weighted by ``weights`` (stem -> IDF; 1.0 when unknown)."""
    word_stems = {stem(w) for w in words}
    total = held = stem_only = 0.0
    for key, word in terms.items():
        weight = weights.get(key, 1.0)
        total += weight
        grade = match(word, words, word_stems)
        if grade >= LEMMA:
            held += weight
        elif grade == STEM:
            held += STEM_CREDIT * weight
            stem_only += weight
    if total <= 0:
        return 1.0, 0.0
    return held / total, stem_only / total


def speaks_of_now(question: str) -> bool:
    """Whether the question is put in the present or the near future (one of NOW_WORDS)."""
    return any(w.replace("’", "'") in NOW_WORDS for w in _APOSTROPHE_WORD.findall((question or "").lower()))


def stale_days(intent: TimeIntent | None, newest_ts: float | None, cited_ts: list[float | None]) -> float | None:
    """Days the newest of the cited articles is older than the archive's newest coverage
    (``newest_ts``); None when the question names a period or the asker chose one (the period rules
    judge that), or a date is unknown."""
    known = [ts for ts in cited_ts if ts is not None]
    if newest_ts is None or not known or names_a_period(intent):
        return None
    return round(max(0.0, newest_ts - max(known)) / DAY, 2)


def names_a_period(intent: TimeIntent | None) -> bool:
    """The question names a period or a year ("in 2004"), or the asker chose one (``--since``)."""
    return intent is not None and bool(intent.window or intent.since or intent.years)


def wants_front(question: str, intent: TimeIntent | None, thresholds: Thresholds) -> bool:
    """Whether the stale rule can apply, so the archive's front is worth reading."""
    return thresholds.max_stale_days > 0 and not names_a_period(intent) and speaks_of_now(question)


def period_evidence(intent: TimeIntent | None, published_ts: float | None) -> tuple[bool, float | None]:
    """(outside the period the question names, age in days when it asks what happened recently)."""
    if intent is None or published_ts is None:
        return False, None
    if intent.window is not None:
        start, end = intent.window[0].timestamp() - PERIOD_SLACK, intent.window[1].timestamp() + PERIOD_SLACK
        return not start <= published_ts <= end, None
    if intent.prefer_recent:
        return False, round((intent.as_of.timestamp() - published_ts) / DAY, 2)
    return False, None


def period_distance(intent: TimeIntent | None, published_ts: float | None) -> tuple[float | None, float | None]:
    """(days after the named period's end, days before its start) of ``published_ts``; None without a period."""
    if intent is None or published_ts is None or intent.window is None:
        return None, None
    start, end = intent.window[0].timestamp(), intent.window[1].timestamp()
    return round((published_ts - end) / DAY, 2), round((start - published_ts) / DAY, 2)


def gather(
    question: str,
    query: str,
    weights: dict[str, float],
    sentences: list[str],
    hits: list[Hit],
    cited: list[int],
    intent: TimeIntent | None = None,
    sentence_cosines: list[float] | None = None,
    newest_ts: float | None = None,
) -> Evidence:
    """The evidence for one answer: its ``sentences``, the ``cited`` hits' titles, the top hit,
    the first cited article's date against the time the question asks about (``intent``)."""
    text = " ".join(sentences + [hits[i].article.title for i in cited])
    words = content_words(text)
    terms = question_words(_QUANTITY.sub("how", query or question))
    coverage, stem_only = graded_coverage(weights, terms, words)
    top_weight = max((weights.get(key, 1.0) for key in terms), default=0.0)
    rarest = [match(word, words) for key, word in terms.items() if weights.get(key, 1.0) == top_weight]
    rarest_held = all(grade >= LEMMA for grade in rarest)  # the rarest word (all of them, when tied)
    names = question_names(query or question)
    all_words = set(word_list(text))
    names_held = sum(match(n, all_words) >= LEMMA for n in names) / len(names) if names else 1.0
    kind = answer_kind(question)
    kind_held = None
    if kind is not None:
        question_stems = {stem(w) for w in content_words(query or question)}
        kind_held = any(answer_spans(s, kind, question_stems) for s in sentences)
    top = hits[0] if hits else None
    first = hits[cited[0]].article if cited else None
    outside, age = period_evidence(intent, first.published_ts if first else None)
    after, before = period_distance(intent, first.published_ts if first else None)
    return Evidence(
        coverage=round(coverage, 4),
        stem_only=round(stem_only, 4),
        rarest_held=rarest_held,
        rarest_stem_only=STEM in rarest,
        names_held=round(names_held, 4),
        kind_held=kind_held,
        dense=round(top.dense, 4) if top else 0.0,
        keyword=round(top.keyword, 4) if top else 0.0,
        terms=len(terms),
        outside_period=outside,
        recent_age_days=age,
        sentence_dense=round(max(sentence_cosines), 4) if sentence_cosines else None,
        sentence_dense_mean=round(sum(sentence_cosines) / len(sentence_cosines), 4) if sentence_cosines else None,
        margin=round(top.dense - hits[1].dense, 4) if top and len(hits) > 1 else 0.0,
        period_after_days=after,
        period_before_days=before,
        speaks_of_now=speaks_of_now(question),
        stale_days=stale_days(intent, newest_ts, [hits[i].article.published_ts for i in cited]),
    )


def outside_period(evidence: Evidence, thresholds: Thresholds) -> bool:
    """The first cited article is from before the period the question names (it cannot report
    what happened then), or from longer after it than news of it takes to appear."""
    if evidence.period_after_days is None or evidence.period_before_days is None:
        return evidence.outside_period
    return (
        evidence.period_before_days > PERIOD_SLACK / DAY
        or evidence.period_after_days > thresholds.max_days_after_period
    )


def reason(evidence: Evidence, thresholds: Thresholds) -> str | None:
    """Why the answer should say it does not answer the question directly: "unanswered" (the
    coverage is related, not on what was asked), "stale" (on it, but old for a question about
    now), or None (it answers)."""
    if unanswered(evidence, thresholds):
        return "unanswered"
    if (
        thresholds.max_stale_days > 0
        and evidence.speaks_of_now
        and evidence.stale_days is not None
        and evidence.stale_days > thresholds.max_stale_days
    ):
        return "stale"
    return None


def decide(evidence: Evidence, thresholds: Thresholds) -> bool:
    """True when the answer should say it does not answer the question directly."""
    return reason(evidence, thresholds) is not None


def unanswered(evidence: Evidence, thresholds: Thresholds) -> bool:
    """The chosen sentences are related coverage, not an answer to what was asked."""
    if evidence.coverage < thresholds.min_coverage:
        return True
    if evidence.names_held < thresholds.min_names or evidence.dense < thresholds.min_dense:
        return True
    if evidence.sentence_dense is not None and evidence.sentence_dense < thresholds.min_sentence_dense:
        return True
    if evidence.rarest_stem_only or outside_period(evidence, thresholds):
        return True
    # "recently", and the first cited article is older than the last days before the moment asked
    if evidence.recent_age_days is not None and evidence.recent_age_days > thresholds.max_recent_age_days:
        return True
    return evidence.keyword < 1.0 and evidence.dense < thresholds.min_dense_when_keyword_disagrees


def sentence_cosines(result: SearchResult, sentences: list[str], embed) -> list[float] | None:
    """The cosine of the question with each chosen sentence, by the embedder that embedded the
    question (vectors are normalised); None when the question was not embedded (keyword-only)."""
    if embed is None or result.query_vector is None or not sentences:
        return None
    vectors = embed(sentences)
    return [float(v) for v in vectors @ result.query_vector]


def assess(
    answer: Answer, result: SearchResult, sentences: list[tuple[str, int]], thresholds: Thresholds, embed=None
) -> Answer:
    """Mark ``answer`` (built from ``sentences``: (text, hit index)) hedged when its evidence says so;
    ``embed`` (texts -> normalised vectors) gives the question-sentence cosines."""
    if answer.abstained or not sentences:
        return answer
    cited = sorted({i for _, i in sentences})
    embed = embed if thresholds.min_sentence_dense > 0 else None  # an encode per ask only when it decides
    evidence = gather(
        answer.question,
        result.intent.query,
        result.weights,
        [t for t, _ in sentences],
        result.hits,
        cited,
        result.intent,
        sentence_cosines(result, [t for t, _ in sentences], embed),
        result.front() if result.front and wants_front(answer.question, result.intent, thresholds) else None,
    )
    answer.evidence = asdict(evidence)
    answer.hedge_reason = reason(evidence, thresholds)
    answer.hedged = answer.hedge_reason is not None
    return answer
