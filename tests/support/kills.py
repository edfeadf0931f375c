"""For the kill -9 tests: archive counts read from outside the killed process, waiting for a
moment to kill it, and what a sound archive is after a kill."""

from __future__ import annotations

import signal
import sqlite3
import time

import pytest


def counts(archive_path) -> tuple[int, int]:
    """(passages, unembedded), read the way another process would; (0, 0) before the archive exists."""
    try:
        conn = sqlite3.connect(f"file:{archive_path}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0, 0
    try:
        return conn.execute("SELECT count(*), coalesce(sum(embedded = 0), 0) FROM passages").fetchone()
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        conn.close()


def kill_when(proc, condition, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"ingest finished before the kill point ({what}): rc={proc.returncode}\n{err[-2000:]}")
        if condition():
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
            return
        time.sleep(0.005)
    proc.kill()
    proc.wait(10)
    pytest.fail(f"kill point never reached: {what}")


def archive_is_sound(archive_path) -> None:
    conn = sqlite3.connect(archive_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert (
            conn.execute(
                "SELECT count(*) FROM (SELECT guid FROM articles GROUP BY guid HAVING count(*) > 1)"
            ).fetchone()[0]
            == 0
        )
        # every passage belongs to an article
        assert (
            conn.execute("SELECT count(*) FROM passages WHERE article_id NOT IN (SELECT id FROM articles)").fetchone()[
                0
            ]
            == 0
        )
    finally:
        conn.close()
