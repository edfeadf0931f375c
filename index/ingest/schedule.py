"""When each feed is read next: its status, failure count and backoff, and the conditional-GET
state (ETag, Last-Modified) recorded after a feed's articles are archived."""

from __future__ import annotations

import time

from ..archive import Archive
from ..archive.sql import now_iso
from ..config import Config
from ..models import IngestReport
from .drafts import FeedResult


class FeedSchedule:
    def __init__(self, config: Config, archive: Archive):
        self.config = config
        self.archive = archive

    def record(self, result: FeedResult, report: IngestReport) -> None:
        feed = result.feed
        now = now_iso()
        interval = self.config.feeds.poll_interval_minutes * 60
        if result.status == "error":
            failures = feed.failures + 1
            backoff = min(interval * (2 ** min(failures, 10)), self.config.feeds.max_backoff_minutes * 60)
            self.archive.update_feed(
                feed.id,
                status="error",
                last_fetch_at=now,
                last_error=result.error,
                failures=failures,
                next_poll_at=time.time() + backoff,
            )
            report.feeds_failed += 1
            report.errors[feed.url] = result.error or "unknown error"
            return
        # unchanged content (304) keeps what the last full read found wrong with it
        warning = feed.warning if result.status == "not_modified" else result.warning
        fields = dict(
            status="warning" if warning else "ok",
            last_fetch_at=now,
            last_ok_at=now,
            last_error=None,
            warning=warning,
            failures=0,
            next_poll_at=time.time() + interval,
            etag=result.etag,
            last_modified=result.last_modified,
        )
        if result.title:
            fields["title"] = result.title
        self.archive.update_feed(feed.id, **fields)
        report.feeds_ok += 1
        if result.status == "not_modified":
            report.feeds_not_modified += 1
        if result.warning:
            report.warnings[feed.url] = result.warning
        if result.deferred:
            report.deferred[feed.id] = result.deferred
