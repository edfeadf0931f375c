"""Whether a search used dense retrieval is never silent: the retriever's state, `search --json`,
`ask --json`, `/status` (its data and embed) and `doctor` say whether it ran and, when it
failed, why (the search then answers from keywords alone)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from support.cli import Cli, write_config
from support.config import with_index
from support.feeds import Item, long_text, rss20

from bot import render
from index.config import load_config
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

NOW = datetime.now(UTC)


def serve(site) -> str:
    return site.serve(
        "/dense.xml",
        rss20(
            "Dense Times",
            [
                Item(
                    f"Story {i} {topic}",
                    long_text(topic, 6),
                    link=site.url(f"/dense/{i}.html"),
                    guid=f"dense-{i}",
                    date=NOW - timedelta(hours=i),
                )
                for i, topic in enumerate(("volcano", "bank", "octopus"))
            ],
        ),
    )


def test_a_search_says_whether_dense_retrieval_ran_and_why_not(site, desk, make_desk, config):
    desk.retriever.search("volcano")
    state = desk.retriever.dense_state
    assert state.ran is False and state.error is None  # nothing embedded yet: nothing failed
    desk.feeds.add(serve(site))
    desk.indexing.ingest()
    desk.retriever.search("volcano lava")
    assert desk.retriever.dense_state.ran is True and desk.retriever.dense_state.error is None
    status = desk.health.status()
    assert status["dense"] is True and status["dense_problem"] is None
    assert next(f.value for f in render.status_embed(status).fields if f.name == "Semantic search") == "on"

    offline = make_desk(with_index(config, chroma_url="http://127.0.0.1:9"))  # nothing listens on port 9
    result = offline.retriever.search("volcano lava")
    assert result.hits  # keywords alone…
    state = offline.retriever.dense_state
    assert state.ran is False and "127.0.0.1:9" in (state.error or "")  # …and it says so
    assert any("keyword results only" in n for n in result.notices)
    status = offline.health.status()
    assert status["dense"] is False and status["last_search_dense"] is False
    embed = render.status_embed(status)
    line = next(f.value for f in embed.fields if f.name == "Semantic search")
    assert "keywords alone" in line and "127.0.0.1:9" in line


def test_the_json_output_carries_dense_and_its_error(site, tmp_path):
    url = serve(site)
    online = Cli(write_config(tmp_path / "on"))
    online("feeds", "add", url)
    online("ingest")
    found = online.json("search", "volcano lava", "--json")
    assert found["dense"] is True and found["dense_error"] is None and found["results"]
    asked = online.json("ask", "What happened at the volcano?", "--json")
    assert asked["dense"] is True and asked["dense_error"] is None

    # the same archive read through a Chroma server that does not answer
    data = tmp_path / "on" / "data"
    offline = Cli(write_config(tmp_path / "off", index={"chroma_url": "http://127.0.0.1:9"}))
    offline_config = offline.config.read_text().replace(str(tmp_path / "off" / "data"), str(data))
    offline.config.write_text(offline_config)
    found = offline.json("search", "volcano lava", "--json")
    assert found["results"] and found["dense"] is False and "127.0.0.1:9" in found["dense_error"]
    asked = offline.json("ask", "What happened at the volcano?", "--json")
    assert asked["dense"] is False and "127.0.0.1:9" in asked["dense_error"]
    lines = [json.loads(x) for x in offline("search", "--queries", str(_queries(tmp_path))).stdout.splitlines()]
    assert lines and all(x["dense"] is False and x["dense_error"] for x in lines)


def _queries(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"id": "q1", "question": "volcano lava"}) + "\n")
    return path


def test_doctor_fails_its_dense_check_with_the_reason(site, tmp_path):
    path = write_config(tmp_path / "m")
    config = load_config(path)
    built = Newsdesk(config, embedder=HashEmbedder())
    try:
        built.feeds.add(serve(site))
        built.indexing.ingest()
        checks = {c["check"]: c for c in built.health.doctor().installation}
        assert checks["dense"]["ok"] and checks["dense"]["detail"] == "dense retrieval works"
    finally:
        built.close()
    other = Newsdesk(config, embedder=HashEmbedder(dimension=128))  # vectors of another model in the index
    try:
        report = other.health.doctor()
        dense = next(c for c in report.installation if c["check"] == "dense")
        assert not dense["ok"] and "keywords alone" in dense["problem"] and "hash-embedder-256" in dense["problem"]
        assert not report.ok
    finally:
        other.close()
