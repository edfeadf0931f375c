"""Members and servers leaving: what was made there for them goes.

``on_member_remove`` (with the members intent, ``[discord] members_intent``) drops the DM follows
and DM watches a member made in the server; ``on_guild_remove`` drops every follow and watch of a
server the bot was removed from. Without the intent, the delivery loops ask Discord before each
DM delivery instead (:func:`bot.membership.may_dm`)."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

log = logging.getLogger(__name__)


class Membership(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @commands.Cog.listener()
    async def on_member_remove(self, member: discord.Member) -> None:
        bot = self.bot
        dropped = await bot.call(bot.desk.following.forget_member, member.guild.id, member.id)
        if dropped:
            log.info("member %s left server %s: %d DM follows and watches dropped", member.id, member.guild.id, dropped)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        bot = self.bot
        dropped = await bot.call(bot.desk.following.forget_server, guild.id)
        log.info("removed from server %s: %d follows and watches dropped", guild.id, dropped)


async def setup(bot) -> None:
    await bot.add_cog(Membership(bot))
