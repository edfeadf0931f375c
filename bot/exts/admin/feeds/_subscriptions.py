"""Members: /subscribe and /unsubscribe (a feed's ping role an admin made subscribable)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import BadQuery

from ....replies import private
from ....roles import handout_problem


class Subscriptions(commands.Cog):
    """/subscribe and /unsubscribe: members give themselves (or drop) a role a feed pings, when an
    admin made that ping subscribable. Open to everyone; the role must be one of this server's
    subscribable ping roles (checked in the archive at run time)."""

    def __init__(self, bot):
        self.bot = bot

    async def _role(self, interaction: discord.Interaction, role: discord.Role) -> discord.Role:
        bot = self.bot
        if role.is_default() or not await bot.call(bot.desk.archive.role_subscribable, interaction.guild_id, role.id):
            raise BadQuery(f"{role.name} is not a role you can subscribe to here")
        return role

    @app_commands.command(name="subscribe", description="Get pinged when a feed posts (a role an admin opened).")
    @app_commands.describe(role="The feed's ping role")
    @app_commands.guild_only()
    async def subscribe(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._role(interaction, role)
        problem = handout_problem(role, role.guild.me)  # again now: the role may have changed since
        if problem:
            raise BadQuery(f"{problem}, so I won't hand it out")
        try:
            await _member(interaction).add_roles(role, reason="newsdesk /subscribe")
        except discord.Forbidden:
            raise BadQuery("I can't give that role (I need Manage Roles, above that role)") from None
        await private(interaction, f"Subscribed: you'll be pinged as {role.mention}. `/unsubscribe` to stop.")

    @app_commands.command(name="unsubscribe", description="Stop being pinged by a feed's role.")
    @app_commands.describe(role="The feed's ping role")
    @app_commands.guild_only()
    async def unsubscribe(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._role(interaction, role)
        try:
            await _member(interaction).remove_roles(role, reason="newsdesk /unsubscribe")
        except discord.Forbidden:
            raise BadQuery("I can't take that role (I need Manage Roles, above that role)") from None
        await private(interaction, f"Unsubscribed from {role.mention}.")


def _member(interaction: discord.Interaction) -> discord.Member:
    """The member who used a guild-only command."""
    user = interaction.user
    if not isinstance(user, discord.Member):
        raise BadQuery("that works in a server only")
    return user
