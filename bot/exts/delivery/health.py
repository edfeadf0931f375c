"""Feed-health notices: a feed that starts failing is reported once to the admin channel, and
once more when it recovers. Every bot checks on each pass (so notices also come when a
``newsdesk worker`` polls and no bot does); the last announced state lives in the archive and
each change is claimed and queued in the outbox atomically, and sent by the bot's one sender
(bot/delivery.py), so it is announced once across processes, kills and restarts."""

from __future__ import annotations

import logging

from index.service import redact

from ... import render
from ...delivery import sender_of
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
        channel_id = self.bot.config.discord.admin_channel
        for feed in changed:
            failing = feed.status == "error"
            state = "error" if failing else "ok"
            name = render.safe(render.trim(feed.display_name, 100))
            where = "" if feed.guild_id is None else f" (server {feed.guild_id})"
            if failing:
                error = render.safe(
                    render.trim(render.strip_credentials(redact(render.one_line(feed.last_error or "error"))), 400)
                )
                text = f"⚠️ Feed **{name}** (id {feed.id}){where} is failing: {error}"
            else:
                text = f"✅ Feed **{name}** (id {feed.id}){where} is working again."
            if not channel_id:  # nowhere to post: claimed and logged once
                if await self.bot.call(desk.archive.claim_feed_notice, feed.id, state):
                    await notify_admins(self.bot, text)
                continue
            payload = {"content": render.message_text(text)}
            key = await self.bot.call(desk.outbox.queue_feed_notice, feed.id, state, channel_id, payload)
            if key is None:
                continue  # another bot (or an earlier pass) announced it
            await sender_of(self.bot).deliver(key)
            sent += 1
        return sent


async def setup(bot) -> None:
    await bot.add_cog(Health(bot))
