"""index.answers.hedging on hand-written evidence: graded coverage, names, the hedge decision."""

from __future__ import annotations

import pytest

from index.answers.hedging import Evidence, Thresholds, decide, gather, graded_coverage, question_names
from index.models import Article, Hit, PassageRow
from index.search.lexical import question_words

QUESTION = "What did the Supreme Court decide about affirmative action?"
WEIGHTS = {"suprem": 1.0, "court": 1.0, "decid": 0.5, "affirm": 3.0, "action": 2.0}
RELATED = "The Supreme Court heard a case on whether states can restrict gender-affirming care for minors."
ANSWERING = "The Supreme Court decided to end affirmative action in college admissions."


def words(text: str) -> set[str]:
    from index.text.words import content_words

    return content_words(text)


def test_a_word_found_only_by_its_stem_counts_little():
    terms = question_words(QUESTION)
    coverage, stem_only = graded_coverage(WEIGHTS, terms, words(RELATED))
    # supreme and court in full, affirmative by its stem alone (affirming): (1 + 1 + 0.25 * 3) / 7.5
    assert coverage == pytest.approx(2.75 / 7.5)
    assert stem_only == pytest.approx(3.0 / 7.5)
    assert graded_coverage(WEIGHTS, terms, words(ANSWERING)) == (pytest.approx(1.0), 0.0)


def test_unknown_words_weigh_one_and_no_words_cover_fully():
    assert graded_coverage({}, {"court": "court", "action": "action"}, {"court"}) == (0.5, 0.0)
    assert graded_coverage({}, {}, {"court"}) == (1.0, 0.0)


def test_question_names_are_capitalised_words_past_the_first():
    assert question_names(QUESTION) == {"supreme", "court"}
    assert question_names("Who won the cup?") == set()
    assert question_names("What did Tom Homan announce in Minneapolis?") == {"tom", "homan", "minneapolis"}


def evidence(**changes) -> Evidence:
    base = dict(
        coverage=0.9,
        stem_only=0.0,
        rarest_held=True,
        rarest_stem_only=False,
        names_held=1.0,
        kind_held=None,
        dense=0.6,
        keyword=1.0,
        terms=5,
    )
    return Evidence(**(base | changes))


@pytest.mark.parametrize(
    ("changes", "hedged"),
    [
        ({}, False),
        ({"coverage": 0.4}, True),
        ({"names_held": 0.0}, True),
        ({"keyword": 0.5, "dense": 0.2}, True),  # keyword search disagrees and the cosine is low
        ({"keyword": 0.5, "dense": 0.5}, False),
        ({"keyword": 1.0, "dense": 0.2}, False),  # both agree on the article
    ],
)
def test_decide(changes, hedged):
    thresholds = Thresholds(min_coverage=0.55, min_names=0.5, min_dense=0.0, min_dense_when_keyword_disagrees=0.3)
    assert decide(evidence(**changes), thresholds) is hedged


def test_decide_on_relevance_alone():
    thresholds = Thresholds(min_dense=0.35)
    assert decide(evidence(dense=0.3), thresholds) and not decide(evidence(dense=0.4), thresholds)


def hit(title: str, text: str, dense: float = 0.5, keyword: float = 1.0) -> Hit:
    article = Article(1, "g", "http://x/1", title, "Outlet", (), None, None, "feed", "", "en", "", text, "feed")
    passage = PassageRow("1:0", 1, 0, title, text, None, "Outlet")
    return Hit(article, passage, 1.0, dense=dense, keyword=keyword, passages=[passage])


def test_gather_reads_the_chosen_sentences_and_cited_titles():
    related = gather(QUESTION, QUESTION, WEIGHTS, [RELATED], [hit("Court hears care case", RELATED)], [0])
    assert related.coverage == pytest.approx(2.75 / 7.5, abs=1e-3)
    assert not related.rarest_held and related.rarest_stem_only and related.names_held == 1.0
    # the title of the cited article counts: it is shown with the citation
    titled = gather(QUESTION, QUESTION, WEIGHTS, [RELATED], [hit("Court ends affirmative action", RELATED)], [0])
    assert titled.rarest_held and titled.coverage > related.coverage
    assert titled.dense == 0.5 and titled.keyword == 1.0


def test_gather_notes_the_kind_of_answer():
    q = "How many agents left Minnesota?"
    with_number = gather(q, q, {}, ["Officials said 700 agents left Minnesota."], [hit("t", "x")], [0])
    without = gather(q, q, {}, ["Officials said agents left Minnesota."], [hit("t", "x")], [0])
    assert with_number.kind_held is True and without.kind_held is False


