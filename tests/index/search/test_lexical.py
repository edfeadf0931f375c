"""Lexical coverage on hand-written questions and passages."""

from __future__ import annotations

import pytest

from index.search.lexical import coverage, idf, question_words, stems


def test_stems_drop_stopwords_and_are_snowball_stems():
    assert stems("The reports were REPORTED by the reporter") == {"report"}
    assert stems("a I of") == set()


def test_question_words_keep_the_first_word_of_each_stem():
    assert question_words("Who said the elected official won the election?") == {
        "said": "said",
        "elect": "elected",
        "offici": "official",
        "won": "won",
    }


@pytest.mark.parametrize(
    "question, words",
    [
        ("Which country elected a leftist leader?", {"elected", "leftist", "leader"}),
        ("Which of these teams won the cup?", {"won", "cup"}),
        ("What breed of dog is Commander?", {"dog", "commander"}),
        ("Who won the cup?", {"won", "cup"}),
    ],
)
def test_the_noun_naming_the_kind_of_answer_is_not_a_question_word(question, words):
    """The article that answers names the country; it need not say "country"."""
    assert set(question_words(question).values()) == words


def test_rarer_words_weigh_more():
    assert idf(1, 1000) > idf(100, 1000) > idf(900, 1000) > 0
    assert idf(5, 1) == 0.0  # counts from a bigger archive than the one known: no negative weight


def test_coverage_is_the_share_of_the_question_weight_found():
    weights = {"meal": 2.0, "illnes": 3.0, "recall": 1.0}
    assert coverage(weights, {"meal", "illnes", "recall", "other"}) == pytest.approx(1.0)
    assert coverage(weights, {"illnes"}) == pytest.approx(0.5)
    assert coverage(weights, {"nothin"}) == 0.0
    assert coverage({}, {"meal"}) == 0.0


def test_a_passage_holding_every_rare_word_beats_one_repeating_a_single_word():
    """The soft AND that BM25 over an OR of words lacks."""
    question = question_words("Which meal kit service received reports of illness after a recall?")
    weights = {s: idf(df, 1000) for s, df in zip(question, (40, 30, 200, 20, 150, 60), strict=True)}
    brief = stems("Daily Harvest, the meal kit service, received 470 reports of illness and issued a recall.")
    repeat = stems("Illness illness illness: the illness season peaks in winter, doctors said of the illness.")
    assert coverage(weights, brief) > 0.8 > coverage(weights, repeat)
