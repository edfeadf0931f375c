"""The menu of feeds a web page offers, when /feeds add finds more than one."""

from __future__ import annotations

from typing import Any

import discord

from .... import render
from ....checks import is_admin
from ....replies import private


class DiscoveredFeeds(discord.ui.View):
    """The feeds a web page offers, as a menu; the admin who ran /feeds add picks one."""

    def __init__(self, cog: Any, owner_id: int, found, name, channel, backfill: int):
        super().__init__(timeout=300)
        self.cog, self.owner_id, self.found = cog, owner_id, {f.url: f for f in found}
        self.name, self.channel, self.backfill = name, channel, backfill
        self.choose.options = [  # type: ignore[assignment]  # discord.py types the decorated select as Never
            discord.SelectOption(
                label=render.trim(render.one_line(f.title) or f.url, 100),
                description=render.trim(f.url, 100),
                value=f.url[:100],
            )
            for f in found[:25]
            if len(f.url) <= 100
        ]

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id and is_admin(
            interaction.client, interaction.user, interaction.guild, interaction.permissions
        ):
            return True
        await private(interaction, "Only the admin who ran /feeds add can choose.")
        return False

    @discord.ui.select(placeholder="Choose a feed", min_values=1, max_values=1)
    async def choose(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        chosen = self.found[select.values[0]]
        self.stop()
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.cog.add_found(
            interaction,
            chosen.url,
            self.name,
            self.channel,
            self.backfill,
            f"Chose {render.safe(render.trim(chosen.url, 300))}.",
        )
