"""The `newsdesk` command line, end to end: a TOML config in a temp dir, feeds served on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import support.answers as H
from support.cli import Cli, write_config

from index.cli.commands import cli

NEWSDESK = Path(sys.executable).with_name("newsdesk")

FEED_KEYS = {"url", "name", "articles", "status", "last_error"}
INGEST_KEYS = {
    "feeds_ok",
    "feeds_failed",
    "articles_new",
    "articles_updated",
    "articles_unchanged",
    "passages_embedded",
    "seconds",
    "errors",
}
STATS_KEYS = {"feeds", "articles", "passages", "embedded_passages", "model"}
ARTICLE_KEYS = {"url", "title", "outlet", "published", "authors", "text"}
RESULT_KEYS = {"url", "title", "outlet", "published", "score", "passage"}
CITATION_KEYS = {"n", "url", "title", "outlet", "published", "quote"}


@pytest.fixture(scope="module")
def served():
    return H.serve_feeds()


@pytest.fixture(scope="module")
def run(tmp_path_factory, served, request):
    """A CLI over an archive filled by `feeds add` and `ingest --json`."""
    run = Cli(write_config(tmp_path_factory.mktemp("cli")))
    assert "added: [1]" in run("feeds", "add", served.gazette.url, "--name", H.GAZETTE).stdout
    assert "added: [2]" in run("feeds", "add", served.courier.url, "--name", H.COURIER).stdout
    report = run.json("ingest", "--json")
    run.first_report = report
    return run


def test_ingest_json(run):
    report = run.first_report
    assert INGEST_KEYS <= set(report)
    assert report["feeds_ok"] == 2 and report["feeds_failed"] == 0
    assert report["articles_new"] == len(H.ALL_SLUGS)
    assert report["articles_updated"] == 0 and report["articles_unchanged"] == 0
    assert report["passages_embedded"] >= len(H.ALL_SLUGS)
    assert report["errors"] == {}
    assert isinstance(report["seconds"], (int, float))
    again = run.json("ingest", "--json")
    assert again["articles_new"] == 0 and again["articles_unchanged"] == len(H.ALL_SLUGS)
    assert again["passages_embedded"] == 0


def test_feeds_add_twice_is_reported(run, served):
    assert "already present: [1]" in run("feeds", "add", served.gazette.url).stdout


def test_feeds_list_json(run, served):
    feeds = run.json("feeds", "list", "--json")
    assert [f["url"] for f in feeds] == [served.gazette.url, served.courier.url]
    for f in feeds:
        assert FEED_KEYS <= set(f)
        assert f["status"] == "ok" and f["last_error"] is None
    assert [f["name"] for f in feeds] == [H.GAZETTE, H.COURIER]
    assert [f["articles"] for f in feeds] == [len(H.GAZETTE_STORIES), len(H.COURIER_STORIES)]


def test_feeds_list_table(run):
    out = run("feeds", "list").stdout
    assert H.GAZETTE in out and H.COURIER in out


def test_stats_json(run):
    stats = run.json("stats", "--json")
    assert STATS_KEYS <= set(stats)
    assert stats["feeds"] == 2 and stats["articles"] == len(H.ALL_SLUGS)
    assert stats["passages"] == stats["embedded_passages"] >= len(H.ALL_SLUGS)
    assert stats["model"] == "hash-embedder-256"
    assert "articles: 10" in run("stats").stdout


def test_article_json(run, served):
    url = served.links["chess"]
    article = run.json("article", url, "--json")
    assert ARTICLE_KEYS <= set(article)
    assert article["url"] == url
    assert article["title"] == "Chess prodigy wins national championship at age twelve"
    assert article["outlet"] == H.GAZETTE
    assert article["published"].startswith("2024-03-05")
    assert isinstance(article["authors"], list)
    assert "grandmasters" in article["text"]
    by_id = run.json("article", str(article["id"]), "--json")
    assert by_id["url"] == url
    text = run("article", url).stdout
    assert text.startswith("Chess prodigy wins national championship at age twelve\n")


def test_unknown_article_is_an_error(run):
    result = run("article", "https://nowhere.example/x", code=1)
    assert result.stderr.startswith("error: no article")


def test_search_json(run, served):
    data = run.json("search", "twelve year old chess prodigy", "--json", "--limit", "3")
    assert set(data) >= {"results", "notices"}
    results = data["results"]
    assert 1 <= len(results) <= 3
    assert RESULT_KEYS <= set(results[0])
    assert results[0]["url"] == served.links["chess"]
    assert isinstance(results[0]["score"], float)
    assert "chess" in results[0]["passage"].lower()


def test_search_filters_on_the_command_line(run, served):
    data = run.json("search", "honey harvest beekeepers", "--json", "--until", "2024-05-31")
    assert served.links["honey"] not in [r["url"] for r in data["results"]]
    data = run.json("search", "electric ferry", "--json", "--source", "courier")
    assert {r["outlet"] for r in data["results"]} == {H.COURIER}
    data = run.json("search", "wildfire vineyards", "--json", "--as-of", "2024-03-19")
    assert served.links["wildfire"] not in [r["url"] for r in data["results"]]


def test_search_text(run):
    out = run("search", "twelve year old chess prodigy", "--limit", "2").stdout
    assert out.startswith("1. Chess prodigy wins national championship at age twelve — Harbor Gazette, 2024-03-05")


def test_ask_json(run, served):
    data = run.json("ask", "Who won the national chess championship?", "--json")
    assert data["abstained"] is False
    assert data["citations"] and CITATION_KEYS <= set(data["citations"][0])
    assert data["citations"][0]["n"] == 1
    assert data["citations"][0]["url"] == served.links["chess"]
    assert "[1]" in data["answer"]


def test_ask_text(run, served):
    out = run("ask", "Who won the national chess championship?").stdout
    assert "[1]" in out and "Sources:" in out and served.links["chess"] in out


def test_batch_search(run, served, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"id": "a", "question": "twelve year old chess prodigy"},
                {"id": "b", "question": "wildfire vineyards", "asked_at": "2024-03-19"},
                {"id": "c", "question": "   "},
            ]
        )
        + "\n\n",
        encoding="utf-8",
    )
    lines = run.lines("search", "--queries", queries, "--limit", "5")
    assert [line["id"] for line in lines] == ["a", "b", "c"]
    for line in lines[:2]:
        assert {"id", "results"} <= set(line)
        assert len(line["results"]) <= 5
        for r in line["results"]:
            assert RESULT_KEYS <= set(r)
    assert lines[0]["results"]  # b may be empty: nothing related was published before its asked_at
    assert lines[0]["results"][0]["url"] == served.links["chess"]
    assert served.links["wildfire"] not in [r["url"] for r in lines[1]["results"]]  # asked_at honoured
    assert lines[2]["results"] == [] and "empty" in lines[2]["error"]


def test_batch_ask(run, served, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {"id": 1, "question": "Who won the national chess championship?"},
                {"id": 2, "question": "Why did the bakery recall sourdough bread?", "asked_at": "2024-04-01"},
                {"id": 3, "question": "quantum entanglement cryptography"},
            ]
        ),
        encoding="utf-8",
    )
    lines = run.lines("ask", "--queries", queries)
    assert [line["id"] for line in lines] == [1, 2, 3]
    for line in lines:
        assert {"id", "answer", "citations", "abstained"} <= set(line)
        for c in line["citations"]:
            assert CITATION_KEYS <= set(c)
    assert lines[0]["abstained"] is False and lines[0]["citations"][0]["url"] == served.links["chess"]
    assert [c["n"] for c in lines[0]["citations"]] == list(range(1, len(lines[0]["citations"]) + 1))
    assert served.links["bakery"] not in [c["url"] for c in lines[1]["citations"]]
    assert lines[2]["abstained"] is True and lines[2]["citations"] == []


def test_batch_file_errors(run, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "ok"}\nnot json\n', encoding="utf-8")
    result = run("ask", "--queries", bad, code=1)
    assert result.stderr.startswith("error: ") and "bad.jsonl:2" in result.stderr
    for n, line in enumerate(['{"id": 1}', '{"id": 1, "question": 42}', "null", '"a question"', "[1, 2]"]):
        wrong = tmp_path / f"wrong{n}.jsonl"
        wrong.write_text(line + "\n", encoding="utf-8")
        for command in ("search", "ask"):
            result = run(command, "--queries", wrong, code=1)
            assert result.stderr.startswith(f"error: {wrong}:1: not a query line"), (line, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1


def test_latest_json(run, served):
    data = run.json("latest", "--json")
    urls = [r["url"] for r in data["results"]]
    assert urls[0] == served.links["honey"]
    dates = [r["published"] for r in data["results"]]
    assert dates == sorted(dates, reverse=True)
    data = run.json("latest", "--json", "--source", "gazette", "--limit", "2")
    assert [r["url"] for r in data["results"]] == [served.links["exoplanet"], served.links["bakery"]]
    data = run.json("latest", "--json", "--as-of", "2024-03-31", "--limit", "1")
    assert [r["url"] for r in data["results"]] == [served.links["wildfire"]]


def test_doctor(run):
    result = run("doctor")
    assert result.stdout.startswith("consistent")
    data = run.json("doctor", "--json")
    assert data["ok"] is True and data["problems"] == []
    assert data["counts"]["vectors"] == data["counts"]["passages"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "ferry", "--since", "not a date at all"], "error: since: cannot understand"),
        (["ask", "ferry", "--until", "the twelfth of never"], "error: until: cannot understand"),
        (["search", "ferry", "--since", "2024-05-01", "--until", "2024-04-01"], "error: since is after until"),
        (["ask", "ferry", "--as-of", "???"], "error: as-of:"),
        (["search", "ferry", "--source", "Daily Planet"], "error: unknown source 'Daily Planet'"),
        (["search"], "error: give a QUERY"),
        (["ask"], "error: give a QUESTION"),
        (["search", "?!?"], "error: the question has no words"),
        (["feeds", "remove", "no-such-feed"], "error: no feed"),
        (["feeds", "add", "ftp://example.org/feed.xml"], "error: "),
        (["feeds", "import", "/nonexistent/file.opml"], "error: cannot read"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_1(run, args, message):
    result = run(*args, code=1)
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_feeds_export_import_remove(run, served, tmp_path):
    opml = run("feeds", "export").stdout
    assert served.gazette.url in opml and served.courier.url in opml
    path = tmp_path / "feeds.opml"
    path.write_text(opml, encoding="utf-8")

    other = Cli(write_config(tmp_path / "other"))
    assert other("feeds", "import", path).stdout.startswith("imported 2 feeds (0 already present, 0 refused)")
    assert other("feeds", "import", path).stdout.startswith("imported 0 feeds (2 already present, 0 refused)")
    feeds = other.json("feeds", "list", "--json")
    assert {f["url"] for f in feeds} == {served.gazette.url, served.courier.url}
    assert {f["name"] for f in feeds} == {H.GAZETTE, H.COURIER}

    removed = other("feeds", "remove", H.COURIER).stdout
    assert removed.startswith("removed [") and served.courier.url in removed and "(0 articles)" in removed
    assert [f["url"] for f in other.json("feeds", "list", "--json")] == [served.gazette.url]


def test_feeds_remove_drops_its_articles(tmp_path, served):
    run = Cli(write_config(tmp_path))
    run("feeds", "add", served.gazette.url, "--name", H.GAZETTE)
    run("feeds", "add", served.courier.url, "--name", H.COURIER)
    run.json("ingest", "--json")
    out = run("feeds", "remove", served.courier.url).stdout
    assert f"({len(H.COURIER_STORIES)} articles)" in out
    stats = run.json("stats", "--json")
    assert stats["feeds"] == 1 and stats["articles"] == len(H.GAZETTE_STORIES)
    assert run.json("doctor", "--json")["ok"] is True  # vectors of removed passages are gone too
    data = run.json("search", "rail freight strike", "--json")
    assert {r["outlet"] for r in data["results"]} == {H.GAZETTE}


def test_ingest_reports_a_failing_feed(tmp_path, served):
    run = Cli(write_config(tmp_path))
    broken = served.gazette.server.base + "/no/such/feed.xml"
    run("feeds", "add", broken)
    result = run("ingest", "--json", code=1)  # every feed failed
    report = json.loads(result.stdout)
    assert report["feeds_ok"] == 0 and report["feeds_failed"] == 1
    assert broken in report["errors"] and "404" in report["errors"][broken]
    feeds = run.json("feeds", "list", "--json")
    assert feeds[0]["status"] == "error" and "404" in feeds[0]["last_error"]
    run("feeds", "add", served.courier.url)
    report = run.json("ingest", "--json")  # one ok: exit 0
    assert report["feeds_ok"] == 1 and report["feeds_failed"] == 1


def test_subcommands_exist():
    names = set(cli.commands)
    assert {
        "feeds",
        "ingest",
        "reindex",
        "stats",
        "article",
        "doctor",
        "search",
        "ask",
        "latest",
        "eval",
        "chat",
        "run",
        "worker",
    } <= names
    assert {"add", "list", "remove", "import", "export"} <= set(cli.commands["feeds"].commands)


def test_installed_entry_point(tmp_path):
    if not NEWSDESK.exists():
        pytest.skip("the newsdesk script is not installed in this environment")
    bad = tmp_path / "bad.toml"
    bad.write_text("[feeds]\nworkers = 'many'\n", encoding="utf-8")
    proc = subprocess.run([str(NEWSDESK), "--config", str(bad), "stats"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {bad}: key 'feeds.workers' must be a whole number"]
    assert proc.stdout == ""
