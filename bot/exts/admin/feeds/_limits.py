"""/feeds limits: a channel's flood control."""

from __future__ import annotations

import discord
from discord import app_commands

from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ._group import Part, feeds


class Limits(Part):
    @feeds.command(name="limits", description="Flood control for a channel: show, or set (0 turns a limit off).")
    @app_commands.describe(
        channel="The channel",
        per_window="At most this many posts…",
        window_minutes="…per this many minutes",
        daily_max="At most this many posts a day",
        max_age_days="Skip articles published longer ago than this",
    )
    @admin_only()
    async def limits(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        per_window: app_commands.Range[int, 0, 1000] | None = None,
        window_minutes: app_commands.Range[int, 0, 10080] | None = None,
        daily_max: app_commands.Range[int, 0, 10000] | None = None,
        max_age_days: app_commands.Range[float, 0, 3650] | None = None,
    ) -> None:
        bot = self.bot
        changed = any(v is not None for v in (per_window, window_minutes, daily_max, max_age_days))
        if changed:
            await bot.call(
                bot.desk.settings.set_limits,
                channel.id,
                per_window=per_window,
                window_minutes=window_minutes,
                daily_max=daily_max,
                max_age_days=max_age_days,
                scope=interaction_admin_scope(interaction),
            )
        limits, held = await bot.call(bot.desk.settings.limits, channel.id)
        text = f"{'Set' if changed else 'Limits of'} {channel.mention}: {limits.describe()}. Held back now: {held}."
        await private(interaction, text)
