"""Is a member still in a server? Asked before a server's private articles go to someone's DMs:
when a DM is queued, and again by the sender before each attempt (a member may leave in between).

A DM follow or watch made in a server sees that server's private feeds; a member who left (or
was removed) must stop getting them. The cache answers when it knows the member (with the
members intent); otherwise one member lookup over HTTP answers, which needs no privileged intent.
"""

from __future__ import annotations

import logging

import discord

log = logging.getLogger(__name__)


async def still_member(bot, guild_id: int, user_id: int) -> bool | None:
    """True: a member; False: not (or the bot is no longer in the server); None: unknown now
    (Discord did not answer), so nothing is sent and nothing is dropped this time."""
    guild = bot.get_guild(guild_id)
    if guild is not None and guild.get_member(user_id) is not None:
        return True
    try:
        await bot.http.get_member(guild_id, user_id)
    except (discord.NotFound, discord.Forbidden):
        return False
    except discord.HTTPException as exc:
        log.info("membership of %s in %s unknown: %s", user_id, guild_id, exc)
        return None
    return True


async def may_dm(bot, guild_id: int | None, user_id: int | None, checked: dict | None = None) -> bool | None:
    """Whether a DM delivery made in ``guild_id`` may reach ``user_id`` (always, for one made in
    DMs: it sees the global feeds only). A member found gone loses what they made in that server.
    ``checked`` caches answers for one delivery pass."""
    if guild_id is None or user_id is None:
        return True
    key = (guild_id, user_id)
    if checked is not None and key in checked:
        return checked[key]
    member = await still_member(bot, guild_id, user_id)
    if member is False:
        dropped = await bot.call(bot.desk.following.forget_member, guild_id, user_id)
        log.info("member %s left server %s: %d DM follows and watches dropped", user_id, guild_id, dropped)
    if checked is not None:
        checked[key] = member
    return member
