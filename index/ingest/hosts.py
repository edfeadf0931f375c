"""Article pages of a host that keeps failing are not fetched again in the same pass.

A feed whose article links point at a host that does not resolve, refuses connections or times
out would otherwise cost every one of its entries the fetcher's full retries (three tries and
three seconds each by default), pass after pass. After ``HOST_FAILURE_LIMIT`` consecutive failed
page fetches to a host, the rest of the pass skips that host's pages: those entries are archived
from their feed text, marked so the next pass tries their pages again (``PAGE_LATER`` on the
stored entry hash makes the entry look changed once). An answer of any kind from the host (even
a 404) resets its count: only an unreachable host is held off. Kept per pass (one per
``DraftMaker``), so a host that recovers is tried again on the next pass."""

from __future__ import annotations

import logging
import threading

from ..errors import FetchError

log = logging.getLogger(__name__)

HOST_FAILURE_LIMIT = 3  # consecutive failed page fetches before a host is held off for the pass
PAGE_LATER = "+page"  # suffix of an entry hash whose page is still to be fetched


def unreachable(exc: Exception) -> bool:
    """A fetch that failed without an answer from the host: a connection error or a timeout
    (the fetcher words those as "network error: …" and "timed out (…)"), not an HTTP status."""
    return isinstance(exc, FetchError) and str(exc).startswith(("network error", "timed out"))


class HostBackoff:
    """Consecutive page-fetch failures per host during one pass (thread-safe: feeds are read in
    worker threads)."""

    def __init__(self, limit: int = HOST_FAILURE_LIMIT):
        self.limit = max(1, limit)
        self._failures: dict[str, int] = {}
        self.skipped: dict[str, int] = {}  # pages not fetched, per held-off host
        self._lock = threading.Lock()

    def open(self, host: str) -> bool:
        """Whether a page of ``host`` may be fetched now (False counts it as skipped)."""
        with self._lock:
            if self._failures.get(host, 0) < self.limit:
                return True
            self.skipped[host] = self.skipped.get(host, 0) + 1
            return False

    def failed(self, host: str, reason: str) -> None:
        with self._lock:
            count = self._failures.get(host, 0) + 1
            self._failures[host] = count
        if count == self.limit:
            log.warning(
                "page fetches to %s stop for this pass after %d failures in a row (%s); its entries are "
                "archived from their feed text and their pages tried again next pass",
                host,
                count,
                reason,
            )

    def answered(self, host: str) -> None:
        with self._lock:
            self._failures.pop(host, None)
