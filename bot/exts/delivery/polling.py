"""Polling: every ``config.feeds.poll_interval_minutes`` (only when the bot was started with
polling; ``newsdesk run --no-poll`` leaves it to a ``newsdesk worker``) ``desk.indexing.ingest(due_only=True)``
runs in a worker thread, never on the loop, followed at once by a health check and a posting
pass (see the health and autopost extensions)."""

from __future__ import annotations

import logging

from index.errors import NewsdeskError
from index.models import IngestReport
from index.service import redact

from ... import errors, render
from ...loops import PeriodicCog
from ...notices import notify_admins

log = logging.getLogger(__name__)


class Polling(PeriodicCog):
    job = "poll"

    def __init__(self, bot):
        super().__init__(
            bot, minutes=max(1 / 60, float(bot.config.feeds.poll_interval_minutes)), start=bot.poll_enabled
        )
        self.last_index_problem: str | None = None
        self.runs = 0

    async def tick(self) -> None:
        await self.poll_once()

    # -- one poll ------------------------------------------------------------------
    async def poll_once(self) -> IngestReport | None:
        bot = self.bot
        desk = bot.desk
        try:
            report = await bot.call(desk.indexing.ingest, due_only=True)
        except NewsdeskError as exc:
            text = errors.describe(exc)
            errors.log_error(exc, "poll")
            if text != self.last_index_problem:
                self.last_index_problem = text
                await notify_admins(self.bot, f"⚠️ Polling failed: {render.safe(render.trim(redact(str(exc)), 500))}")
            return None
        self.runs += 1
        if self.last_index_problem is not None:
            self.last_index_problem = None
            await notify_admins(self.bot, "✅ Polling works again.")
        if report.index_error:
            log.warning("poll: index error: %s", report.index_error)
        health = bot.get_cog("Health")
        if health is not None:
            await health.announce()
        autopost = bot.get_cog("AutoPost")
        if autopost is not None:
            try:
                await autopost.post_pending()
            except Exception as exc:  # noqa: BLE001 - the next pass retries
                errors.log_error(exc, "auto-post")
        return report


async def setup(bot) -> None:
    await bot.add_cog(Polling(bot))
