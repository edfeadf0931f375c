"""`newsdesk chat` (run_chat) driven by a scripted input list, output captured."""

from __future__ import annotations

import pytest
import support.answers as H

from index.cli.session import HELP, run_chat


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.shared_desk(tmp_path_factory)


def chat(desk, lines: list[str]) -> tuple[list[str], list[str]]:
    """Run a session; returns (outputs after the greeting, lines never read)."""
    pending = list(lines)

    def input_fn(prompt):
        assert prompt == "newsdesk> "
        if not pending:
            raise EOFError
        return pending.pop(0)

    out: list[str] = []
    run_chat(desk, input_fn=input_fn, output=out.append)
    assert out[0].startswith("newsdesk — ask about the news")
    return out[1:], pending


def test_a_session(archive):
    desk, served = archive
    links = served.links
    ferry_urls = (links["ferry"], links["ferry-wire"])
    out, unread = chat(
        desk,
        [
            "help",
            "What happened with the electric ferry?",
            "What did they say about it?",  # a short follow-up: the ferry question is its context
            "search twelve year old chess prodigy",
            "latest",
            f"article {links['glacier']}",
            "article 99999",
            "search ?!?",
            "",
            "sources",
            "quit",
            "never read",
        ],
    )
    assert unread == ["never read"]
    help_, first, follow, search, latest, article, missing, bad, sources_a, sources_b = out
    assert help_ == HELP

    assert "[1]" in first and "Sources:" in first and any(u in first for u in ferry_urls)
    assert "[1]" in follow and "Sources:" in follow and any(u in follow for u in ferry_urls)

    assert search.startswith("1. Chess prodigy wins national championship at age twelve — Harbor Gazette, 2024-03-05")
    assert links["chess"] in search.splitlines()[1]

    assert latest.startswith(
        "1. Beekeepers report honey harvest collapse after cold spring — Valley Courier, 2024-06-15"
    )

    assert article.startswith("Glacier researchers measure record ice loss in Greenland\nHarbor Gazette · 2024-01-10")
    assert "boreholes" in article

    assert missing == "error: no article '99999' in the archive"
    assert bad == "error: the question has no words to search for"
    assert sorted([sources_a, sources_b]) == [f"{H.GAZETTE}: 6 articles", f"{H.COURIER}: 4 articles"]


def test_follow_up_uses_the_previous_question_and_ask_starts_afresh(archive):
    desk, served = archive
    ferry_urls = (served.links["ferry"], served.links["ferry-wire"])
    out, _ = chat(desk, ["What happened with the electric ferry?", "ask What did they say about it?"])
    fresh = out[1]
    sources = fresh.split("Sources:")[1] if "Sources:" in fresh else ""
    assert not any(u in sources for u in ferry_urls)  # no context: not an answer about the ferry


def test_abstention_lists_the_closest_articles(archive):
    desk, _ = archive
    out, _ = chat(desk, ["quantum entanglement cryptography", "exit"])
    assert out[0].startswith("I couldn't find coverage")
    assert "Closest articles:" in out[0]


def test_end_of_input_and_interrupt_leave_quietly(archive):
    desk, _ = archive
    out, _ = chat(desk, [])
    assert out == [""]

    def interrupted(prompt):
        raise KeyboardInterrupt

    captured: list[str] = []
    run_chat(desk, input_fn=interrupted, output=captured.append)
    assert captured[-1] == ""


def test_errors_do_not_end_the_session(archive):
    desk, served = archive
    out, unread = chat(desk, ["ask", "search", "latest honey", "Q"])
    assert out[0] == "error: the question is empty"
    assert out[1] == "error: the question is empty"
    assert out[2].startswith("1. Beekeepers report honey harvest collapse")
    assert unread == []
