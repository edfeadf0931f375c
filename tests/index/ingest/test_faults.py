"""Faults outside the program: a vector index that cannot be written or reached, and a full disk.

The read-only index and the full disk use real file systems (a read-only bind mount, a 2 MB
tmpfs), which needs root; those tests skip when mounting is not possible."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.archive import assert_consistent, feed_row
from support.config import newsdesk, with_index, write_config
from support.feeds import Item, long_text, rss20

from index.archive import Archive
from index.errors import ArchiveError, IndexUnavailable, NewsdeskError

NOW = datetime.now(UTC)


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True)


@contextlib.contextmanager
def read_only(path: Path):
    """Make a directory read-only for everyone, root included: a read-only bind mount of itself."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root (and chmod does not stop root)")
    if run("mount", "--bind", str(path), str(path)).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        if run("mount", "-o", "remount,ro,bind", str(path)).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield
    finally:
        run("umount", "-l", str(path))


@contextlib.contextmanager
def small_disk(path: Path, size: str):
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield
    finally:
        run("umount", "-l", str(path))


def counts(desk) -> tuple:
    db = desk.archive.db
    return (
        db.execute("SELECT count(*) FROM articles").fetchone()[0],
        db.execute("SELECT count(*) FROM passages").fetchone()[0],
        db.execute("SELECT count(*) FROM article_feeds").fetchone()[0],
    )


def serve(site, n: int, sentences: int = 8, path: str = "/faults.xml") -> str:
    topics = ("volcano", "bank", "octopus", "football")
    return site.serve(
        path,
        rss20(
            "Fault Times",
            [
                Item(
                    f"Story {i} {topics[i % 4]}",
                    f"Story {i}. " + long_text(topics[i % 4], sentences),
                    link=site.url(f"/story/{i}.html"),
                    guid=f"story-{i}",
                    date=NOW - timedelta(minutes=i),
                )
                for i in range(n)
            ],
        ),
    )


# -- the vector index cannot be written -------------------------------------------------
def test_a_read_only_index_fails_the_ingest_before_the_archive_is_touched(site, desk, tmp_path):
    url = serve(site, 3)
    desk.feeds.add(url)
    assert desk.indexing.ingest().articles_new == 3
    desk.close()
    before = counts(desk)
    fetched_before = feed_row(desk, url)["last_fetch_at"]
    serve(site, 6)  # three new stories
    config = write_config(tmp_path / "newsdesk.toml")
    with read_only(desk.config.chroma_path):
        # another process, as it would be in production (this one has the index open already)
        failed = newsdesk(["ingest"], desk.config.data_dir, config)
        assert failed.returncode == 1
        assert failed.stderr.startswith(f"error: vector index at {desk.config.chroma_path} is unavailable")
        assert "readonly" in failed.stderr or "read-only" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert counts(desk) == before
        assert feed_row(desk, url)["last_fetch_at"] == fetched_before  # not even the feed's state moved
    recovered = newsdesk(["ingest", "--json"], desk.config.data_dir, config)
    assert recovered.returncode == 0, recovered.stderr
    assert '"articles_new": 3' in recovered.stdout
    assert_consistent(desk)


def test_an_index_path_that_is_a_file_fails_the_ingest_cleanly(site, make_desk, config):
    config.data_dir.mkdir(parents=True)
    config.chroma_path.write_text("not a directory")
    desk = make_desk(config)
    desk.feeds.add(serve(site, 3))
    with pytest.raises(IndexUnavailable, match=f"vector index at {config.chroma_path} is unavailable"):
        desk.indexing.ingest()
    assert counts(desk) == (0, 0, 0)
    assert feed_row(desk, site.url("/faults.xml"))["status"] == "new"


