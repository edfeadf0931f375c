"""`doctor`: finds where the archive and the vector index disagree, and --fix repairs it."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from support.archive import assert_consistent
from support.config import newsdesk, write_config
from support.feeds import Item, long_text, rss20

NOW = datetime.now(UTC)


@pytest.fixture
def ingested(site, desk):
    desk.add_feed(
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
    assert desk.ingest().articles_new == 4
    return desk


def test_a_fresh_ingest_is_consistent(ingested):
    report = ingested.doctor()
    assert report.ok and report.problems == [] and report.fixed == []
    assert report.counts["vectors"] == report.counts["passages"] == report.counts["embedded_passages"]


def test_fix_removes_a_stray_vector_and_re_embeds_a_missing_one(ingested):
    desk = ingested
    store = desk.store_or_open()
    victim = sorted(desk.archive.all_passage_ids())[0]
    store.delete([victim])  # marked embedded, but its vector is gone
    stray = np.ones((1, store.dimension), dtype=np.float32) / np.sqrt(store.dimension)
    store.upsert(["a999999-0-deadbeef00"], stray, [{"article_id": 999999, "published_ts": 0.0, "outlet": "Ghost"}])

    found = desk.doctor()
    assert not found.ok
    assert "1 passages marked embedded have no vector" in found.problems
    assert "1 vectors without a passage in the archive" in found.problems

    fixed = desk.doctor(fix=True)
    assert fixed.ok and fixed.fixed == ["embedded 1 passages, deleted 1 stray vectors"]
    ids = store.all_ids()
    assert victim in ids and "a999999-0-deadbeef00" not in ids

    after = desk.doctor()
    assert after.ok and after.problems == []
    assert_consistent(desk)
    assert desk.search("lava fissures crater").hits[0].article.title == "Volcano story"


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

    found = desk.doctor()
    assert not found.ok
    assert "1 passages without their article" in found.problems
    assert any(p.startswith("full-text index has") for p in found.problems)

    fixed = desk.doctor(fix=True)
    assert fixed.ok
    assert "deleted 1 orphan passages" in fixed.fixed and "rebuilt the full-text index" in fixed.fixed
    assert desk.doctor().problems == []
    assert_consistent(desk)
    assert desk.archive.keyword_search("orphan", limit=5, since_ts=None, until_ts=None) == []


def test_duplicates_are_reported_and_not_fixed_by_guesswork(ingested):
    desk = ingested
    url = desk.archive.db.execute("SELECT url FROM articles LIMIT 1").fetchone()[0]
    with desk.archive.transaction():
        desk.archive.db.execute(
            "INSERT INTO articles (guid, url, title, text) VALUES ('dup-guid', ?, 'Dup', 'dup')", [url]
        )
    report = desk.doctor(fix=True)
    assert "1 URLs archived more than once" in report.problems and not report.ok


def test_doctor_command_fix_and_json(ingested, make_desk, tmp_path):
    desk = ingested
    victim = sorted(desk.archive.all_passage_ids())[-1]
    desk.store_or_open().delete([victim])
    desk.close()

    fixed = newsdesk(["doctor", "--fix", "--json"], desk.config.data_dir, write_config(tmp_path / "newsdesk.toml"))
    assert fixed.returncode == 0, fixed.stderr
    out = json.loads(fixed.stdout)
    assert out["ok"] is True and out["problems"] == ["1 passages marked embedded have no vector"]
    assert out["fixed"] == ["embedded 1 passages, deleted 0 stray vectors"]
    assert out["counts"]["vectors"] == out["counts"]["passages"]

    reopened = make_desk(desk.config)
    assert reopened.doctor().problems == []
    assert victim in reopened.store_or_open().all_ids()
