"""`newsdesk worker`: poll feeds on a schedule and index, apart from the bot.

The worker never posts to Discord (it has no connection): every bot process, polling or not,
auto-posts what the worker archived (see ``bot/cogs/polling.py``); the archive's ``posts``
claims make that happen once per channel and article however many bots run.
"""

from __future__ import annotations

import logging
import time

from .errors import NewsdeskError

log = logging.getLogger(__name__)


def run_worker(desk, once: bool = False, sleep=time.sleep) -> None:
    """Poll due feeds until stopped (or once). A failed cycle is logged and retried next time;
    with ``once`` the error is raised (the CLI turns it into a non-zero exit)."""
    desk.indexing.hold_writer("newsdesk worker")  # a second writer of the embedded index stops here, at start-up
    interval = max(30.0, desk.config.feeds.poll_interval_minutes * 60 / 10)
    log.warning("worker: polling due feeds %s", "once" if once else f"every {interval:.0f} s")
    while True:
        try:
            report = desk.indexing.ingest(due_only=True)
        except NewsdeskError as exc:
            log.error("poll failed: %s", exc)
            if once:
                raise
        else:
            log.warning(
                "poll: %d ok, %d failed, %d new articles, %d passages embedded",
                report.feeds_ok,
                report.feeds_failed,
                report.articles_new,
                report.passages_embedded,
            )
            for url, error in report.errors.items():
                log.warning("poll: %s: %s", url, error)
            if report.index_error:
                log.warning("poll: index error: %s", report.index_error)
        if once:
            return
        sleep(interval)
