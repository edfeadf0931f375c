"""One progress message, edited as a long job goes (at most every 1.5 s), then a summary.

The job runs in a worker thread and calls :meth:`ProgressMessage.callback` (the
``index.ingest`` progress protocol: ``start``, ``feed``, ``embedding``,
``embedded``, ``done``); events are handed to the event loop, which folds them
into a state and edits the message only when the last edit is old enough.
No timers: an edit skipped by the throttle is covered by a later event or by the
final summary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from . import render

log = logging.getLogger(__name__)

MIN_EDIT_INTERVAL = 1.5


class ProgressMessage:
    def __init__(self, edit: Callable[[str], Awaitable[None]], title: str, *, min_interval: float = MIN_EDIT_INTERVAL):
        self._edit = edit
        self.title = title
        self.min_interval = min_interval
        self.loop = asyncio.get_running_loop()
        self.feeds_total = 0
        self.feeds_done = 0
        self.feeds_failed = 0
        self.articles = 0
        self.pending: int | None = None
        self.embedded = 0
        self.edits = 0
        self._last_edit: float | None = None
        self._queue: asyncio.Queue = asyncio.Queue()
        self._finished = False

    # called from the worker thread
    def callback(self, event: str, **data) -> None:
        if not self._finished:
            self.loop.call_soon_threadsafe(self._queue.put_nowait, (event, data))

    def _apply(self, event: str, data: dict) -> None:
        if event == "start":
            self.feeds_total = int(data.get("feeds") or 0)
        elif event == "feed":
            self.feeds_done += 1
            self.articles += int(data.get("articles") or 0)
            if data.get("status") == "error":
                self.feeds_failed += 1
        elif event == "embedding":
            self.pending = int(data.get("pending") or 0)
        elif event == "embedded":
            self.embedded += int(data.get("count") or 0)

    def text(self) -> str:
        parts = [f"⏳ {self.title}…"]
        if self.feeds_total:
            parts.append(
                f"feeds {self.feeds_done}/{self.feeds_total}"
                + (f" ({self.feeds_failed} failed)" if self.feeds_failed else "")
            )
        if self.pending is not None:
            parts.append(f"embedded {self.embedded}/{max(self.pending, self.embedded)} passages")
        elif self.embedded:
            parts.append(f"embedded {self.embedded} passages")
        return render.message_text(" · ".join(parts))

    async def start(self) -> None:
        await self._show(self.text())

    async def _show(self, text: str) -> None:
        self._last_edit = time.monotonic()
        self.edits += 1
        try:
            await self._edit(text)
        except Exception as exc:  # noqa: BLE001 - progress is best effort
            log.warning("progress edit failed: %s", exc)

    async def run(self, job: Callable[..., object], *args, **kwargs):
        """Run ``job(*args, progress=self.callback, **kwargs)`` in a thread, relaying its progress."""
        task = asyncio.ensure_future(asyncio.to_thread(job, *args, progress=self.callback, **kwargs))
        getter: asyncio.Future | None = None
        try:
            while True:
                getter = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    self._apply(*getter.result())
                    getter = None
                    await self._maybe_edit()
                    continue
                break
            return task.result()
        finally:
            self._finished = True
            if getter is not None:
                getter.cancel()
            while not self._queue.empty():
                self._apply(*self._queue.get_nowait())

    async def _maybe_edit(self) -> None:
        now = time.monotonic()
        if self._last_edit is None or now - self._last_edit >= self.min_interval:
            await self._show(self.text())

    async def finish(self, summary: str) -> None:
        self._finished = True
        await self._show(render.message_text(summary))
