"""Feed-health notices: a feed that starts failing is reported once to the admin channel, and
once more when it recovers. Every bot checks on each pass (so notices also come when a
``newsdesk worker`` polls and no bot does); the last announced state lives in the archive and
each change is claimed atomically, so it is announced once across processes and restarts."""

from __future__ import annotations

import logging

from index.service import redact

from ... import render
from ...loops import PeriodicCog
from ...notices import notify_admins

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 60


class Health(PeriodicCog):
    job = "feed health"

    def __init__(self, bot):
        super().__init__(bot, seconds=CHECK_INTERVAL_SECONDS)

    async def tick(self) -> None:
        await self.announce()

    async def announce(self) -> int:
        """Announce feeds whose health changed since it was last announced (by any process).
        Returns the notices sent."""
        desk = self.bot.desk
        changed = await self.bot.call(desk.archive.unannounced_feed_health)
        sent = 0
        for feed in changed:
            failing = feed.status == "error"
            if not await self.bot.call(desk.archive.claim_feed_notice, feed.id, "error" if failing else "ok"):
                continue  # another bot (or an earlier pass) announced it
            name = render.safe(render.trim(feed.display_name, 100))
            where = "" if feed.guild_id is None else f" (server {feed.guild_id})"
            if failing:
                error = render.safe(
                    render.trim(render.strip_credentials(redact(render.one_line(feed.last_error or "error"))), 400)
                )
                await notify_admins(self.bot, f"⚠️ Feed **{name}** (id {feed.id}){where} is failing: {error}")
            else:
                await notify_admins(self.bot, f"✅ Feed **{name}** (id {feed.id}){where} is working again.")
            sent += 1
        return sent


async def setup(bot) -> None:
    await bot.add_cog(Health(bot))