def test_an_index_that_turns_read_only_while_open_leaves_pending_work_not_damage(site, desk):
    url = serve(site, 3)
    desk.feeds.add(url)
    desk.indexing.ingest()  # this process now has the index open
    serve(site, 6)
    with read_only(desk.config.chroma_path):
        with pytest.raises(IndexUnavailable, match="cannot write to the vector index"):
            desk.indexing.ingest()
        db = desk.archive.db
        # the new articles are archived, their passages waiting to be embedded
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 6
        assert db.execute("SELECT count(*) FROM passages WHERE embedded = 0").fetchone()[0] > 0
    report = desk.indexing.ingest()  # writable again: the next run finishes the work
    assert report.passages_embedded > 0 and report.articles_new == 0
    assert desk.health.doctor().problems == []
    assert_consistent(desk)


# -- the vector index cannot be reached ----------------------------------------------------
def test_queries_fall_back_to_keyword_search_when_the_index_is_unreachable(site, desk, make_desk, config):
    desk.feeds.add(serve(site, 4))
    desk.indexing.ingest()
    offline = make_desk(with_index(config, chroma_url="http://127.0.0.1:9"))  # nothing listens on port 9
    result = offline.retriever.search("lava fissures crater harbour")
    assert result.hits and result.hits[0].article.title == "Story 0 volcano"
    assert any("keyword results only" in n for n in result.notices)
    assert any("http://127.0.0.1:9" in n for n in result.notices)
    answer = offline.reading.ask("What happened at the volcano?")
    assert answer is not None
    status = offline.health.status()
    assert status["vectors"] is None and "unavailable" in status["index_error"]
    doctor = offline.health.doctor()
    assert not doctor.ok and any("unavailable" in p for p in doctor.problems)
    # polling a feed with nothing new needs no index at all
    again = offline.indexing.ingest()
    assert again.articles_unchanged == 4 and not again.errors


def test_new_articles_are_not_archived_while_the_index_is_unreachable(site, desk, make_desk, config):
    url = serve(site, 2)
    desk.feeds.add(url)
    desk.indexing.ingest()
    serve(site, 4)
    offline = make_desk(with_index(config, chroma_url="http://127.0.0.1:9"))
    with pytest.raises(IndexUnavailable, match="http://127.0.0.1:9"):
        offline.indexing.ingest()
    assert counts(desk)[0] == 2
    assert desk.indexing.ingest().articles_new == 2  # back online: nothing was lost
    assert_consistent(desk)


# -- the disk is full ------------------------------------------------------------------------
def test_a_full_disk_fails_the_ingest_clearly_and_leaves_a_sound_archive(site, make_desk, config, tmp_path):
    data_dir = config.data_dir
    config = config.replace(feeds=dataclasses.replace(config.feeds, max_entries_per_poll=1000))  # 300 in one poll
    with small_disk(data_dir, "2m"):
        # the vector index lives on the big disk: it is the archive that runs out of room
        (tmp_path / "chroma").mkdir()
        config.chroma_path.symlink_to(tmp_path / "chroma")
        desk = make_desk(config)
        desk.feeds.add(serve(site, 300, sentences=30))
        with pytest.raises(NewsdeskError) as caught:
            desk.indexing.ingest()
        assert isinstance(caught.value, ArchiveError)
        assert "disk is full" in str(caught.value) or "No space left" in str(caught.value)
        desk.close()

        reopened = Archive(config.archive_path)  # still opens
        assert reopened.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        reopened.close()
        checked = make_desk(config).health.doctor()
        assert not [p for p in checked.problems if "not yet embedded" not in p], checked.problems

        assert run("mount", "-o", "remount,size=64m", str(data_dir)).returncode == 0  # room again
        later = make_desk(config)
        report = later.indexing.ingest()
        assert report.feeds_ok == 1 and not report.errors
        assert later.archive.counts()["articles"] == 300
        assert later.health.doctor().problems == []
        assert_consistent(later)
        later.close()
    shutil.rmtree(tmp_path / "chroma", ignore_errors=True)


def test_the_archive_itself_read_only_is_a_clear_error(site, desk, config):
    desk.feeds.add(serve(site, 2))
    desk.indexing.ingest()
    desk.close()
    with read_only(config.data_dir):
        with pytest.raises(ArchiveError) as caught:
            Archive(config.archive_path).add_feed("http://127.0.0.1:1/x.xml")
        message = str(caught.value).lower()
        assert "read-only" in message or "readonly" in message or "unable to open" in message