def test_period_evidence_against_the_time_asked_about():
    from datetime import UTC, datetime

    from index.answers.hedging import period_evidence
    from index.models import TimeIntent

    as_of = datetime(2024, 6, 30, tzinfo=UTC)
    march = TimeIntent(as_of, window=(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 31, 23, 59, tzinfo=UTC)))
    assert period_evidence(march, datetime(2024, 3, 15, tzinfo=UTC).timestamp()) == (False, None)
    assert period_evidence(march, datetime(2024, 4, 1, 6, tzinfo=UTC).timestamp()) == (False, None)  # a day's slack
    assert period_evidence(march, datetime(2023, 3, 15, tzinfo=UTC).timestamp()) == (True, None)
    recently = TimeIntent(as_of, prefer_recent=True)
    assert period_evidence(recently, datetime(2024, 6, 20, tzinfo=UTC).timestamp()) == (False, 10.0)
    assert period_evidence(TimeIntent(as_of), datetime(2020, 1, 1, tzinfo=UTC).timestamp()) == (False, None)
    assert period_evidence(None, 0.0) == (False, None)


@pytest.mark.parametrize(
    ("changes", "hedged"),
    [
        ({"outside_period": True}, True),
        ({"rarest_stem_only": True}, True),
        ({"recent_age_days": 40.0}, True),
        ({"recent_age_days": 10.0}, False),
        ({"recent_age_days": None}, False),
    ],
)
def test_decide_on_the_period(changes, hedged):
    assert decide(evidence(**changes), Thresholds(min_coverage=0.55, max_recent_age_days=30.0)) is hedged


def test_period_distance_in_days_after_and_before_the_period():
    from datetime import UTC, datetime

    from index.answers.hedging import period_distance
    from index.models import TimeIntent

    monday = TimeIntent(
        datetime(2024, 6, 14, tzinfo=UTC), window=(datetime(2024, 6, 10, tzinfo=UTC), datetime(2024, 6, 11, tzinfo=UTC))
    )
    assert period_distance(monday, datetime(2024, 6, 14, tzinfo=UTC).timestamp()) == (3.0, -4.0)
    assert period_distance(monday, datetime(2024, 6, 1, tzinfo=UTC).timestamp()) == (-10.0, 9.0)
    assert period_distance(TimeIntent(datetime(2024, 6, 14, tzinfo=UTC)), 0.0) == (None, None)


@pytest.mark.parametrize(
    ("after", "before", "hedged"),
    [
        (3.0, -4.0, False),  # "on Monday", reported on Friday: news of a day appears in the days after it
        (40.0, -41.0, True),  # long after: a retrospective, not the report asked for
        (-10.0, 9.0, True),  # before the period: it cannot report what happened then
        (-0.5, 0.5, False),  # within the day's slack
    ],
)
def test_decide_on_the_distance_from_the_period(after, before, hedged):
    # outside_period (a day's slack either side) is what the distances replace when they are known
    seen = evidence(outside_period=True, period_after_days=after, period_before_days=before)
    assert decide(seen, Thresholds(max_days_after_period=7.0)) is hedged


def test_decide_on_the_question_sentence_cosine():
    thresholds = Thresholds(min_sentence_dense=0.35)
    assert decide(evidence(sentence_dense=0.3), thresholds)
    assert not decide(evidence(sentence_dense=0.4), thresholds)
    assert not decide(evidence(sentence_dense=None), thresholds)  # not embedded (keyword-only)
    assert not decide(evidence(sentence_dense=0.3), Thresholds())  # off by default


def test_gather_keeps_the_question_sentence_cosines_and_the_margin():
    hits = [hit("t", "x", dense=0.6), hit("u", "y", dense=0.45)]
    seen = gather(QUESTION, QUESTION, WEIGHTS, [RELATED, ANSWERING], hits, [0], sentence_cosines=[0.3, 0.5])
    assert seen.sentence_dense == 0.5 and seen.sentence_dense_mean == 0.4 and seen.margin == 0.15
    assert gather(QUESTION, QUESTION, WEIGHTS, [RELATED], hits, [0]).sentence_dense is None


