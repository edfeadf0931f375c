"""`newsdesk worker`: poll feeds on a schedule and index, apart from the bot."""
from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


def run_worker(desk, once: bool = False, sleep=time.sleep) -> None:
    interval = max(30.0, desk.config.feeds.poll_interval_minutes * 60 / 10)
    while True:
        report = desk.ingest(due_only=True)
        log.warning("poll: %d ok, %d failed, %d new articles, %d passages embedded",
                    report.feeds_ok, report.feeds_failed, report.articles_new, report.passages_embedded)
        if once:
            return
        sleep(interval)
