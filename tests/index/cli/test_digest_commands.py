"""`newsdesk digest|timeline|compare` over a real archive ingested from three outlets on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from support import stories as S
from support.cli import Cli, write_config


@pytest.fixture
def server(feed_server):
    return feed_server  # the session's feed server (tests/conftest.py); each test serves its own paths


@pytest.fixture
def run(server, tmp_path):
    room = S.serve(server, f"/{tmp_path.name}")
    run = Cli(write_config(tmp_path / "cli"))
    for name, feed in room.feeds.items():
        run("feeds", "add", feed.url, "--name", name)
    assert run.json("ingest", "--json")["articles_new"] == len(S.ITEMS)
    run.room = room
    return run


def test_digest(run):
    since = (run.room.now - timedelta(days=1)).date().isoformat()
    data = run.json("digest", "--since", since, "--json")
    assert [len(s["outlets"]) for s in data["stories"]][:2] == [3, 2]
    assert {a["url"] for a in data["stories"][0]["articles"]} == {
        run.room.links[k] for k in ("agents-herald", "agents-courier", "agents-wire")
    }
    text = run("digest", "--period", "weekly", "--topic", "bridge toll").stdout
    assert "Harbour bridge toll to rise for deck repairs  [2 outlets, 2 articles]" in text
    assert run.room.links["toll-herald"] in text and "Minneapolis" not in text
    assert "unknown period" in run("digest", "--period", "hourly", code=1).output
    assert "cannot understand the date" in run("digest", "--since", "whenever-ish", code=1).output


def test_timeline_writes_a_png_and_prints_the_archive_counts(run, tmp_path):
    out = tmp_path / "chart.png"
    data = run.json("timeline", "volcano", "--out", out, "--json")
    png = out.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000 and data["chart"] == str(out)
    db = sqlite3.connect(run.config.parent / "data" / "archive.db")
    expected = dict(
        db.execute("SELECT outlet, count(*) FROM articles WHERE lower(title || text) LIKE '%volcano%' GROUP BY 1")
    )
    assert {o: sum(c) for o, c in data["counts"].items()} == expected
    assert data["bucket"] == "day" and data["total"] == len(S.VOLCANO)
    text = run("timeline", "volcano", "--as-of", (run.room.now - timedelta(days=30)).date().isoformat()).stdout
    assert ": 0 articles" in text  # nothing was archived then
    assert (
        "since is after until"
        in run("timeline", "volcano", "--since", "2026-05-02", "--until", "2026-05-01", code=1).output
    )


def test_compare(run):
    text = run("compare", "immigration agents Minneapolis").stdout
    assert f"First reported by {S.HERALD}" in text
    assert "agents: 700 (Harbour Herald) vs 600 (Coast Courier)" in text
    assert "“Some 600 agents of the federal immigration agency arrived in Minneapolis" in text
    data = run.json("compare", run.room.links["storm-wire"], "--json")
    assert data["first"]["outlet"] == S.WIRE and data["disagreements"] == []
    assert "no article" in run("compare", "424242", code=1).output
