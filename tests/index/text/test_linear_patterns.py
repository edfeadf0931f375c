"""The patterns that read members' questions, answers and article text run in time linear in
it: each crafted input below made a backtracking pattern rescan the rest of the text from every
character (seconds to minutes at these sizes). Each runs in a child process with a budget
(support.bounded), so a runaway fails instead of hanging; the meaning is checked alongside."""

from __future__ import annotations

from support.bounded import run_bounded

BUDGET = 10.0  # each call below takes milliseconds; before, each took well over this


def test_a_question_of_dotted_labels_is_read_for_sites_in_bounded_time():
    out = run_bounded(
        """
    from index.following.feedback import named_sites, topic_text
    hostile = "a." * 16_000 + "1"
    named_sites(hostile), topic_text(hostile)
    print(named_sites("what did example.com and https://news.example.org/x say?"))
    """,
        BUDGET,
    )
    assert out == repr(["https://news.example.org/", "https://example.com/"])


def test_an_answer_without_citation_markers_is_split_in_bounded_time():
    out = run_bounded(
        """
    from bot import render
    class Embed:
        description = "a" * 40_000
    print(len(render.quotes_from_embed(Embed())))
    # the same sentences as the whole-text pattern finds, on a short answer
    Embed.description = "The dam opened [1] and rain fell [2]. Rivers rose [2] then [3]. no marker after"
    whole = {}
    for m in render._CITED.finditer(Embed.description):
        whole.setdefault(int(m.group(2)), []).append(render.unsafe(m.group(1)).strip())
    print(render.quotes_from_embed(Embed()) == whole, sorted(whole))
    """,
        BUDGET,
    )
    empty, same = out.splitlines()
    assert empty == "0" and same == "True [1, 2]"


def test_credentials_are_stripped_from_a_long_word_in_bounded_time():
    out = run_bounded(
        """
    from bot.render import strip_credentials
    strip_credentials("a" * 120_000)
    print(strip_credentials("see https://bob:pw@db.example/x and ftp://u:p@h/"))
    """,
        BUDGET,
    )
    assert out == "see https://db.example/x and ftp://h/"


def test_a_question_with_a_long_run_of_spaces_is_read_for_dates_in_bounded_time():
    out = run_bounded(
        """
    from index.text.dates import _strip_phrase
    _strip_phrase("what happened in 2024" + " " * 60_000 + "x", "2024")
    _strip_phrase("a" + " " * 60_000 + "- asked", None)
    print(_strip_phrase("what happened in 2024 , to the harbour?", "2024"))
    """,
        BUDGET,
    )
    assert out == "what happened to the harbour?"
