"""/latest, /search, /article and /sources: browsing the archive."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from ... import render
from ...autocomplete import source_autocomplete
from ...checks import guard, reader_scope
from ...replies import NONE
from ...views import send_results
from ._options import coverage_options

log = logging.getLogger(__name__)

SEARCH_LIMIT = 50


class Browse(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    def _scope(self, interaction: discord.Interaction):
        return reader_scope(self.bot, interaction.user.id, interaction.guild_id)

    @app_commands.command(name="latest", description="The newest coverage, optionally on a topic or from one outlet.")
    @app_commands.describe(
        topic="A topic (leave empty for everything)", source="Only this outlet", count="How many stories (default 10)"
    )
    @app_commands.autocomplete(source=source_autocomplete)
    @guard(None)
    async def latest(
        self,
        interaction: discord.Interaction,
        topic: str | None = None,
        source: str | None = None,
        count: app_commands.Range[int, 1, 50] = 10,
    ) -> None:
        bot = self.bot
        scope = self._scope(interaction)
        if source:
            await bot.call(bot.desk.reading.check_query, None, source=source, scope=scope)
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        hits = await bot.heavy_call(
            bot.desk.reading.latest, topic or None, source=source or None, limit=count, scope=scope
        )
        title = f"Latest on {render.one_line(topic)}" if topic else "Latest coverage"
        if source:
            title += f" from {render.one_line(source)}"
        await send_results(
            interaction,
            title,
            hits,
            empty="Nothing archived yet." if not topic else "No recent coverage on that topic.",
        )

    @app_commands.command(name="search", description="Search the archive; results come 5 per page.")
    @app_commands.describe(query="What to look for")
    @coverage_options
    @guard("search")
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 500],
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        bot = self.bot
        scope = self._scope(interaction)
        await bot.call(bot.desk.reading.check_query, query, source=source, since=since, until=until, scope=scope)
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        result = await bot.heavy_call(
            bot.desk.retriever.search,
            query,
            source=source or None,
            since=since or None,
            until=until or None,
            limit=SEARCH_LIMIT,
            scope=scope,
        )
        await send_results(interaction, f"Search: {render.one_line(query)}", result.hits, notices=result.notices)

    @app_commands.command(name="article", description="Show one archived article.")
    @app_commands.describe(url_or_id="The article's URL or its id")
    async def article(self, interaction: discord.Interaction, url_or_id: app_commands.Range[str, 1, 1000]) -> None:
        bot = self.bot
        article = await bot.call(bot.desk.reading.article, url_or_id.strip(), self._scope(interaction))
        await interaction.response.send_message(embed=render.article_embed(article), allowed_mentions=NONE)

    @app_commands.command(name="sources", description="The outlets and feeds in the archive.")
    async def sources(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        data = await bot.call(bot.desk.reading.sources, self._scope(interaction))
        await interaction.response.send_message(
            embed=render.sources_embed(data["outlets"], data["feeds"]), allowed_mentions=NONE
        )


async def setup(bot) -> None:
    await bot.add_cog(Browse(bot))
