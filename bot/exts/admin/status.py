"""/status: the archive's health, for admins (counts and errors only, never secrets)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from index.models import Scope

from ... import render
from ...checks import admin_only, interaction_admin_scope
from ...replies import private
from ..following.feedback import questions_embed


class Status(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @app_commands.command(name="status", description="Archive size, index, last poll and failing feeds (admins).")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only()
    async def status(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        await interaction.response.defer(ephemeral=True, thinking=True)
        stats = await bot.call(bot.desk.health.status, interaction_admin_scope(interaction))
        stats.pop("index", None)  # a path or a server URL: not for a chat channel
        # the questions answers fell short on: this server's own, whoever asks (owners too)
        groups = await bot.call(bot.desk.feedback.report, Scope(guild_id=interaction.guild_id, everything=False))
        embed = render.status_embed(stats)
        questions = questions_embed(groups, render.EMBED_TOTAL_LIMIT - len(embed))
        await private(interaction, embeds=[embed, questions])


async def setup(bot) -> None:
    await bot.add_cog(Status(bot))
