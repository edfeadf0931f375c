"""/ask, and questions asked by mentioning the bot or in DMs (replies are follow-ups)."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from ... import errors, render
from ...autocomplete import source_autocomplete
from ...checks import check_capacity, guard, reader_scope
from ...views import answer_view

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
HELP_TEXT = (
    "Ask me about the news in the archive, for example: "
    "`@newsdesk what happened with the volcano in Iceland?` — or use `/ask`."
)


class Ask(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @app_commands.command(name="ask", description="Ask a question about the news; the answer cites its sources.")
    @app_commands.describe(
        question="Your question",
        source="Only this outlet (e.g. Reuters)",
        since="Only coverage from this date on (2024-03-15, 'last week'…)",
        until="Only coverage up to this date",
    )
    @app_commands.autocomplete(source=source_autocomplete)
    @guard("ask")
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 1000],
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        bot = self.bot
        scope = reader_scope(bot, interaction.user.id, interaction.guild_id)
        await bot.call(bot.desk.check_query, question, source=source, since=since, until=until, scope=scope)
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        answer = await bot.heavy_call(
            bot.desk.ask, question, source=source or None, since=since or None, until=until or None, scope=scope
        )
        kwargs: dict[str, Any] = dict(embed=render.answer_embed(answer, question), allowed_mentions=NONE)
        view = answer_view(answer)
        if view is not None:
            kwargs["view"] = view
        interaction.extras["answered"] = True
        await interaction.followup.send(**kwargs)

    # -- mentions and DMs ---------------------------------------------------------------
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        bot = self.bot
        if message.author.bot or message.webhook_id is not None or bot.user is None:
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        in_dm = message.guild is None
        mentioned = bool(re.search(rf"<@!?{bot.user.id}>", message.content or ""))
        # In a server, only messages that ping the bot (an @mention, or a reply that pings it) carry
        # their content without the privileged intent; everything else is not for us.
        if not (in_dm or mentioned or any(u.id == bot.user.id for u in message.mentions)):
            return
        earlier = await self._answered_question(message)
        if not (in_dm or mentioned or earlier is not None):
            return
        question = re.sub(rf"<@!?{bot.user.id}>", " ", message.content or "").strip()
        if not question:
            if in_dm or mentioned:
                await self._reply(message, content=HELP_TEXT)
            return
        try:
            await self._answer_message(message, question, earlier or None)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a short reply
            errors.log_error(exc, "mention question")
            await self._reply(message, content="⚠️ " + errors.describe(exc))

    async def _answer_message(self, message: discord.Message, question: str, context: str | None) -> None:
        bot = self.bot
        check_capacity(bot, "ask", message.author.id)
        scope = reader_scope(bot, message.author.id, message.guild.id if message.guild else None)
        answer = await bot.heavy_call(bot.desk.ask, question, scope=scope, context=context)
        view = answer_view(answer)
        kwargs: dict[str, Any] = {"embed": render.answer_embed(answer, question)}
        if view is not None:
            kwargs["view"] = view
        await self._reply(message, **kwargs)

    async def _answered_question(self, message: discord.Message) -> str | None:
        """When the message replies to one of our answers: that answer's question, else None."""
        ref = message.reference
        if ref is None or ref.message_id is None:
            return None
        target = ref.resolved if isinstance(ref.resolved, discord.Message) else ref.cached_message
        if target is None:
            try:
                target = await message.channel.fetch_message(ref.message_id)
            except discord.HTTPException:
                return None
        if target.author.id != self.bot.user.id or not target.embeds:
            return None
        return render.question_from_embed(target.embeds[0])

    async def _reply(self, message: discord.Message, **kwargs) -> None:
        if "content" in kwargs:
            kwargs["content"] = render.message_text(kwargs["content"])
        try:
            await message.reply(mention_author=False, allowed_mentions=NONE, **kwargs)
        except discord.HTTPException as exc:
            if exc.status >= 500 or isinstance(exc, discord.Forbidden):
                log.warning("cannot reply in channel %s: %s", message.channel.id, exc)
                return
            # e.g. the question was deleted meanwhile: answer without the reference
            try:
                await message.channel.send(allowed_mentions=NONE, **kwargs)
            except discord.HTTPException as exc2:
                log.warning("cannot answer in channel %s: %s", message.channel.id, exc2)


async def setup(bot) -> None:
    await bot.add_cog(Ask(bot))
