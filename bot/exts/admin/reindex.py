"""Admin: /reindex — re-embed a server's passages (bot owners: rebuild the whole index).

The request is recorded in the archive until it is done; a reindex interrupted by a restart is
resumed when the bot is next ready (keeping what was embedded) and reported to the admin channel."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import NewsdeskError
from index.service import redact

from ... import errors, render
from ...autocomplete import feed_autocomplete
from ...checks import admin_only, interaction_admin_scope, is_owner, record_server_use, server_cooldown_left
from ...notices import notify_admins
from ...progress import ProgressMessage
from ...replies import NONE, private

log = logging.getLogger(__name__)


class Reindex(commands.Cog):
    def __init__(self, bot):
        self.bot = bot
        self.resume_task: asyncio.Task | None = None

    async def cog_load(self) -> None:
        self.resume_task = asyncio.create_task(self._resume_interrupted())

    async def cog_unload(self) -> None:
        if self.resume_task is not None:
            self.resume_task.cancel()

    async def _resume_interrupted(self) -> None:
        """Finish a reindex a restart interrupted, then tell the admin channel."""
        await self.bot.wait_until_ready()
        desk = self.bot.desk
        try:
            request = await self.bot.call(desk.indexing.pending_reindex)
            if request is None:
                return
            async with self.bot.heavy.slot():
                resumed = await self.bot.call(desk.indexing.resume_reindex)
        except NewsdeskError as exc:
            errors.log_error(exc, "resuming /reindex")
            await notify_admins(self.bot, "⚠️ Resuming the interrupted reindex failed: " + errors.describe(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a startup task must not die silently
            errors.log_error(exc, "resuming /reindex")
            return
        if resumed is None:
            return  # another process finished it
        request, report = resumed
        await notify_admins(
            self.bot,
            f"♻️ {describe_request(request)}, interrupted by a restart, is done: "
            f"{report.passages_embedded} passages embedded now"
            + (f", {report.passages_recovered} found already embedded" if report.passages_recovered else "")
            + f" ({report.seconds:.1f} s).",
        )

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
        await private(interaction, "⏳ Reindexing…")

        async def edit(text: str) -> None:
            await interaction.edit_original_response(content=text, allowed_mentions=NONE)

        progress = ProgressMessage(edit, "Reindexing")
        try:
            if feed:  # a feed it may not reindex is refused before the server's cooldown counts
                await bot.call(bot.desk.feeds.find, feed, scope, True)
            wait = server_cooldown_left(bot, "reindex", interaction)
            if wait:
                await progress.finish(
                    f"⏳ This server reindexed recently: you can reindex again in {max(1, round(wait))} s."
                )
                return
            record_server_use(bot, "reindex", interaction)
            async with bot.heavy.slot():
                report = await progress.run(
                    bot.desk.indexing.reindex,
                    full=full,
                    feed=feed or None,
                    scope=scope,
                    requested_by=interaction.user.id,
                )
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


def describe_request(request: dict) -> str:
    what = (
        "The full reindex"
        if request.get("full")
        else f"The reindex of feed {render.safe(render.trim(str(request['feed']), 100))}"
        if request.get("feed")
        else f"The reindex of server {request['guild_id']}'s feeds"
        if request.get("scoped")
        else "The reindex"
    )
    who = f" requested by <@{int(request['requested_by'])}>" if request.get("requested_by") else ""
    return what + who


async def setup(bot) -> None:
    await bot.add_cog(Reindex(bot))
