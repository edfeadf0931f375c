"""/digest schedule|now|list|cancel, and the loop that posts scheduled digests once.

Schedules live in the archive per server. Every bot process runs the posting pass every
``DIGEST_INTERVAL_SECONDS``: a due run (its time of the current day or week has passed) is
claimed in the archive by its period key before anything is built or sent, so a digest goes out
once whatever the number of processes, passes or restarts. Nothing a digest sends can ping.

``/digest now`` answers in the channel by default (like /latest: a digest is worth sharing and
never pings anyone); ``private: True`` shows it to the caller only.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands

from index.errors import NewsdeskError

from ... import render
from ...checks import admin_only, guard, interaction_admin_scope, interaction_reader_scope
from ...loops import PeriodicCog
from ...replies import NONE, private
from ._render import digest_embed, schedules_text

log = logging.getLogger(__name__)

DIGEST_INTERVAL_SECONDS = 60


class Digests(PeriodicCog):
    job = "digests"

    digest = app_commands.Group(name="digest", description="The top stories of a day or week", guild_only=True)

    def __init__(self, bot):
        super().__init__(bot, seconds=DIGEST_INTERVAL_SECONDS)
        self._lock = asyncio.Lock()
        self.posted = 0

    async def tick(self) -> None:
        await self.post_due()

    # -- the scheduled pass --------------------------------------------------------
    async def post_due(self, now: float | None = None) -> int:
        """Post every due, unclaimed scheduled digest this process can reach; returns the posts."""
        bot = self.bot
        posted = 0
        async with self._lock:
            for run in await bot.call(bot.desk.digests.due, now):
                schedule = run.schedule
                channel = bot.get_channel(schedule.channel_id)
                gone = None
                if channel is None:
                    try:
                        channel = await bot.fetch_channel(schedule.channel_id)
                    except discord.NotFound:
                        gone = "the channel no longer exists"
                    except discord.HTTPException:
                        continue  # not ours to see (another process or shard may serve it)
                if not await bot.call(bot.desk.archive.claim_digest_run, schedule.id, run.period_key):
                    continue  # posted (or being posted) by another pass or process
                if gone or not isinstance(channel, discord.abc.Messageable):
                    reason = gone or "not a text channel"
                    await bot.call(
                        bot.desk.archive.record_digest_run, schedule.id, run.period_key, "failed", None, reason
                    )
                    continue
                try:
                    digest = await bot.heavy_call(bot.desk.digests.scheduled, run)
                except Exception as exc:  # noqa: BLE001 - recorded (a bug also logged), the pass goes on
                    if not isinstance(exc, NewsdeskError):
                        log.exception("building digest %s failed", schedule.id)
                    await bot.call(
                        bot.desk.archive.record_digest_run, schedule.id, run.period_key, "failed", None, str(exc)
                    )
                    continue
                if not digest.stories:
                    await bot.call(bot.desk.archive.record_digest_run, schedule.id, run.period_key, "empty", None, None)
                    continue
                title = ("Daily" if schedule.period == "daily" else "Weekly") + " digest"
                if schedule.topic:
                    title += f": {render.one_line(schedule.topic)}"
                try:
                    message = await channel.send(embed=digest_embed(digest, title), allowed_mentions=NONE)
                except discord.HTTPException as exc:
                    reason = f"posting failed ({exc.status} {render.trim(exc.text, 100)})"
                    log.warning("digest %s to channel %s: %s", schedule.id, schedule.channel_id, reason)
                    await bot.call(
                        bot.desk.archive.record_digest_run, schedule.id, run.period_key, "failed", None, reason
                    )
                    continue
                await bot.call(
                    bot.desk.archive.record_digest_run, schedule.id, run.period_key, "posted", message.id, None
                )
                posted += 1
        self.posted += posted
        return posted

    # -- commands ------------------------------------------------------------------------
    @digest.command(name="schedule", description="Post the top stories to a channel every day or week (admins).")
    @app_commands.describe(
        channel="Where to post the digest",
        period="daily or weekly",
        time="When, in UTC: 08:00 (weekly: 'mon 08:00'; default 08:00, Mondays)",
        topic="Only stories on this topic",
    )
    @admin_only()
    async def schedule(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        period: app_commands.Range[str, 1, 20],
        time: app_commands.Range[str, 0, 20] | None = None,
        topic: app_commands.Range[str, 0, 200] | None = None,
    ) -> None:
        bot = self.bot
        assert interaction.guild_id is not None  # guild-only group
        found = await bot.call(
            bot.desk.digests.schedule,
            interaction.guild_id,
            channel.id,
            period,
            time or None,
            topic,
            interaction.user.id,
        )
        text = f"Scheduled digest `#{found.id}`: {found.when} in {channel.mention}"
        if found.topic:
            text += f", on {render.safe(render.trim(found.topic, 100))}"
        text += ". It lists the period's most widely covered stories, with links, and pings no one."
        await private(interaction, text)

    @digest.command(name="now", description="The top stories of the last day or week, or of a period you name.")
    @app_commands.describe(
        topic="Only stories on this topic",
        period="daily (the last 24 hours, default) or weekly (the last 7 days)",
        private="Show it to me only (default: in the channel)",
        since="From this date, or a whole month or week ('February 2026', 'week of 2026-02-09')",
        until="Up to this date (default: now)",
    )
    @guard("search")
    async def now(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 0, 200] | None = None,
        period: app_commands.Range[str, 0, 20] | None = None,
        private: bool = False,
        since: app_commands.Range[str, 0, 100] | None = None,
        until: app_commands.Range[str, 0, 100] | None = None,
    ) -> None:
        bot = self.bot
        window = dict(since=since or None, until=until or None, period=period or None)
        await bot.call(bot.desk.digests.check, period=period or None, topic=topic)
        await bot.call(bot.desk.digests.window, **window)  # unreadable dates: told before deferring
        await interaction.response.defer(thinking=True, ephemeral=private)
        interaction.extras["public_defer"] = not private
        digest = await bot.heavy_call(
            bot.desk.digests.make,
            **window,
            topic=topic or None,
            scope=interaction_reader_scope(interaction),
        )
        await interaction.followup.send(embed=digest_embed(digest), ephemeral=private, allowed_mentions=NONE)

    @digest.command(name="list", description="The digests scheduled in this server.")
    async def list_(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        schedules = await bot.call(bot.desk.digests.schedules, interaction_reader_scope(interaction))
        await private(interaction, schedules_text(schedules))

    @digest.command(name="cancel", description="Stop a scheduled digest (admins).")
    @app_commands.describe(schedule="The schedule's number, from /digest list")
    @admin_only()
    async def cancel(self, interaction: discord.Interaction, schedule: app_commands.Range[str, 1, 20]) -> None:
        bot = self.bot
        found = await bot.call(bot.desk.digests.cancel, schedule, interaction_admin_scope(interaction))
        await private(interaction, f"Cancelled digest `#{found.id}` ({found.when} in <#{found.channel_id}>).")


async def setup(bot) -> None:
    await bot.add_cog(Digests(bot))
