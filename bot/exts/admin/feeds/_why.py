"""/feeds why: the delivery log of one article (posted where, or what held it back)."""

from __future__ import annotations

import discord
from discord import app_commands

from .... import render
from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ._group import Part, feeds


class Why(Part):
    @feeds.command(name="why", description="Was an article posted, where, or what held it back?")
    @app_commands.describe(article="The article's URL or id")
    @admin_only()
    async def why(self, interaction: discord.Interaction, article: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, entries = await bot.call(bot.desk.settings.why, article.strip(), interaction_admin_scope(interaction))
        await private(interaction, render.why_text(found, entries))
