"""An interrupted ingest keeps what it did: `newsdesk ingest` killed with SIGKILL in the
middle of a feed and right after a batch reached Chroma but before the archive marked it; the
next run continues. Every encode call of every run is logged by a thin wrapper around the real
CLI, so "nothing embedded twice" is counted, not assumed."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from support.config import cli_env, make_config, write_config
from support.feeds import Item, article_page, long_text, rss20
from support.http import delayed, static
from support.kills import archive_is_sound, counts, kill_when

from index.ingest.indexing import EMBED_BATCH, passage_input
from index.models import PassageRow
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

NOW = datetime.now(UTC)
TOPICS = ("volcano", "bank", "octopus", "football")

CHILD = r"""
import hashlib, os, signal, sys, time
from index.vectors import chroma, embedders

LOG = os.environ["RESUME_ENCODE_LOG"]
DELAY = float(os.environ.get("RESUME_ENCODE_DELAY", "0"))
KILL_AFTER = int(os.environ.get("RESUME_KILL_AFTER_UPSERTS", "0"))
real_encode = embedders.HashEmbedder.encode
real_upsert = chroma.VectorStore.upsert
upserts = [0]

def encode(self, texts, batch_size=64):
    time.sleep(DELAY)
    out = real_encode(self, texts, batch_size)
    with open(LOG, "a") as f:
        f.write("".join(hashlib.sha1(t.encode()).hexdigest() + "\n" for t in texts))
    return out

def upsert(self, ids, vectors, metadatas):
    real_upsert(self, ids, vectors, metadatas)
    upserts[0] += 1
    if upserts[0] == KILL_AFTER:  # in Chroma, not yet marked in the archive
        os.kill(os.getpid(), signal.SIGKILL)

