"""`newsdesk follow add|list|remove` and `newsdesk alerts`, run as a user runs them, over a real
archive filled from a feed on 127.0.0.1 that gains items."""

from __future__ import annotations

from support.cli import Cli, write_config
from support.newsroom import STORIES, make_feed

HASH_THRESHOLD = "0.3"  # the hash embedder's scale (see tests/index/following)


def test_follow_add_list_remove_and_alerts(tmp_path, feed_server):
    planet = make_feed(feed_server, "planet", "Daily Planet", STORIES, "/cli-follow")
    run = Cli(write_config(tmp_path / "cli"))
    run("feeds", "add", planet.url, "--name", "Daily Planet")
    run("ingest", "--json")

    added = run("follow", "add", "volcano eruption").stdout
    assert added.startswith("following: #1  'volcano eruption'") and "no target" in added
    channel = run("follow", "add", "interest rates", "--guild", "7", "--channel", "70").stdout
    assert "#2" in channel and "channel 70, server 7" in channel
    assert "--channel needs --guild" in run("follow", "add", "ferry", "--channel", "70", code=2).output
    assert "the topic is empty" in run("follow", "add", "  ", code=1).output
    assert "at most 200 characters" in run("follow", "add", "x" * 201, code=1).output
    assert "already following" in run("follow", "add", "Volcano eruption", code=1).output
    listed = run.json("follow", "list", "--json")
    assert [(f["id"], f["topic"], f["kind"]) for f in listed] == [
        (1, "volcano eruption", "cli"),
        (2, "interest rates", "channel"),
    ]

    assert "no alerts" in run("alerts", "--threshold", HASH_THRESHOLD).stdout  # nothing new yet
    since = run.json("alerts", "--since", "2000-01-01", "--threshold", HASH_THRESHOLD, "--json")
    assert sorted((a["follow_id"], a["title"]) for a in since) == [
        (1, "Volcano erupts near Grindavik in Iceland"),
        (2, "Central bank raises interest rates to curb inflation"),
    ]
    planet.add_item(
        "Volcano erupts again on the Reykjanes peninsula",
        "The volcano near Grindavik erupted again overnight, sending lava toward the town.",
        slug="again",
    )
    planet.add_item("Tram timetable changes", "Trams run less often on Sunday.", slug="tram")
    run("ingest", "--json")
    text = run("alerts", "--threshold", HASH_THRESHOLD).stdout
    assert "[#1 volcano eruption] Volcano erupts again on the Reykjanes peninsula — Daily Planet" in text
    assert "Tram" not in text and "interest" not in text
    assert run.json("alerts", "--threshold", "0.99", "--json") == []
    assert "no follow '9'" in run("follow", "remove", "9", code=1).output
    assert "removed: #1" in run("follow", "remove", "1").stdout
    assert [f["id"] for f in run.json("follow", "list", "--json")] == [2]
