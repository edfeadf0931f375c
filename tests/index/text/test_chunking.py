"""index.chunking: sentences and passages within a token budget."""

from __future__ import annotations

import itertools

import pytest

from index.text.chunking import approximate_tokens, chunk_text, split_sentences
from index.vectors.embedders import HashEmbedder


def test_abbreviations_stay_whole():
    text = "Mr. Smith went to Washington. He met U.S. Senate leaders on Monday. Dr. Jones said no."
    assert split_sentences(text) == [
        "Mr. Smith went to Washington.",
        "He met U.S. Senate leaders on Monday.",
        "Dr. Jones said no.",
    ]


def test_initials_decimals_and_punctuation():
    text = "J. R. R. Tolkien wrote it. The rate was 3.5 percent. Was it? Yes! It went on… Then it stopped."
    assert split_sentences(text) == [
        "J. R. R. Tolkien wrote it.",
        "The rate was 3.5 percent.",
        "Was it?",
        "Yes!",
        "It went on…",
        "Then it stopped.",
    ]


def test_closing_quotes_and_brackets_stay_with_their_sentence():
    assert split_sentences('He said "It is over." Then he left.') == ['He said "It is over."', "Then he left."]
    assert split_sentences("She said “Never.” (He agreed.) Then silence.") == [
        "She said “Never.”",
        "(He agreed.)",
        "Then silence.",
    ]


def test_citation_markers_stay_with_the_sentence_they_follow():
    # an answer written "claim. [1] claim. [2]" must not hand [1] to the second claim
    assert split_sentences("The ferry opened. [1] The strike ended. [2][3]") == [
        "The ferry opened. [1]",
        "The strike ended. [2][3]",
    ]
    assert split_sentences("The ferry opened [1]. The strike ended [2].") == [
        "The ferry opened [1].",
        "The strike ended [2].",
    ]


def test_paragraphs_are_respected():
    text = "A heading without a full stop\n\nFirst paragraph,\nwrapped over lines. Second sentence.\n\n\n  Last one"
    assert split_sentences(text) == [
        "A heading without a full stop",
        "First paragraph, wrapped over lines.",
        "Second sentence.",
        "Last one",
    ]


def test_lowercase_after_a_stop_is_not_a_new_sentence():
    assert split_sentences("It cost 5 p.m. rates and e.g. more. Next.") == [
        "It cost 5 p.m. rates and e.g. more.",
        "Next.",
    ]


def test_empty():
    assert split_sentences("") == []
    assert split_sentences("\n\n  \n") == []
    assert chunk_text("", 50) == []


def _article(n: int) -> str:
    sentences = []
    for i in range(n):
        words = " ".join(f"word{i}x{j}" for j in range(3 + (i * 7) % 11))
        sentences.append(f"Sentence {i} says {words}.")
    return " ".join(sentences)


def _words_of(chunks):
    return [w for c in chunks for w in c.split()]


@pytest.mark.parametrize("budget", [32, 50, 120])
def test_chunks_never_exceed_the_budget_with_the_approximation(budget):
    text = _article(60)
    chunks = chunk_text(text, budget)
    assert len(chunks) > 1
    assert max(approximate_tokens(chunks)) <= budget
    # nothing is lost: every sentence appears in some chunk
    for sentence in split_sentences(text):
        assert any(sentence in c for c in chunks)


@pytest.mark.parametrize("budget", [32, 64, 200])
def test_chunks_never_exceed_the_budget_with_a_custom_counter(budget):
    counter = HashEmbedder().count_tokens  # words and punctuation marks
    text = _article(80)
    chunks = chunk_text(text, budget, counter)
    assert len(chunks) > 1
    assert max(counter(chunks)) <= budget


def test_overlap_of_one_sentence():
    text = _article(40)
    chunks = chunk_text(text, 60, overlap=1)
    assert len(chunks) >= 3
    for a, b in itertools.pairwise(chunks):
        last = split_sentences(a)[-1]
        assert b.startswith(last)
        assert split_sentences(b)[0] == last


def test_no_overlap():
    text = _article(40)
    chunks = chunk_text(text, 60, overlap=0)
    sentences = [s for c in chunks for s in split_sentences(c)]
    assert sentences == split_sentences(text)  # each sentence exactly once, in order


def test_a_sentence_longer_than_the_budget_is_split_into_word_runs():
    long_sentence = " ".join(f"w{i}" for i in range(400)) + "."
    text = "Short opening sentence here. " + long_sentence + " Short closing sentence."
    chunks = chunk_text(text, 40, overlap=0)
    assert max(approximate_tokens(chunks)) <= 40
    assert len(chunks) >= 400 * 1.3 // 40
    # the words of the long sentence survive, in order
    words = [w for w in _words_of(chunks) if w.startswith("w")]
    assert words == [f"w{i}" for i in range(399)] + ["w399."]


def test_short_text_is_one_chunk():
    assert chunk_text("One sentence. Two sentences.", 200) == ["One sentence. Two sentences."]
