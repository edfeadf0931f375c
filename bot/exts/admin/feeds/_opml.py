"""/feeds import and /feeds export: feeds as OPML."""

from __future__ import annotations

import io

import discord
from discord import app_commands

from index.errors import BadQuery
from index.models import Scope

from .... import render
from ....checks import admin_only, interaction_admin_scope, record_server_use, server_cooldown
from ....replies import private
from ._group import Part, feeds

MAX_OPML_BYTES = 2_000_000


class Opml(Part):
    @feeds.command(name="import", description="Import feeds from an OPML file.")
    @app_commands.describe(file="An OPML file (as exported by most feed readers)")
    @server_cooldown("import")
    @admin_only()
    async def import_(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        bot = self.bot
        if file.size > MAX_OPML_BYTES:
            raise BadQuery(f"that file is too big ({file.size} bytes; the limit is {MAX_OPML_BYTES})")
        await interaction.response.defer(ephemeral=True, thinking=True)
        content = await file.read()
        scope = Scope(guild_id=interaction.guild_id, everything=False)  # imported feeds belong to this server
        result = await bot.call(bot.desk.feeds.import_opml, content, scope, interaction.user.id)
        record_server_use(bot, "import", interaction)
        lines = [
            f"Imported from **{render.safe(render.trim(file.filename, 100))}**: "
            f"{len(result['added'])} added, {len(result['existing'])} already present, "
            f"{len(result['refused'])} refused."
        ]
        for url, reason in list(result["refused"].items())[:10]:
            lines.append(f"• refused {render.safe(render.trim(url, 120))}: {render.safe(render.trim(reason, 160))}")
        if result["added"]:
            lines.append("New feeds are fetched on the next poll.")
        await private(interaction, "\n".join(lines))

    @feeds.command(name="export", description="Export the feeds as an OPML file.")
    @admin_only()
    async def export(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        opml = await bot.call(bot.desk.feeds.export_opml, interaction_admin_scope(interaction))
        data = opml.encode("utf-8") if isinstance(opml, str) else opml
        await private(
            interaction,
            "Here are the feeds as OPML.",
            file=discord.File(io.BytesIO(data), filename="newsdesk-feeds.opml"),
        )
