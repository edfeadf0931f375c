"""Admin: /reindex — re-embed a server's passages (bot owners: rebuild the whole index)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import NewsdeskError
from index.service import redact

from ... import errors, render
from ...autocomplete import feed_autocomplete
from ...checks import admin_only, interaction_admin_scope, is_owner
from ...progress import ProgressMessage

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()


class Reindex(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @app_commands.command(name="reindex", description="Re-embed passages (full: rebuild the index).")
    @app_commands.describe(feed="Only this feed", full="Rebuild everything (after a model change; bot owners)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only()
    async def reindex(self, interaction: discord.Interaction, feed: str | None = None, full: bool = False) -> None:
        bot = self.bot
        scope = interaction_admin_scope(interaction)
        if full and feed is None and not is_owner(bot, interaction.user.id):
            full = False  # a server admin re-embeds their server's feeds; only owners rebuild the index
        await interaction.response.send_message("⏳ Reindexing…", ephemeral=True, allowed_mentions=NONE)

        async def edit(text: str) -> None:
            await interaction.edit_original_response(content=text, allowed_mentions=NONE)

        progress = ProgressMessage(edit, "Reindexing")
        try:
            async with bot.heavy.slot():
                report = await progress.run(bot.desk.reindex, full=full, feed=feed or None, scope=scope)
        except NewsdeskError as exc:
            errors.log_error(exc, "/reindex")
            await progress.finish("⚠️ Reindex failed: " + errors.describe(exc))
            return
        summary = (
            f"✅ Reindex done: {report.passages_embedded} passages embedded, "
            f"{report.vectors_deleted} vectors removed in {report.seconds:.1f} s."
        )
        if report.index_error:
            summary += f"\n⚠ {render.safe(render.trim(redact(report.index_error), 300))}"
        await progress.finish(summary)


async def setup(bot) -> None:
    await bot.add_cog(Reindex(bot))
