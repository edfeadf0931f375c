"""Notices to the admin channel (``discord.admin_channel``), never pinging anyone."""

from __future__ import annotations

import logging

import discord

from . import render
from .replies import NONE

log = logging.getLogger(__name__)


async def notify_admins(bot, text: str) -> None:
    channel_id = bot.config.discord.admin_channel
    if not channel_id:
        log.warning("admin notice (no admin_channel configured): %s", text)
        return
    channel = bot.get_channel(channel_id)
    try:
        if channel is None:
            channel = await bot.fetch_channel(channel_id)
        await channel.send(render.message_text(text), allowed_mentions=NONE)
    except (discord.HTTPException, AttributeError) as exc:
        log.warning("cannot post to the admin channel %s (%s): %s", channel_id, exc, text)
