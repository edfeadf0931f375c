"""Extractive answers with numbered citations over the small real archive."""

from __future__ import annotations

import re

import pytest
import support.answers as H

from index.answers.citations import build_answer, check_citations
from index.models import Answer
from index.text.words import content_words

SENTENCE = re.compile(r"(.+?) \[(\d+)\](?: |$)")

QUESTIONS = {
    "glacier": "How much ice did the Greenland glacier lose?",
    "ferry": "What happened with the electric ferry?",
    "chess": "Who won the national chess championship?",
    "wildfire": "What did the wildfire destroy in the southern valley?",
    "bakery": "Why did the bakery recall sourdough bread?",
    "exoplanet": "What did astronomers detect on the exoplanet?",
    "orchestra": "When will the orchestra play the free summer concerts?",
    "strike": "Why did rail workers strike?",
    "honey": "What happened to the honey harvest?",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.shared_desk(tmp_path_factory)


@pytest.fixture
def desk(archive):
    return archive[0]


@pytest.fixture
def links(archive):
    return archive[1].links


def parse(text: str) -> list[tuple[str, int]]:
    """An answer's text as (sentence, citation number) pairs; fails unless every sentence ends with [n]."""
    pairs = [(m.group(1), int(m.group(2))) for m in SENTENCE.finditer(text)]
    assert " ".join(f"{s} [{n}]" for s, n in pairs) == text, f"not 'sentence [n]' throughout: {text!r}"
    return pairs


def check_answer(desk, answer: Answer) -> list[tuple[str, int]]:
    assert not answer.abstained
    pairs = parse(answer.text)
    assert 2 <= len(pairs) <= 5, answer.text
    # numbered in order of first use, from 1, and the list of citations matches
    first_use = list(dict.fromkeys(n for _, n in pairs))
    assert first_use == list(range(1, len(first_use) + 1))
    assert [c.n for c in answer.citations] == first_use
    for sentence, n in pairs:
        cited = answer.citations[n - 1].article
        assert desk.archive.article_exists(cited.id)
        assert sentence in cited.text  # extractive: the words are the article's own
    return pairs


@pytest.mark.parametrize("slug", sorted(QUESTIONS))
def test_answers_cite_the_article_that_answers(desk, links, slug):
    answer = desk.reading.ask(QUESTIONS[slug])
    check_answer(desk, answer)
    cited = {c.article.url for c in answer.citations}
    wanted = {links["ferry"], links["ferry-wire"]} if slug == "ferry" else {links[slug]}
    assert cited & wanted, (QUESTIONS[slug], answer.text)
    assert answer.citations[0].article.url in wanted
    assert answer.mode == "extractive"


def test_every_citation_resolves_to_an_archived_article(desk):
    questions = list(QUESTIONS.values()) + [
        "What happened in March 2024?",
        "news from the Valley Courier",
        "ferry passengers and orchestra concerts",
        "Who warned about shortages?",
        "What did scientists warn about sea levels?",
    ]
    total = resolved = 0
    for question in questions:
        answer = desk.reading.ask(question)
        for c in answer.citations:
            total += 1
            resolved += desk.archive.article_exists(c.article.id)
            assert desk.archive.get_article(c.article.id).url == c.article.url
    assert total >= len(QUESTIONS)
    assert resolved == total


def test_citation_numbers_follow_first_use(desk):
    result = desk.retriever.search("electric ferry rail strike honey", limit=8)
    assert len(result.hits) >= 3
    sentences = [("Third hit first.", 2), ("First hit second.", 0), ("Third hit again.", 2), ("Second hit.", 1)]
    answer = build_answer("q", result, sentences)
    assert answer.text == "Third hit first. [1] First hit second. [2] Third hit again. [1] Second hit. [3]"
    assert [(c.n, c.article.id) for c in answer.citations] == [
        (1, result.hits[2].article.id),
        (2, result.hits[0].article.id),
        (3, result.hits[1].article.id),
    ]
    assert answer.citations[0].quote == "Third hit first."


def test_nothing_relevant_abstains_with_the_closest_articles(desk):
    answer = desk.reading.ask("quantum entanglement cryptography")
    assert answer.abstained is True
    assert answer.citations == []
    assert "[" not in answer.text
    assert answer.hits  # the closest articles are offered
    data = answer.to_dict()
    assert data["abstained"] is True and data["citations"] == []
    assert data["closest"] and all(desk.archive.article_exists(c["id"]) for c in data["closest"])


def test_nothing_before_the_as_of_moment_abstains(desk, links):
    # the bakery recall was published on 2024-04-22
    answer = desk.reading.ask(QUESTIONS["bakery"], as_of="2024-04-01")
    assert answer.abstained
    assert links["bakery"] not in {h.article.url for h in answer.hits}
    answer = desk.reading.ask(QUESTIONS["bakery"], as_of="2024-04-22")
    assert not answer.abstained and answer.citations[0].article.url == links["bakery"]


def test_since_until_and_source_reach_the_answer(desk, links):
    answer = desk.reading.ask(QUESTIONS["ferry"], source="Valley Courier")
    check_answer(desk, answer)
    assert {c.article.outlet for c in answer.citations} == {H.COURIER}
    answer = desk.reading.ask(QUESTIONS["ferry"], source="Harbor Gazette")
    assert {c.article.url for c in answer.citations} == {links["ferry"]}
    answer = desk.reading.ask(QUESTIONS["chess"], since="2024-04-01")
    assert links["chess"] not in {c.article.url for c in answer.citations}


def test_follow_up_with_context(desk, links):
    follow_up = "Which ferry did commuters find pleasant?"
    plain = desk.retriever.search("What did they say about it?")
    answer = desk.reading.ask("What did they say about it?", context="the electric ferry across the bay")
    check_answer(desk, answer)
    assert answer.citations[0].article.url in (links["ferry"], links["ferry-wire"])
    assert plain.hits[0].article.url not in (links["ferry"], links["ferry-wire"])
    # the context only adds to the search: a follow-up with words of its own still works
    answer = desk.reading.ask(follow_up, context="Who won the national chess championship?")
    assert not answer.abstained


def test_answer_to_dict_shape(desk):
    data = desk.reading.ask(QUESTIONS["chess"]).to_dict()
    assert {"answer", "citations", "abstained", "mode", "notices"} <= set(data)
    assert data["citations"] and {"n", "url", "title", "outlet", "published", "quote"} <= set(data["citations"][0])
    assert data["closest"] == []


def test_check_citations_unit(desk):
    result = desk.retriever.search(QUESTIONS["chess"], limit=8)
    hits = result.hits[:5]
    chess = hits[0].passage.text
    first = chess.split(". ")[0]
    kept = check_citations(f"{first} [1]. The moon is made of green cheese [1]. {first} [7].", hits)
    assert kept == [(f"{first}.", 0)]
    assert check_citations("NO ANSWER", hits) == []
    assert check_citations("No citations at all here.", hits) == []
    assert content_words("The chess prodigy, and the champion!") == {"chess", "prodigy", "champion"}
