"""/ask, and questions asked by mentioning the bot or in DMs (replies are follow-ups)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from ... import errors, render
from ...checks import check_capacity, guard, mark_server, reader_scope
from ...replies import NONE
from ...views import answer_view
from ..following import feedback
from ._options import coverage_options

log = logging.getLogger(__name__)

HELP_TEXT = (
    "Ask me about the news in the archive, for example: "
    "`@newsdesk what happened with the volcano in Iceland?` — or use `/ask`."
)
DRAFT_EDIT_INTERVAL = 1.0  # seconds between two writes of the draft message, the final one included
# The pace is kept in real elapsed time (perf_counter): the drafts come in real time from the model
# and the limit is Discord's, so a test harness that virtualises time.monotonic must not freeze it.
_clock = time.perf_counter
DRAFT_HEADER = "✍️ *drafting — the sources are checked when it is done…*\n"


class DraftMessage:
    """The streamed draft of an answer as one followup message: sent with the first draft, then
    edited with the newest draft at most once every DRAFT_EDIT_INTERVAL seconds, and finally
    replaced by the checked answer.

    The answer is written in a worker thread, which calls :meth:`on_draft`; the drafts are handed
    to the event loop (``call_soon_threadsafe``), where :meth:`pump` shows them. No timers: a draft
    skipped by the throttle is covered by a later one or by the final answer."""

    def __init__(self, interaction: discord.Interaction, min_interval: float = DRAFT_EDIT_INTERVAL):
        self.interaction = interaction
        self.min_interval = min_interval
        self.loop = asyncio.get_running_loop()
        self.message: discord.WebhookMessage | None = None
        self.latest: str | None = None
        self.shown: str | None = None
        self.last_write: float | None = None
        self.writes = 0
        self._changed = asyncio.Event()
        self._done = False

    def on_draft(self, text: str) -> None:  # worker thread
        if not self._done:
            self.loop.call_soon_threadsafe(self._set, text)

    def _set(self, text: str) -> None:
        self.latest = text
        self._changed.set()

    def _due(self) -> bool:
        return self.last_write is None or _clock() - self.last_write >= self.min_interval

    async def pump(self) -> None:
        """Show drafts until :meth:`finish`."""
        while not self._done:
            await self._changed.wait()
            self._changed.clear()
            if self._done or self.latest is None or self.latest == self.shown or not self._due():
                continue
            text = self.latest
            try:
                await self._write(content=render.message_text(DRAFT_HEADER + render.safe_answer(text)))
            except discord.HTTPException as exc:  # a draft is best effort; the answer still comes
                log.warning("could not show the draft: %s", exc)
            self.shown = text

    async def _write(self, **kwargs) -> None:
        try:
            if self.message is None:
                self.message = await self.interaction.followup.send(wait=True, allowed_mentions=NONE, **kwargs)
            else:
                await self.message.edit(allowed_mentions=NONE, **kwargs)
        finally:
            self.writes += 1
            self.last_write = _clock()

    async def stop(self, pumping: asyncio.Task) -> None:
        """No more drafts: let the pump finish what it is writing, then end it."""
        self._done = True
        self._changed.set()
        await asyncio.gather(pumping, return_exceptions=True)

    async def finish(self, pumping: asyncio.Task, **kwargs) -> None:
        """Stop the drafts, then write the checked answer (a new message when no draft was shown)."""
        await self.stop(pumping)
        if self.message is not None and self.last_write is not None and not self._due():
            # keep the pace without an event-loop timer: the wait runs in a worker thread
            await asyncio.to_thread(time.sleep, max(0.0, self.min_interval - (_clock() - self.last_write)))
        if self.message is not None:
            kwargs.setdefault("content", None)
        await self._write(**kwargs)


class Ask(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @app_commands.command(name="ask", description="Ask a question about the news; the answer cites its sources.")
    @app_commands.describe(question="Your question")
    @coverage_options
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
        await bot.call(bot.desk.reading.check_query, question, source=source, since=since, until=until, scope=scope)
        await interaction.response.defer(thinking=True)
        interaction.extras["public_defer"] = True
        if not bot.desk.reading.streams:
            answer = await bot.heavy_call(
                bot.desk.reading.ask,
                question,
                source=source or None,
                since=since or None,
                until=until or None,
                scope=scope,
            )
            kwargs: dict[str, Any] = dict(embed=render.answer_embed(answer, question), allowed_mentions=NONE)
            view = feedback.with_feedback(
                answer_view(answer), answer, await feedback.record(bot, answer, scope, "slash")
            )
            if view is not None:
                kwargs["view"] = view
            interaction.extras["answered"] = True
            await interaction.followup.send(**kwargs)
            return
        # the LLM answerer: the draft appears as it is written, then the checked answer replaces it
        draft = DraftMessage(interaction)
        pumping = asyncio.ensure_future(draft.pump())
        try:
            answer = await bot.heavy_call(
                bot.desk.reading.ask,
                question,
                source=source or None,
                since=since or None,
                until=until or None,
                scope=scope,
                on_draft=draft.on_draft,
            )
        except BaseException:
            await draft.stop(pumping)
            if draft.message is not None:  # the draft does not stay up as if it were the answer
                interaction.extras["answered"] = True
                try:
                    await draft.message.edit(content="⚠️ The answer could not be finished.", embed=None, view=None)
                except discord.HTTPException as exc:
                    log.warning("could not withdraw the draft: %s", exc)
            raise
        kwargs = dict(embed=render.answer_embed(answer, question))
        view = feedback.with_feedback(answer_view(answer), answer, await feedback.record(bot, answer, scope, "slash"))
        if view is not None:
            kwargs["view"] = view
        interaction.extras["answered"] = True
        await draft.finish(pumping, **kwargs)

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
        mark_server(message.guild.id if message.guild else None, message.author.id)
        check_capacity(bot, "ask", message.author.id)
        scope = reader_scope(bot, message.author.id, message.guild.id if message.guild else None)
        answer = await bot.heavy_call(bot.desk.reading.ask, question, scope=scope, context=context)
        view = feedback.with_feedback(answer_view(answer), answer, await feedback.record(bot, answer, scope, "mention"))
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
