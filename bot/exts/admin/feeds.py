"""Admin: /feeds add|remove|list|import|export.

Every command here is hidden from non-admins by ``default_permissions``
(Manage Server), is guild-only, AND checks at run time (:func:`admin_only`):
server owners can open command permissions to anyone. Bot owners act on every
feed; server admins on their server's feeds (the service raises PermissionDenied
/ NotFound for the others).
"""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import BadQuery
from index.models import Scope
from index.service import redact

from ... import render
from ...autocomplete import feed_autocomplete
from ...checks import admin_only, guard, interaction_admin_scope

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
MAX_OPML_BYTES = 2_000_000
ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)


class Feeds(commands.Cog):
    feeds = app_commands.Group(
        name="feeds",
        description="Manage the news feeds (admins)",
        guild_only=True,
        default_permissions=ADMIN_PERMISSIONS,
    )

    def __init__(self, bot):
        self.bot = bot

    @feeds.command(name="add", description="Add an RSS/Atom feed to this server (optionally auto-post to a channel).")
    @app_commands.describe(url="The feed's URL", name="A display name", channel="Post new articles here")
    @admin_only()
    @guard(None)
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        name: app_commands.Range[str, 0, 200] | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        bot = self.bot
        await interaction.response.defer(ephemeral=True, thinking=True)  # checking the URL may take a moment
        notes = []
        if channel is not None:
            me = channel.guild.me
            perms = channel.permissions_for(me) if me is not None else None
            if perms is not None and not (perms.send_messages and perms.embed_links):
                notes.append(f"⚠ I can't post embeds in {channel.mention} yet (Send Messages + Embed Links needed).")
        feed, created = await bot.call(
            bot.desk.add_feed,
            url,
            name or "",
            guild_id=interaction.guild_id,
            channel_id=channel.id if channel else None,
            added_by=interaction.user.id,
        )
        if not created:
            where = (
                "this server"
                if feed.guild_id == interaction.guild_id
                else ("every server" if feed.guild_id is None else "another server")
            )
            await interaction.followup.send(
                render.message_text(f"That feed is already in the archive (id {feed.id}, for {where})."),
                ephemeral=True,
                allowed_mentions=NONE,
            )
            return
        report = await bot.heavy_call(bot.desk.ingest, feed.id)
        label = render.safe(render.trim(feed.display_name, 100))
        if report.feeds_failed:
            error = next(iter(report.errors.values()), "unknown error")
            text = (
                f"Added **{label}** (id {feed.id}), but the first fetch failed: "
                f"{render.safe(render.trim(redact(render.one_line(error)), 300))}. It will be retried."
            )
        else:
            text = f"Added **{label}** (id {feed.id}): {report.articles_new} articles archived."
        if channel is not None:
            text += f" New articles will be posted in {channel.mention}."
        text = "\n".join([text, *notes])
        await interaction.followup.send(render.message_text(text), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="remove", description="Remove a feed and the articles only it carried.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def remove(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed, articles = await bot.heavy_call(
            bot.desk.remove_feed, feed.strip(), interaction_admin_scope(interaction)
        )
        await interaction.followup.send(
            render.message_text(
                f"Removed **{render.safe(render.trim(removed.display_name, 100))}** "
                f"(id {removed.id}); {articles} articles left the archive."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @feeds.command(name="list", description="The feeds this server reads.")
    @admin_only()
    async def list_(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        feeds = await bot.call(bot.desk.list_feeds, interaction_admin_scope(interaction))
        await interaction.response.send_message(embed=render.feeds_embed(feeds), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="import", description="Import feeds from an OPML file.")
    @app_commands.describe(file="An OPML file (as exported by most feed readers)")
    @admin_only()
    async def import_(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        bot = self.bot
        if file.size > MAX_OPML_BYTES:
            raise BadQuery(f"that file is too big ({file.size} bytes; the limit is {MAX_OPML_BYTES})")
        await interaction.response.defer(ephemeral=True, thinking=True)
        content = await file.read()
        scope = Scope(guild_id=interaction.guild_id, everything=False)  # imported feeds belong to this server
        result = await bot.call(bot.desk.import_opml, content, scope, interaction.user.id)
        lines = [
            f"Imported from **{render.safe(render.trim(file.filename, 100))}**: "
            f"{len(result['added'])} added, {len(result['existing'])} already present, "
            f"{len(result['refused'])} refused."
        ]
        for url, reason in list(result["refused"].items())[:10]:
            lines.append(f"• refused {render.safe(render.trim(url, 120))}: {render.safe(render.trim(reason, 160))}")
        if result["added"]:
            lines.append("New feeds are fetched on the next poll.")
        await interaction.followup.send(render.message_text("\n".join(lines)), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="export", description="Export the feeds as an OPML file.")
    @admin_only()
    async def export(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        opml = await bot.call(bot.desk.export_opml, interaction_admin_scope(interaction))
        data = opml.encode("utf-8") if isinstance(opml, str) else opml
        await interaction.response.send_message(
            "Here are the feeds as OPML.",
            file=discord.File(io.BytesIO(data), filename="newsdesk-feeds.opml"),
            ephemeral=True,
            allowed_mentions=NONE,
        )


async def setup(bot) -> None:
    await bot.add_cog(Feeds(bot))
