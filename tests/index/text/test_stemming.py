"""index.text.stemming on hand-written words: Snowball stems, lemmas that keep derivations apart,
and the grade of a match (exact, lemma, stem, none)."""

from __future__ import annotations

import pytest

from index.text.stemming import EXACT, LEMMA, NONE, STEM, lemma, match, stem, stems


@pytest.mark.parametrize(
    ("word", "expected"),
    [("announced", "announc"), ("announces", "announc"), ("agents", "agent"), ("elections", "elect"), ("tax", "tax")],
)
def test_stem_is_snowball_english(word, expected):
    assert stem(word) == expected


def test_a_stem_joins_derivations_a_lemma_keeps_them_apart():
    assert stem("affirmative") == stem("affirming") == "affirm"
    assert lemma("affirmative") != lemma("affirming")
    assert lemma("election") != lemma("elected")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("agents", "agent"),
        ("announced", "announce"),
        ("running", "run"),
        ("recall", "recalled"),  # Snowball stems both "recal"
        ("recalls", "recall"),
        ("studies", "study"),
        ("agencies", "agency"),
        ("affirmatives", "affirmative"),
        ("elections", "election"),
    ],
)
def test_inflections_share_a_lemma(a, b):
    assert lemma(a) == lemma(b)


def test_match_grades_exact_lemma_stem_none():
    words = {"supreme", "court", "gender", "affirming", "care", "agent"}
    assert match("court", words) == EXACT
    assert match("agents", words) == LEMMA
    assert match("affirmative", words) == STEM
    assert match("admissions", words) == NONE
    assert EXACT > LEMMA > STEM > NONE


def test_stems_of_a_text_are_its_content_words_stemmed():
    assert stems("The agents announced the elections") == {"agent", "announc", "elect"}
