"""Autocomplete for the options several commands share: a source (outlet) and a feed."""

from __future__ import annotations

import discord
from discord import app_commands

from index.errors import NewsdeskError

from . import render
from .checks import bot_of, interaction_admin_scope, reader_scope


async def source_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Outlets known in this scope, best matches first (shared by every command with a `source`)."""
    bot = bot_of(interaction)
    scope = reader_scope(bot, interaction.user.id, interaction.guild_id)
    try:
        outlets = (await bot.call(bot.desk.reading.sources, scope))["outlets"]
    except NewsdeskError:
        return []
    typed = (current or "").strip().lower()
    names = [o["outlet"] for o in outlets if o.get("outlet")]
    starts = [n for n in names if n.lower().startswith(typed)]
    contains = [n for n in names if typed in n.lower() and n not in starts]
    return [app_commands.Choice(name=render.trim(n, 100), value=n[:100]) for n in (starts + contains)[:25]]


async def feed_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Feeds this admin may manage: their server's (all of them for bot owners)."""
    bot = bot_of(interaction)
    scope = interaction_admin_scope(interaction)
    try:
        feeds = await bot.call(bot.desk.archive.list_feeds, scope)
    except NewsdeskError:
        return []
    if scope.scoped:
        feeds = [f for f in feeds if f.guild_id == scope.guild_id]
    typed = (current or "").strip().lower()
    matches = [
        f for f in feeds if not typed or typed in f.display_name.lower() or typed in f.url.lower() or typed == str(f.id)
    ]
    return [
        app_commands.Choice(name=render.trim(f"{f.display_name} (id {f.id})", 100), value=str(f.id))
        for f in matches[:25]
    ]
