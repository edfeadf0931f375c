"""Races between OS processes on one archive: each process opens its own ``Archive`` (its own
connection, as separate bot processes on separate machines would), waits at a barrier, calls one
method, and sends back what it returned. Spawned, not forked, so no connection or lock is
inherited from the test process."""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path


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
