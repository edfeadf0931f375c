"""Races on one archive, between threads (each with its own handle and connection) or between OS
processes (each opens its own ``Archive``, as separate bot processes on separate machines would):
all wait at a barrier, make one call, and send back what it returned. Processes are spawned, not
forked, so no connection or lock is inherited from the test process."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from index.archive import Archive

T = TypeVar("T")


def race_threads(target: str | Path, claim: Callable[[Archive], T], n: int = 6) -> list[T]:
    """``claim(archive)`` called at once by ``n`` threads, each on its own handle (its own connection)."""
    handles = [Archive(target) for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list[T] = []
    errors: list[BaseException] = []

    def run(handle: Archive) -> None:
        try:
            barrier.wait()
            results.append(claim(handle))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            handle.close()

    threads = [threading.Thread(target=run, args=(h,)) for h in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def _claim(target: str, method: str, args: tuple, barrier, results) -> None:
    from index.archive import Archive

    try:
        archive = Archive(target)
        try:
            barrier.wait(timeout=60)
            results.put(("ok", getattr(archive, method)(*args)))
        finally:
            archive.close()
    except BaseException as exc:  # noqa: BLE001 - sent back to the test
        results.put(("error", f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc()}"))


def race_processes(target: str | Path, method: str, args: tuple, n: int = 4, timeout: float = 120) -> list:
    """``Archive(target).<method>(*args)`` called at once by ``n`` processes; what each returned
    (results must pickle). Raises AssertionError with the child's traceback if one failed."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(str(target), method, args, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [results.get(timeout=timeout) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [detail for kind, detail in got if kind == "error"]
    assert not errors, errors[0]
    return [value for _, value in got]
