"""How the bot answers an interaction: one helper for a reply only the member sees.

Every reply pings no one (``AllowedMentions.none()``), whatever the client's default: a feed's
title or a member's text must never turn into a mass mention.
"""

from __future__ import annotations

from typing import Any

import discord

from . import render

NONE = discord.AllowedMentions.none()


async def private(interaction: discord.Interaction, text: str | None = None, **kwargs: Any) -> Any:
    """An ephemeral reply: the interaction's response when it has none yet, else a follow-up
    (after a defer). ``text`` is trimmed to Discord's message limit. Returns the follow-up message
    when one was sent (``wait=True``)."""
    kwargs.setdefault("allowed_mentions", NONE)
    if text is not None:
        kwargs["content"] = render.message_text(text)
    if interaction.response.is_done():
        return await interaction.followup.send(ephemeral=True, **kwargs)
    await interaction.response.send_message(ephemeral=True, **kwargs)
    return None
