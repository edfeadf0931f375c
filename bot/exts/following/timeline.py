"""/timeline topic [since] [until]: a PNG chart of a topic's coverage per day or week and outlet
(rendered in a worker thread, never on the event loop), with a dated, cited chronology of the
key articles in the message; /compare story: one story across outlets — who reported first, who
carried it, which figures differ."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from ...checks import guard, interaction_reader_scope
from ...replies import NONE
from ._render import comparison_embed, timeline_text


class Following(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @app_commands.command(name="timeline", description="A chart of a topic's coverage over time, per outlet.")
    @app_commands.describe(
        topic="Words every article counted must hold",
        since="From this date (2024-03-15, 'last month'…; default: the first such article)",
        until="Up to this date (default: now)",
    )
    @guard("search")
    async def timeline(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 200],
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        bot = self.bot
        await bot.call(bot.desk.stories.check_timeline, topic, since=since or None, until=until or None)
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        result = await bot.heavy_call(
            bot.desk.stories.timeline,
            topic,
            since=since or None,
            until=until or None,
            scope=interaction_reader_scope(interaction),
        )
        await interaction.followup.send(
            timeline_text(result),
            file=discord.File(io.BytesIO(result.png), filename="timeline.png", description="coverage chart"),
            allowed_mentions=NONE,
        )

    @app_commands.command(name="compare", description="One story across outlets: who was first, whose figures differ.")
    @app_commands.describe(story="What the story is about, or an article's URL or id")
    @guard("search")
    async def compare(self, interaction: discord.Interaction, story: app_commands.Range[str, 1, 500]) -> None:
        bot = self.bot
        await bot.call(bot.desk.stories.check_compare, story, scope=interaction_reader_scope(interaction))
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        comparison = await bot.heavy_call(bot.desk.stories.compare, story, scope=interaction_reader_scope(interaction))
        await interaction.followup.send(embed=comparison_embed(comparison), allowed_mentions=NONE)


async def setup(bot) -> None:
    await bot.add_cog(Following(bot))
