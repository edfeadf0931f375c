"""/feeds remove and /feeds list."""

from __future__ import annotations

import discord
from discord import app_commands

from .... import render
from ....autocomplete import feed_autocomplete
from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ._group import Part, feeds


class Catalogue(Part):
    @feeds.command(name="remove", description="Remove a feed and the articles only it carried.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def remove(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed, articles = await bot.heavy_call(
            bot.desk.feeds.remove, feed.strip(), interaction_admin_scope(interaction)
        )
        await private(
            interaction,
            f"Removed **{render.safe(render.trim(removed.display_name, 100))}**; "
            f"{render.count(articles, 'article')} left the archive.",
        )

    @feeds.command(name="list", description="The feeds this server reads.")
    @admin_only()
    async def list_(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        feeds = await bot.call(bot.desk.archive.list_feeds, interaction_admin_scope(interaction))
        await private(interaction, embed=render.feeds_embed(feeds))