def test_sentence_cosines_use_the_question_vector_and_need_one():
    import numpy as np

    from index.answers.hedging import sentence_cosines
    from index.models import SearchResult, TimeIntent

    def embed(texts):  # a unit vector per sentence: the first axis for "court", the second otherwise
        return np.array([[1.0, 0.0] if "court" in t else [0.0, 1.0] for t in texts])

    result = SearchResult([], TimeIntent(None), query_vector=np.array([0.6, 0.8]))  # type: ignore[arg-type]
    assert sentence_cosines(result, ["the court ruled", "it rained"], embed) == pytest.approx([0.6, 0.8])
    assert sentence_cosines(SearchResult([], TimeIntent(None)), ["x"], embed) is None  # type: ignore[arg-type]
    assert sentence_cosines(result, ["x"], None) is None


@pytest.mark.parametrize(
    ("question", "now"),
    [
        ("Which music star has lost a bid to be Queen of Christmas?", True),
        ("Who is slated to receive the Medal of Freedom?", True),
        ("Which network will broadcast the Christmas Day games?", True),
        ("Hurricane Idalia made landfall Wednesday in which state?", True),
        ("Which app isn’t working?", True),  # a curly apostrophe
        ("How many federal immigration agents were withdrawn from Minnesota?", False),
        ("What did Tom Homan announce in Minneapolis?", False),
        ("Who wrote the Star-Spangled Banner?", False),
        ("What did Tom Homan do in Minneapolis?", False),  # "do" after "did" is in the past
        ("Who’s the national chess champion?", True),
        ("This is", True),
        ("", False),
    ],
)
def test_speaks_of_now(question, now):
    from index.answers.hedging import speaks_of_now

    assert speaks_of_now(question) is now


def test_stale_days_behind_the_archive_front():
    from datetime import UTC, datetime

    from index.answers.hedging import stale_days
    from index.models import TimeIntent

    day = 86400.0
    asked = TimeIntent(datetime(2024, 7, 1, tzinfo=UTC))
    front = datetime(2024, 6, 30, tzinfo=UTC).timestamp()
    # the newest of the cited articles counts: 10 days behind, not 40
    assert stale_days(asked, front, [front - 40 * day, front - 10 * day]) == 10.0
    assert stale_days(asked, front, [front + day]) == 0.0  # never negative
    assert stale_days(asked, front, [None]) is None
    assert stale_days(asked, None, [front]) is None
    named = TimeIntent(asked.as_of, window=(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 31, tzinfo=UTC)))
    assert stale_days(named, front, [front - 100 * day]) is None  # a period named: the period rules judge
    labelled = TimeIntent(asked.as_of, years=(2004,))  # "in the 2004 tsunami"
    assert stale_days(labelled, front, [front - 100 * day]) is None


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"speaks_of_now": True, "stale_days": 30.0}, "stale"),
        ({"speaks_of_now": True, "stale_days": 10.0}, None),
        ({"speaks_of_now": False, "stale_days": 300.0}, None),  # past tense: old coverage answers as well
        ({"speaks_of_now": True, "stale_days": None}, None),
        ({"speaks_of_now": True, "stale_days": 30.0, "dense": 0.1}, "unanswered"),  # the stronger statement
        ({"recent_age_days": 20.0}, "unanswered"),  # "recently", and the first cited article is older
    ],
)
def test_reason(changes, why):
    from index.answers.hedging import reason

    thresholds = Thresholds(min_dense=0.3, max_stale_days=14.0, max_recent_age_days=3.0)
    assert reason(evidence(**changes), thresholds) == why
    assert decide(evidence(**changes), thresholds) is (why is not None)


def test_the_stale_rule_is_off_at_zero():
    from index.answers.hedging import reason

    assert reason(evidence(speaks_of_now=True, stale_days=3000.0), Thresholds(max_stale_days=0.0)) is None


def test_gather_dates_the_newest_cited_article_against_the_front():
    from dataclasses import replace
    from datetime import UTC, datetime

    from index.models import TimeIntent

    hits = [hit("t", "x", dense=0.6), hit("u", "y", dense=0.45)]
    published = datetime(2029, 12, 1, tzinfo=UTC).timestamp()
    hits[0].article = replace(hits[0].article, published_ts=published)
    front = published + 20 * 86400.0
    asked = TimeIntent(datetime(2030, 1, 1, tzinfo=UTC))
    now = "Who is the Supreme Court ruling on affirmative action?"
    seen = gather(now, now, WEIGHTS, [ANSWERING], hits, [0], asked, newest_ts=front)
    assert seen.speaks_of_now and seen.stale_days == 20.0
    assert not gather(QUESTION, QUESTION, WEIGHTS, [ANSWERING], hits, [0], asked, newest_ts=front).speaks_of_now
