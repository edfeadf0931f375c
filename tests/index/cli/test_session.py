"""`newsdesk chat` (run_chat) driven by a scripted input list, output captured."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import support.answers as H
from support.config import make_config
from support.feeds import Item, long_text, rss20
from support.http import free_port

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


# -- first run: an empty archive, filled from inside the session ----------------------------
def test_first_run_from_an_empty_archive_to_a_cited_answer(desk, site, capsys):
    now = datetime.now(UTC)
    news = site.serve(
        "/news.xml",
        rss20(
            "Tiny Times",
            [
                Item(
                    "Volcano erupts near the harbour town",
                    long_text("volcano", 8),
                    link=site.url("/volcano.html"),
                    guid="volcano",
                    date=now - timedelta(hours=2),
                ),
                Item(
                    "Octopus escapes from the aquarium",
                    long_text("octopus", 8),
                    link=site.url("/octopus.html"),
                    guid="octopus",
                    date=now - timedelta(hours=1),
                ),
            ],
        ),
    )
    empty = site.serve("/empty.xml", rss20("Empty Gazette", []))
    gone = f"http://127.0.0.1:{free_port()}/gone.xml"
    pending = [
        "What happened with the volcano?",
        "feeds",
        f"feeds add {news}",
        f"feeds add {empty}",
        f"feeds add {gone}",
        "feeds add ftp://example.com/feed",
        "ingest",
        "What happened with the volcano?",
        "feeds list",
        "quit",
    ]
    out: list[str] = []
    run_chat(desk, input_fn=lambda prompt: pending.pop(0), output=out.append, show_progress=True)
    (
        greeting,
        empty_note,
        asked_too_early,
        no_feeds,
        added,
        added_empty,
        added_gone,
        refused,
        summary,
        empty_feed,
        unreachable,
        go_on,
        answer,
        listing,
    ) = out
    assert "archive is empty" in empty_note and "feeds add URL" in empty_note and "ingest" in empty_note
    assert asked_too_early == empty_note  # not "I couldn't find any coverage"
    assert no_feeds.startswith("No feeds yet")
    assert added == f"Added feed [1] {news}. Type `ingest` to fetch it."
    assert refused == "error: only http and https URLs are allowed, not 'ftp'"
    assert summary.startswith("feeds: 2 ok (0 unchanged), 1 failed; articles: 2 new")
    assert empty_feed == f"{empty} answered but has no articles (the feed is empty)."
    assert unreachable.startswith(f"Could not read {gone}: ") and "Connection refused" in unreachable
    assert "Traceback" not in "\n".join(out)
    assert go_on == "Ask a question about these articles."
    assert "[1]" in answer and "Sources:" in answer and site.url("/volcano.html") in answer
    assert "Tiny Times — 2 articles, ok" in listing
    assert "Empty Gazette — 0 articles, warning: the feed is valid but lists no entries" in listing
    # the same progress bar as `newsdesk ingest` was drawn
    drawn = capsys.readouterr().out
    assert "feeds" in drawn and "3/3" in drawn and "passages" in drawn


def test_feeds_import_inside_the_session(desk, site, tmp_path):
    news = site.serve(
        "/a.xml",
        rss20(
            "Alpha Post", [Item("Bank raises rates", long_text("bank", 6), link=site.url("/bank.html"), guid="bank")]
        ),
    )
    opml = site.serve(
        "/list.opml",
        f'<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline type="rss" text="Alpha" xmlUrl="{news}"/></body></opml>',
        content_type="text/x-opml",
    )
    out, _ = chat(
        desk,
        [f"feeds import {opml}", f"feeds import {tmp_path / 'missing.opml'}", "ingest", "Who raised interest rates?"],
    )
    hint, imported, missing, summary, go_on, answer, _end = out
    assert hint.startswith("The archive is empty")
    assert imported == "Imported 1 feeds (0 already present, 0 refused). Type `ingest` to fetch them."
    assert missing.startswith("error: cannot read ") and "No such file" in missing
    assert summary.startswith("feeds: 1 ok") and go_on == "Ask a question about these articles."
    assert site.url("/bank.html") in answer


def test_a_private_feed_url_gets_its_one_line_reason(make_desk, tmp_path):
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(config, feeds=dataclasses.replace(config.feeds, allow_private_networks=False))
    out, _ = chat(make_desk(config), ["feeds add http://127.0.0.1:8080/feed.xml", "ingest", "feeds"])
    _hint, refused, nothing, listing, _end = out
    assert refused == (
        "error: 127.0.0.1 resolves to 127.0.0.1, a loopback address; "
        "set feeds.allow_private_networks = true to allow it"
    )
    assert nothing == "There are no feeds to ingest. Add one first: feeds add URL"
    assert listing.startswith("No feeds yet")


def test_a_session_with_feeds_but_nothing_ingested_says_to_ingest(desk, site):
    desk.feeds.add(site.serve("/later.xml", rss20("Later", [])))
    out, _ = chat(desk, ["anything new?"])
    assert out == ["The archive has 1 feed(s) but no articles yet: type `ingest` to fetch them."] * 2 + [""]


def test_the_session_ingest_reads_a_long_feed_whole(make_desk, config, site):
    # a poll's share of 3 entries: the session's one-shot ingest reads on until all 7 are archived
    desk = make_desk(config.replace(feeds=dataclasses.replace(config.feeds, max_entries_per_poll=3)))
    now = datetime.now(UTC)
    items = [
        Item(
            f"Harbour story {i}",
            f"Story {i}: " + long_text("volcano", 8),
            link=site.url(f"/h-{i}.html"),
            date=now - timedelta(hours=i),
        )
        for i in range(7)
    ]
    desk.feeds.add(site.serve("/long.xml", rss20("Long", items)))
    chat(desk, ["ingest"])
    assert desk.archive.counts()["articles"] == 7
    assert len(site.hits("/long.xml")) == 3
