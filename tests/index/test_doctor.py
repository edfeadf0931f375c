"""`doctor`: finds where the archive and the vector index disagree, and --fix repairs it."""

from __future__ import annotations

import dataclasses
import http.server
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from support.archive import assert_consistent
from support.config import newsdesk, with_embedding, with_index, write_config
from support.feeds import Item, long_text, rss20
from support.http import free_port

from index.archive import MIGRATIONS
from index.config import AnswersConfig

NOW = datetime.now(UTC)


@pytest.fixture
def ingested(site, desk):
    desk.feeds.add(
        site.serve(
            "/doctor.xml",
            rss20(
                "Doctor Times",
                [
                    Item(
                        f"{topic.title()} story",
                        long_text(topic, 10),
                        link=site.url(f"/{topic}.html"),
                        guid=topic,
                        date=NOW - timedelta(hours=i),
                    )
                    for i, topic in enumerate(("volcano", "bank", "octopus", "football"))
                ],
            ),
        )
    )
    assert desk.indexing.ingest().articles_new == 4
    return desk


def test_a_fresh_ingest_is_consistent(ingested):
    report = ingested.health.doctor()
    assert report.ok and report.problems == [] and report.fixed == []
    assert report.counts["vectors"] == report.counts["passages"] == report.counts["embedded_passages"]


def test_fix_removes_a_stray_vector_and_re_embeds_a_missing_one(ingested):
    desk = ingested
    store = desk.parts.store_or_open()
    victim = sorted(desk.archive.all_passage_ids())[0]
    store.delete([victim])  # marked embedded, but its vector is gone
    stray = np.ones((1, store.dimension), dtype=np.float32) / np.sqrt(store.dimension)
    store.upsert(["a999999-0-deadbeef00"], stray, [{"article_id": 999999, "published_ts": 0.0, "outlet": "Ghost"}])

    found = desk.health.doctor()
    assert not found.ok
    assert "1 passages marked embedded have no vector" in found.problems
    assert "1 vectors without a passage in the archive" in found.problems

    fixed = desk.health.doctor(fix=True)
    assert fixed.ok and fixed.fixed == ["embedded 1 passages, deleted 1 stray vectors"]
    ids = store.all_ids()
    assert victim in ids and "a999999-0-deadbeef00" not in ids

    after = desk.health.doctor()
    assert after.ok and after.problems == []
    assert_consistent(desk)
    assert desk.retriever.search("lava fissures crater").hits[0].article.title == "Volcano story"


def test_fix_rebuilds_the_full_text_index_and_drops_orphan_passages(ingested):
    desk = ingested
    db = desk.archive.db
    passage = db.execute("SELECT rowid, id FROM passages LIMIT 1").fetchone()
    db.execute(
        "INSERT INTO passages_fts(passages_fts, rowid, title, text) SELECT 'delete', rowid, title, text "
        "FROM passages WHERE rowid = ?",
        [passage[0]],
    )
    # an orphan, written behind the archive's back (no foreign keys on this connection)
    raw = sqlite3.connect(desk.config.archive_path)
    raw.execute(
        "INSERT INTO passages (id, article_id, seq, title, text, published_ts, outlet, embedded) "
        "VALUES ('a424242-0-orphan0000', 424242, 0, 'Orphan', 'orphan text', 0, 'Ghost', 0)"
    )
    raw.commit()
    raw.close()

    found = desk.health.doctor()
    assert not found.ok
    assert "1 passages without their article" in found.problems
    assert any(p.startswith("full-text index has") for p in found.problems)

    fixed = desk.health.doctor(fix=True)
    assert fixed.ok
    assert "deleted 1 orphan passages" in fixed.fixed and "rebuilt the full-text index" in fixed.fixed
    assert desk.health.doctor().problems == []
    assert_consistent(desk)
    assert desk.archive.keyword_search("orphan", limit=5, since_ts=None, until_ts=None) == []


def test_duplicates_are_reported_and_not_fixed_by_guesswork(ingested):
    desk = ingested
    url = desk.archive.db.execute("SELECT url FROM articles LIMIT 1").fetchone()[0]
    with desk.archive.transaction():
        desk.archive.db.execute(
            "INSERT INTO articles (guid, url, title, text) VALUES ('dup-guid', ?, 'Dup', 'dup')", [url]
        )
    report = desk.health.doctor(fix=True)
    assert "1 URLs archived more than once" in report.problems and not report.ok


