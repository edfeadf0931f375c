"""The ``/feeds`` command group, and the base of every part of the ``Feeds`` cog."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)

# Commands of every part register on this group; the cog binds a copy of it to itself when it is built.
feeds = app_commands.Group(
    name="feeds",
    description="Manage the news feeds (admins)",
    guild_only=True,
    default_permissions=ADMIN_PERMISSIONS,
)


class Part:
    """One concern of the /feeds cog (a mixin of :class:`~._cog.Feeds`)."""

    bot: Any