embedders.HashEmbedder.encode = encode
chroma.VectorStore.upsert = upsert
from index.cli.commands import cli
cli(sys.argv[1:], prog_name="newsdesk")
"""


def digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


class Env:
    def __init__(self, tmp_path, site, server):
        self.data_dir = tmp_path / "data"
        self.config = write_config(tmp_path / "newsdesk.toml", timeout_seconds=10.0)
        self.child = tmp_path / "child.py"
        self.child.write_text(CHILD)
        self.log = tmp_path / "encoded.log"
        self.site, self.server = site, server

    def start(self, *, delay: float = 0.0, kill_after_upserts: int = 0) -> subprocess.Popen:
        env = cli_env(self.data_dir) | {
            "RESUME_ENCODE_LOG": str(self.log),
            "RESUME_ENCODE_DELAY": str(delay),
            "RESUME_KILL_AFTER_UPSERTS": str(kill_after_upserts),
        }
        return subprocess.Popen(
            [sys.executable, str(self.child), "--config", str(self.config), "ingest", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def encoded(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def db(self):
        return sqlite3.connect(f"file:{self.data_dir / 'archive.db'}?mode=ro", uri=True, timeout=10)

    def inputs(self, embedded_only: bool = False) -> dict[str, str]:
        """digest of the model input -> passage id, as the archive has them now."""
        conn = self.db()
        try:
            rows = conn.execute(
                "SELECT id, article_id, seq, title, text, published_ts, outlet, embedded FROM passages"
            ).fetchall()
        finally:
            conn.close()
        return {
            digest(passage_input(PassageRow(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6] or ""))): r[0]
            for r in rows
            if r[7] or not embedded_only
        }


@pytest.fixture
def resume_env(site, http_server, tmp_path):
    """Three brief feeds (whole text in the feed, answering at once) and one teaser feed whose
    20 pages answer slowly (0.15 s each), so it is read for ~3 s, one article after another."""
    env = Env(tmp_path, site, http_server)
    desk = Newsdesk(make_config(env.data_dir), embedder=HashEmbedder())
    for f in range(3):
        items = [
            Item(
                f"Brief {f}-{n}: {TOPICS[(f + n) % 4]}",
                f"Brief {f}-{n}. " + long_text(TOPICS[(f + n) % 4], 30),
                link=site.url(f"/resume/b{f}/{n}.html"),
                guid=f"brief-{f}-{n}",
                date=NOW - timedelta(minutes=n),
            )
            for n in range(40)
        ]
        desk.feeds.add(site.route(f"/resume/b{f}.xml", static(rss20(f"Briefs {f}", items))))
    teasers = []
    for n in range(20):
        topic = TOPICS[n % 4]
        site.route(
            f"/resume/t/{n}.html",
            delayed(
                static(
                    article_page(f"Long read {n}: {topic}", [f"Long read {n}."] + [long_text(topic, 6)] * 4),
                    content_type="text/html",
                ),
                0.15,
                http_server,
            ),
        )
        teasers.append(
            Item(
                f"Long read {n}: {topic}",
                f"A teaser for long read {n} about the {topic}…",
                link=site.url(f"/resume/t/{n}.html"),
                guid=f"teaser-{n}",
                date=NOW - timedelta(hours=n),
            )
        )
    env.teaser_feed = site.route("/resume/t.xml", static(rss20("Long reads", teasers)))
    desk.feeds.add(env.teaser_feed)
    desk.close()
    return env


def teaser_state(env) -> tuple[int, str | None]:
    """(articles of the teaser feed archived, its stored ETag)"""
    try:
        conn = env.db()
    except sqlite3.OperationalError:
        return 0, None
    try:
        row = conn.execute("SELECT id, etag, last_modified FROM feeds WHERE url = ?", [env.teaser_feed]).fetchone()
        n = conn.execute("SELECT count(*) FROM article_feeds WHERE feed_id = ?", [row[0]]).fetchone()[0]
        return n, row[1] or row[2]
    except (sqlite3.OperationalError, TypeError):
        return 0, None
    finally:
        conn.close()


def page_hits(env) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in range(20):
        out[f"teaser-{n}"] = len(env.site.hits(f"/resume/t/{n}.html"))
    return out


def test_killed_ingest_keeps_its_articles_and_batches_and_the_next_run_continues(resume_env):
    env = resume_env
    archive = env.data_dir / "archive.db"

    # 1. mid-feed: some long reads archived (page by page), the feed not finished
    proc = env.start(delay=0.3)
    kill_when(proc, lambda: teaser_state(env)[0] >= 4 and teaser_state(env)[1] is None, "long-read feed half read")
    archive_is_sound(archive)
    kept_articles, etag = teaser_state(env)
    assert kept_articles >= 4 and etag is None  # archived one by one, the validators not yet stored
    archived_guids = {r[0] for r in env.db().execute("SELECT guid FROM articles WHERE guid LIKE 'teaser-%'")}
    assert len(archived_guids) >= 4
    hits_before = page_hits(env)

    # 2. killed right after its second batch reached Chroma, before the archive marked it
    proc = env.start(delay=0.0, kill_after_upserts=2)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    archive_is_sound(archive)
    # the interrupted feed was read again; its archived long reads were recognised without their pages
    hits_after = page_hits(env)
    for guid in archived_guids:
        assert hits_after[guid] == hits_before[guid], f"page of archived {guid} fetched again"
    assert any(hits_after[g] > hits_before[g] for g in hits_after if g not in archived_guids)
    conn = env.db()
    try:
        inflight = conn.execute("SELECT value FROM meta WHERE key LIKE 'embed_inflight:%'").fetchall()
        passages, unembedded = conn.execute("SELECT count(*), sum(embedded = 0) FROM passages").fetchone()
    finally:
        conn.close()
    assert len(inflight) == 1  # the batch in Chroma whose mark the kill prevented
    in_chroma_unmarked = set(json.loads(inflight[0][0]))
    assert 0 < len(in_chroma_unmarked) <= EMBED_BATCH and unembedded > 0
    embedded_before = env.inputs(embedded_only=True)
    encoded_before = env.encoded()

    # 3. to the end: the batch is recognised, not encoded again; nothing embedded is encoded again
    proc = env.start()
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert report["passages_recovered"] == len(in_chroma_unmarked), report
    # what the kill left embedded, and the batch found in Chroma
    assert f"resuming: {passages - unembedded + len(in_chroma_unmarked):,} passages already embedded" in err, err
    encoded_now = env.encoded()[len(encoded_before) :]
    all_inputs = env.inputs()
    recovered_inputs = {d for d, pid in all_inputs.items() if pid in in_chroma_unmarked}
    assert not set(encoded_now) & (set(embedded_before) | recovered_inputs), "a kept passage was embedded again"
    assert len(encoded_now) == len(set(encoded_now)) == report["passages_embedded"]
    # across the three runs each passage was encoded once, but for at most the batch lost at kill 1
    everything = env.encoded()
    assert set(everything) >= set(all_inputs)
    assert len(everything) - len(all_inputs) <= EMBED_BATCH and len(everything) - len(set(everything)) <= EMBED_BATCH

    doctor = subprocess.run(
        [sys.executable, "-m", "index", "--config", str(env.config), "doctor", "--json"],
        env=cli_env(env.data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result = json.loads(doctor.stdout)
    assert result["ok"] is True and result["problems"] == [], result
    assert result["counts"]["vectors"] == result["counts"]["passages"] == result["counts"]["embedded_passages"]
    conn = env.db()
    try:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 3 * 40 + 20
        assert conn.execute("SELECT count(DISTINCT guid) FROM articles").fetchone()[0] == 3 * 40 + 20
        assert conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'embed_inflight:%'").fetchone()[0] == 0
    finally:
        conn.close()


def test_killed_mid_embedding_keeps_every_marked_batch(resume_env):
    """A kill while batches are being encoded (slow model): what the archive marked is in Chroma
    and is never encoded again; the passages kept grow batch by batch, not per run."""
    env = resume_env
    proc = env.start(delay=0.5)

    def two_batches_done() -> bool:
        passages, unembedded = counts(env.data_dir / "archive.db")
        return passages - unembedded >= 2 * EMBED_BATCH and unembedded > 0

    kill_when(proc, two_batches_done, "two batches embedded, more waiting", limit=120)
    embedded_before = env.inputs(embedded_only=True)
    assert len(embedded_before) >= 2 * EMBED_BATCH
    encoded_before = env.encoded()
    time.sleep(0.1)
    proc = env.start()
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    assert "resuming:" in err
    encoded_now = env.encoded()[len(encoded_before) :]
    assert not set(encoded_now) & set(embedded_before)
    all_inputs = env.inputs()
    assert set(encoded_before) | set(encoded_now) >= set(all_inputs)
    desk = Newsdesk(make_config(env.data_dir), embedder=HashEmbedder())
    try:
        assert desk.archive.all_passage_ids() == desk.parts.store_or_open().all_ids()
        c = desk.archive.counts()
        assert c["embedded_passages"] == c["passages"] == len(all_inputs)
    finally:
        desk.close()


def test_a_batch_in_chroma_but_not_marked_is_recognised_in_process(tmp_path, site):
    """The same window without a subprocess: the mark after an upsert fails, the next run marks
    the batch from Chroma (by id and batch token) without encoding it; an older vector of a
    passage waiting to be re-embedded (feed reindex) is not taken for a finished batch."""
    items = [
        Item(
            f"Story {n}: {TOPICS[n % 4]}",
            f"Story {n}. " + long_text(TOPICS[n % 4], 30),
            link=site.url(f"/inproc/{n}.html"),
            guid=f"inproc-{n}",
            date=NOW - timedelta(minutes=n),
        )
        for n in range(60)
    ]
    url = site.route("/inproc.xml", static(rss20("In process", items)))
    embedder = HashEmbedder()
    calls: list[list[str]] = []
    real_encode = embedder.encode
    embedder.encode = lambda texts, batch_size=64: calls.append(list(texts)) or real_encode(texts, batch_size)
    desk = Newsdesk(make_config(tmp_path / "data", fetch_full_text="never"), embedder=embedder)
    try:
        desk.feeds.add(url)
        real_mark = desk.archive.mark_embedded
        state = {"n": 0}

        def failing_mark(ids, value=1):
            state["n"] += 1
            if state["n"] == 2:
                raise KeyboardInterrupt("killed between upsert and mark")
            return real_mark(ids, value)

        desk.archive.mark_embedded = failing_mark
        with pytest.raises(KeyboardInterrupt):
            desk.indexing.ingest()
        desk.archive.mark_embedded = real_mark
        c = desk.archive.counts()
        assert c["embedded_passages"] == len(calls[0]) and len(calls) == 2
        lost = set(calls[1])
        report = desk.indexing.ingest()
        assert report.passages_recovered == len(lost)
        assert not lost & {t for call in calls[2:] for t in call}
        c = desk.archive.counts()
        assert (
            c["embedded_passages"]
            == c["passages"]
            == report.passages_recovered + report.passages_embedded + len(calls[0])
        )

        # a feed reindex killed after its first batch: the next reindex re-embeds the rest, it does
        # not take their old vectors for done work
        feed = desk.feeds.find(url)
        n_calls = len(calls)
        real_upsert = desk.parts.store_or_open().upsert
        store = desk.parts.store_or_open()

        def dying_upsert(ids, vectors, metadatas):
            if len(calls) > n_calls + 1:
                raise KeyboardInterrupt("killed during the second upsert")
            return real_upsert(ids, vectors, metadatas)

        store.upsert = dying_upsert
        with pytest.raises(KeyboardInterrupt):
            desk.indexing.reindex(feed=feed.id)
        store.upsert = real_upsert
        assert desk.indexing.pending_reindex()["stage"] == "marked"
        resumed = desk.indexing.resume_reindex()
        assert resumed is not None
        _, again = resumed
        assert again.passages_recovered == 0
        assert again.passages_embedded == c["passages"] - len(calls[n_calls])
        assert desk.indexing.pending_reindex() is None
        c = desk.archive.counts()
        assert c["embedded_passages"] == c["passages"]
    finally:
        desk.close()
