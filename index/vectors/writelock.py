"""One writer at a time on an embedded vector index.

Embedded Chroma is not safe for two processes writing one directory at once (each keeps its own
in-memory HNSW index and flushes it over the other's), so whoever writes vectors holds an OS
lock (``flock``) on a file in the index directory: a ``newsdesk worker`` and a bot that polls for
as long as they run, ``newsdesk ingest`` and ``reindex`` (and the bot's /reindex) while they
work. A second writer is refused at once with the holder's name and the way out (a Chroma server,
``chroma run``), never made to wait or interleave. The OS drops the lock when its process ends,
however it ends, so a killed writer never leaves the index locked.

The lock is per process and re-entrant: several Newsdesk objects of one process (tests, a bot
with its own polling) share it. A Chroma server (``index.chroma_url``) needs no lock: the server
is the one writer."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import IndexBusy, IndexUnavailable

LOCK_NAME = "newsdesk-writer.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds the writer lock (as the holder wrote it into the lock file)."""

    pid: int
    role: str
    host: str
    since: str

    def describe(self) -> str:
        return f"{self.role} (pid {self.pid} on {self.host}, since {self.since})"


@dataclass
class _Held:
    fd: int
    count: int
    holder: Holder


_held: dict[str, _Held] = {}  # lock file path -> this process's hold
_guard = threading.Lock()


def lock_path(directory: Path) -> Path:
    return Path(directory) / LOCK_NAME


def busy_message(directory: Path, holder: Holder | None, role: str) -> str:
    who = holder.describe() if holder else "another process"
    return (
        f"{role} refused: the embedded vector index at {directory} is being written by {who}. "
        "Embedded Chroma takes one writer at a time: run one writer (one `newsdesk worker`, or the bot "
        "with polling on, and `newsdesk run --no-poll` for the others), or stop it first; to run several "
        "writers, use a Chroma server (`chroma run --path DIR --port 8000`, and [index] chroma_url in "
        "every process's config)"
    )


class WriterLock:
    """The writer lock of one embedded index directory (``directory`` None: a Chroma server, no lock)."""

    def __init__(self, directory: Path | None):
        self.directory = Path(directory) if directory is not None else None
        self._mine = 0  # holds taken through this object (release() gives back only these)

    @property
    def path(self) -> Path | None:
        return lock_path(self.directory) if self.directory is not None else None

    def acquire(self, role: str) -> None:
        """Take the lock (re-entrant in this process) or raise IndexBusy naming its holder."""
        if self.path is None:
            return
        key = str(self.path)
        with _guard:
            held = _held.get(key)
            if held is not None:
                held.count += 1
                self._mine += 1
                return
            fd = _open(self.path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise IndexBusy(busy_message(self.path.parent, read_holder(self.path), role)) from None
            holder = Holder(os.getpid(), role, socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            # who holds it, for the message another process shows (the file itself is never removed:
            # removing a lock file lets two processes lock two different files)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(holder.__dict__).encode(), 0)
            except OSError:  # a read-only index: locked all the same; Chroma says what is wrong
                pass
            _held[key] = _Held(fd, 1, holder)
            self._mine += 1

    def release(self) -> None:
        if self.path is None or self._mine == 0:
            return
        key = str(self.path)
        with _guard:
            held = _held.get(key)
            self._mine -= 1
            if held is None:
                return
            held.count -= 1
            if held.count <= 0:
                del _held[key]
                os.close(held.fd)  # closing the descriptor drops the flock

    def release_all(self) -> None:
        while self._mine:
            self.release()

    def holding(self, role: str) -> _Holding:
        """``with lock.holding("ingest"):`` — held for the block."""
        return _Holding(self, role)

    def holder(self) -> Holder | None:
        """Who writes the index now: this process (when it holds the lock), another process, or None."""
        if self.path is None:
            return None
        key = str(self.path)
        with _guard:
            held = _held.get(key)
            if held is not None:
                return held.holder
        try:
            fd = os.open(key, os.O_RDONLY)
        except OSError:  # no lock file yet: nobody has written
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return read_holder(self.path) or Holder(0, "another process", "?", "?")
        finally:
            os.close(fd)  # also drops the probe's lock, when it got it
        return None


class _Holding:
    def __init__(self, lock: WriterLock, role: str):
        self.lock = lock
        self.role = role

    def __enter__(self) -> WriterLock:
        self.lock.acquire(self.role)
        return self.lock

    def __exit__(self, *exc) -> None:
        self.lock.release()


def _open(path: Path) -> int:
    """The lock file's descriptor (created when missing; read-only on a read-only index, which
    flock accepts): IndexUnavailable when the index directory cannot hold it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return os.open(path, os.O_RDONLY)
    except OSError as exc:
        reason = (exc.strerror or exc.__class__.__name__).lower()
        raise IndexUnavailable(f"vector index at {path.parent} is unavailable: {reason}") from None


def read_holder(path: Path) -> Holder | None:
    try:
        data = json.loads(Path(path).read_text() or "{}")
        return Holder(int(data["pid"]), str(data["role"]), str(data["host"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