def test_doctor_command_fix_and_json(ingested, make_desk, tmp_path):
    desk = ingested
    victim = sorted(desk.archive.all_passage_ids())[-1]
    desk.parts.store_or_open().delete([victim])
    desk.close()

    fixed = newsdesk(["doctor", "--fix", "--json"], desk.config.data_dir, write_config(tmp_path / "newsdesk.toml"))
    assert fixed.returncode == 0, fixed.stderr
    out = json.loads(fixed.stdout)
    assert out["ok"] is True and out["problems"] == ["1 passages marked embedded have no vector"]
    assert out["fixed"] == ["embedded 1 passages, deleted 0 stray vectors"]
    assert out["counts"]["vectors"] == out["counts"]["passages"]

    reopened = make_desk(desk.config)
    assert reopened.health.doctor().problems == []
    assert victim in reopened.parts.store_or_open().all_ids()


# -- the installation -------------------------------------------------------------------
def _models_server():
    """A real OpenAI-compatible stand-in on 127.0.0.1 answering GET /v1/models."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.path)
            body = b'{"object": "list", "data": [{"id": "test", "object": "model"}]}'
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, seen


def _with_llm(config, url):
    return dataclasses.replace(config, answers=AnswersConfig(llm_url=url, llm_model="test"))


def test_a_fresh_install_passes_every_installation_check(desk):
    report = desk.health.doctor()
    assert report.ok and report.problems == []
    checks = {c["check"]: c for c in report.installation}
    assert set(checks) == {"model", "chroma", "migrations", "dense", "writer"}  # nothing optional configured
    assert all(c["ok"] and c["problem"] is None for c in checks.values())
    assert checks["migrations"]["detail"] == f"current ({len(MIGRATIONS)} applied)"


def test_an_llm_endpoint_on_a_closed_port_is_one_clear_line(make_desk, config):
    url = f"http://127.0.0.1:{free_port()}/v1"
    report = make_desk(_with_llm(config, url)).health.doctor()
    assert not report.ok
    assert report.problems == [
        f"LLM endpoint {url} does not answer (connection refused): start it or remove answers.llm_url"
    ]


def test_an_llm_endpoint_that_answers_models_is_no_problem(make_desk, config):
    httpd, seen = _models_server()
    try:
        report = make_desk(_with_llm(config, f"http://127.0.0.1:{httpd.server_address[1]}/v1")).health.doctor()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert report.ok and report.problems == []
    assert seen == ["/v1/models"]
    assert next(c for c in report.installation if c["check"] == "llm")["ok"]


def test_a_chroma_server_that_does_not_answer_is_one_line(make_desk, config):
    url = f"http://127.0.0.1:{free_port()}"
    report = make_desk(with_index(config, chroma_url=url)).health.doctor()
    assert not report.ok
    assert report.problems == [
        f"Chroma server {url} is unavailable (heartbeat: connection refused): "
        "start it (chroma run) or remove index.chroma_url"
    ]


def test_migrations_missing_or_unknown_are_reported(desk):
    db = desk.archive.db
    with desk.archive.transaction():
        db.execute("DELETE FROM migrations WHERE name = ?", [MIGRATIONS[-1].__name__])
    assert desk.health.doctor().problems == [
        f"archive migrations not applied ({MIGRATIONS[-1].__name__}): start newsdesk once to apply them"
    ]
    with desk.archive.transaction():
        db.execute(
            "INSERT INTO migrations VALUES (?, '2030-01-01'), ('m999_from_the_future', '2030-01-01')",
            [MIGRATIONS[-1].__name__],
        )
    assert desk.health.doctor().problems == [
        "the archive was migrated by a newer newsdesk (m999_from_the_future): upgrade newsdesk"
    ]


def test_a_model_that_does_not_load_is_one_line_and_doctor_still_checks_the_archive(make_desk, config):
    broken = with_embedding(config, model="no-such-model-anywhere", backend="bogus")
    report = make_desk(broken, embedder=None).health.doctor()
    assert not report.ok
    assert report.problems[0].startswith("embedding model no-such-model-anywhere does not load offline (")
    assert "Chroma not checked: the embedding model must load first" in report.problems
    assert report.counts["articles"] == 0


def test_doctor_json_keeps_its_keys_and_adds_the_installation(tmp_path):
    data = tmp_path / "data"
    out = newsdesk(["doctor", "--json"], data, write_config(tmp_path / "newsdesk.toml"))
    assert out.returncode == 0, out.stderr
    parsed = json.loads(out.stdout)
    assert {"ok", "problems", "fixed", "counts", "installation"} <= set(parsed)
    assert [c["check"] for c in parsed["installation"]] == ["model", "chroma", "migrations", "dense", "writer"]
