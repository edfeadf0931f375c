"""`newsdesk watch add|list|remove|check` and the questions `newsdesk stats` shows, over a real
archive fed by a feed on 127.0.0.1 that gains items."""

from __future__ import annotations

import itertools

from support.cli import Cli, write_config
from support.newsroom import STORIES, WIRE_STORIES, make_feed
from support.watching import QUESTION, RELATED, UNRELATED

_ids = itertools.count(1)


def newsroom(tmp_path, feed_server):
    prefix = f"/cw{next(_ids)}"
    planet = make_feed(feed_server, "planet", "Daily Planet", STORIES, prefix)
    wire = make_feed(feed_server, "wire", "Wire Service", WIRE_STORIES, prefix)
    run = Cli(write_config(tmp_path / "cli", answers={"max_sentences": 1}))
    run("feeds", "add", planet.url, "--name", "Daily Planet")
    run("feeds", "add", wire.url, "--name", "Wire Service")
    run("ingest", "--json")
    return run, planet


def test_watch_add_check_list_remove(tmp_path, feed_server):
    run, planet = newsroom(tmp_path, feed_server)
    out = run("watch", "add", QUESTION).stdout
    assert out.startswith(f"watching #1: {QUESTION}") and "answer now:" in out
    assert "no watched answer changed" in run("watch", "check").stdout

    planet.add_item(*UNRELATED, slug="ferry")
    run("ingest", "--json")
    assert run("watch", "check", "--json").stdout == ""  # no change: nothing printed

    link = planet.add_item(*RELATED, slug="ended")
    run("ingest", "--json")
    changes = run.lines("watch", "check", "--json")
    assert len(changes) == 1
    change = changes[0]
    assert change["watch_id"] == 1 and "lava stopped flowing" in change["new"][0]["sentence"]
    assert [s["url"] for s in change["new_sources"]] == [link]
    assert change["superseded"] and "Grindavik" in change["superseded"][0]
    assert "no watched answer changed" in run("watch", "check").stdout  # claimed once

    listed = run.json("watch", "list", "--json")
    assert [w["id"] for w in listed] == [1] and listed[0]["answer"][0]["sentence"].startswith("The volcano eruption")
    assert "#1 " + QUESTION in run("watch", "list").stdout
    assert "removed #1" in run("watch", "remove", "1").stdout
    assert "no such" not in run("watch", "list").stdout and "no watches" in run("watch", "list").stdout
    assert "no watch #1" in run("watch", "remove", "1", code=1).output
    assert "by its number" in run("watch", "remove", "one", code=1).output
    assert "empty" in run("watch", "add", "  ", code=1).output


def test_stats_shows_the_unanswered_questions_of_newsdesk_ask_grouped(tmp_path, feed_server):
    run, _ = newsroom(tmp_path, feed_server)
    assert "no unanswered or down-voted questions" in run("stats").stdout
    assert run.json("stats", "--json")["questions"] == []
    for question in (
        "Explain quantum entanglement photonics",
        "Any news on quantum entanglement photonics experiments?",
        "Explain opera frescoes restoration techniques",
        QUESTION,  # answered: not listed
    ):
        run("ask", question)
    data = run.json("stats", "--json")
    groups = {g["label"]: g for g in data["questions"]}
    quantum = next(g for label, g in groups.items() if "quantum" in label)
    assert len(quantum["questions"]) == 2 and all(q["abstained"] for q in quantum["questions"])
    assert any("opera" in label for label in groups) and len(groups) == 2
    assert "no site to look at" in quantum["discovery"]
    text = run("stats").stdout
    assert "questions the archive fell short on, by topic:" in text and "- Explain opera frescoes" in text
