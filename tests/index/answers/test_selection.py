"""Sentence selection on hand-written hits: pure functions, no archive."""

from __future__ import annotations

import pytest

from index.answers import selection
from index.models import Article, Hit, PassageRow


def hit(text: str, passages: list[tuple[int, str]], score: float = 1.0, article_id: int = 1) -> Hit:
    article = Article(
        article_id,
        "g",
        f"https://example.com/{article_id}",
        "t",
        "Gazette",
        (),
        None,
        None,
        "",
        "",
        None,
        "",
        text,
        "feed",
    )
    rows = [PassageRow(f"{article_id}:{seq}", article_id, seq, "t", body, None, "Gazette") for seq, body in passages]
    return Hit(article=article, passage=rows[0], score=score, passages=rows)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("announced", "announc"),
        ("announces", "announc"),
        ("announcement", "announc"),
        ("agents", "agent"),
        ("tax", "tax"),
    ],
)
def test_stem(word, expected):
    assert selection.stem(word) == expected


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many agents were withdrawn?", "number"),
        ("What percentage of voters turned out?", "number"),
        ("When will the ferry run?", "date"),
        ("Which country hosted the summit?", "place"),
        ("Who won the election in Ohio?", "name"),
        ("What did the council decide?", None),
    ],
)
def test_answer_kind(question, kind):
    assert selection.answer_kind(question) == kind


def test_answer_spans_skip_what_the_question_names():
    q = selection.stems("How many agents will leave Minnesota in 2026?")
    spans = selection.answer_spans("In 2026 some 700 agents will leave Minnesota.", "number", q)
    assert [m.group(0) for m in spans] == ["700"]


LEAD = "Border czar Tom Homan announced that 700 federal immigration agents will be withdrawn from Minnesota."
LATER = (
    "After the commander was removed, the president sent Homan to Minneapolis to calm the situation. "
    "The result is a compromise that leaves most of the operation in place in Minneapolis."
)


def test_the_top_articles_lead_is_a_candidate_when_retrieval_matched_a_later_passage():
    h = hit(f"{LEAD} Other words follow here. {LATER}", [(3, LATER)])
    pool = selection.candidates("What did Tom Homan announce in Minneapolis?", [h])
    best = selection.select(pool, 5)[0]
    assert best.text == LEAD


def test_stems_match_inflections():
    # "announce" in the question, "announced" in the sentence: without stems the later passage wins
    h = hit(LATER, [(0, f"{LATER} {LEAD}")])
    pool = selection.candidates("What did Homan announce?", [h])
    assert selection.select(pool, 5)[0].text == LEAD


def test_a_sentence_holding_the_kind_asked_for_wins_a_tie():
    a = "The agency said agents would be withdrawn from the state soon."
    b = "The agency said 700 agents would be withdrawn from the state."
    h = hit("", [(2, f"{a} {b}")])
    pool = selection.candidates("How many agents would be withdrawn from the state?", [h])
    assert selection.select(pool, 5)[0].text == b


def test_a_pronoun_brings_its_antecedent():
    first = "The harbour council met on Monday to discuss the ferry timetable."
    second = "It voted to run a night ferry to the outer islands from January."
    h = hit("", [(4, f"{first} {second} Unrelated closing words about the weather today.")])
    pool = selection.candidates("Night ferry islands January vote", [h])
    chosen = selection.select(pool, 1)
    assert chosen[0].text == second
    assert [t for t, _ in selection.with_antecedents(chosen)] == [first, second]


def test_select_keeps_two_and_stops_at_weak_sentences():
    pool = [
        selection.Candidate("a " * 10, 0, 2.0, {"a"}, None),
        selection.Candidate("b " * 10, 0, 1.0, {"b"}, None),
        selection.Candidate("c " * 10, 0, 0.5, {"c"}, None),
    ]
    assert [c.score for c in selection.select(pool, 5)] == [2.0, 1.0]


@pytest.mark.parametrize(
    ("question", "sentence", "line"),
    [
        ("How many agents were withdrawn from Minnesota?", LEAD, "**700** federal immigration agents"),
        ("What did Tom Homan announce?", LEAD, None),  # not a how-many question
        ("How many agents left?", "Some 700 agents left on 3 March, and 200 stayed.", None),  # two numbers: unsure
        ("How many agents left?", "Many agents left the state last week, officials said.", None),
    ],
)
def test_direct_answer(question, sentence, line):
    assert selection.direct_answer(question, sentence) == line


def test_best_sentences_keep_the_lead_and_the_texts_order():
    text = (
        "The council approved a night ferry to the islands on Monday. "
        "It will leave the pier at 23:00. Tickets cost four pounds."
    )
    assert selection.best_sentences("Council approves night ferry", text, 2, 400) == [
        "The council approved a night ferry to the islands on Monday.",
        "It will leave the pier at 23:00.",
    ]
    assert selection.best_sentences("Council approves night ferry", text, 2, 70) == [
        "The council approved a night ferry to the islands on Monday."
    ]


def test_best_sentences_drop_a_teaser_cut_short_that_the_text_repeats_in_full():
    text = (
        "During a dinner the group announced it would be splitting…\n\n"
        "During a dinner the group announced it would be splitting to pursue solo projects. "
        "Their fans gathered outside the venue."
    )
    assert selection.best_sentences("During a dinner the group announced it would be splitting…", text, 2, 400) == [
        "During a dinner the group announced it would be splitting to pursue solo projects.",
        "Their fans gathered outside the venue.",
    ]


def test_a_question_word_found_only_by_its_stem_counts_half():
    terms = {"affirm": "affirmative", "action": "action"}
    assert selection.graded_share(terms, {"affirmative", "action"}) == 1.0
    assert selection.graded_share(terms, {"affirmatives", "action"}) == 1.0  # a lemma match is a full one
    assert selection.graded_share(terms, {"affirming", "action"}) == 0.75
    assert selection.graded_share(terms, {"care"}) == 0.0
    assert selection.graded_share({}, {"care"}) == 0.0


def test_the_sentence_saying_what_was_asked_beats_one_matching_by_stem():
    """Snowball stems "affirming" and "affirmative" alike: counted in full, the lead would win."""
    text = "The court heard the gender-affirming care case today. The court ended affirmative admissions policies."
    pool = selection.candidates("What did the court decide about affirmative action?", [hit(text, [(0, text)])])
    assert max(pool, key=lambda c: c.score).text == "The court ended affirmative admissions policies."
