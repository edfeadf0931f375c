"""👍 / 👎 under every /ask answer, and the questions they and the abstentions point at.

The buttons are persistent :class:`discord.ui.DynamicItem` s, like the answer's other buttons:
their custom_id carries the recorded answer's id (``nd:vote:up:<id>``), and the answer itself
(question, cited ids, as-of, server) is in the archive, so a vote works on any answer, after a
restart and in every bot process — a timed view would stop working after its timeout or a restart,
which is when most late readers vote. One vote per member per answer (stored as a keyed hash of the
member's id); a second click replaces it."""

from __future__ import annotations

import logging
import re

import discord

from index.errors import NewsdeskError
from index.models import Answer, QuestionGroup, Scope

from ... import errors, render
from ...checks import bot_of
from ...replies import private

log = logging.getLogger(__name__)

LABELS = {1: "👍", -1: "👎"}


class VoteButton(discord.ui.DynamicItem[discord.ui.Button], template=r"nd:vote:(?P<dir>up|down):(?P<id>\d+)"):
    def __init__(self, direction: str, answer_id: int):
        self.direction = direction
        self.answer_id = int(answer_id)
        super().__init__(
            discord.ui.Button(
                emoji="👍" if direction == "up" else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"nd:vote:{direction}:{self.answer_id}",
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /):
        return cls(match["dir"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await errors.guarded(interaction, self._vote(interaction))

    async def _vote(self, interaction: discord.Interaction) -> None:
        bot = bot_of(interaction)
        vote = 1 if self.direction == "up" else -1
        result = await bot.call(bot.desk.feedback.vote, self.answer_id, interaction.user.id, vote, interaction.guild_id)
        if result["previous"] == vote:
            text = f"You already voted {LABELS[vote]} on this answer."
        elif result["previous"] is not None:
            text = f"Changed your vote to {LABELS[vote]} (was {LABELS[result['previous']]})."
        else:
            text = f"Thanks — your {LABELS[vote]} is recorded."
        if vote < 0:
            text += " Admins see the questions answers fell short on in `/status`."
        await private(interaction, text)


async def record(bot, answer: Answer, scope: Scope, via: str) -> int | None:
    """Record the answer (for votes and the unanswered list); None when the archive cannot take it
    now (the answer is shown anyway, without vote buttons)."""
    try:
        return await bot.call(bot.desk.feedback.record, answer, scope=scope, via=via)
    except NewsdeskError as exc:
        log.warning("could not record an answer: %s", exc)
        return None


def with_feedback(view: discord.ui.View | None, answer: Answer, answer_id: int | None) -> discord.ui.View | None:
    """The answer's view with 👍 / 👎 added (a new persistent view when it had none). An abstention
    gets none: it is on the unanswered list already."""
    if answer_id is None or answer.abstained or not answer.citations:
        return view
    view = view if view is not None else discord.ui.View(timeout=None)
    view.add_item(VoteButton("up", answer_id))
    view.add_item(VoteButton("down", answer_id))
    return view


def questions_embed(groups: list[QuestionGroup], budget: int = render.EMBED_TOTAL_LIMIT) -> discord.Embed:
    """Unanswered and down-voted questions by topic, each with the feeds discovery suggests, in at
    most ``budget`` characters (a message's embeds share Discord's 6000)."""
    embed = discord.Embed(title="Questions the archive fell short on", colour=render.WARN_COLOUR)
    if not groups:
        embed.description = "No unanswered or down-voted questions."
        return render.finalize(embed)
    for group in groups[: render.MAX_FIELDS]:
        asked = [
            f"• {render.safe(render.trim(render.one_line(q['question']), 150))} — "
            + ("unanswered" if q["abstained"] else f"👎 {q['down']} · 👍 {q['up']}")
            for q in group.questions
        ]
        value = render.fit_lines(asked, 600)
        if group.suggestions:
            feeds = [
                f"➕ {render.link(s['title'] or s['url'], s['url'], 80)} ({render.safe(s['how'])})"
                for s in group.suggestions[:5]
            ]
            value += "\n**Feeds to add:**\n" + render.fit_lines(feeds, 380)
        else:
            value += "\n*" + render.safe(render.trim(group.discovery, 300)) + "*"
        embed.add_field(
            name=render.trim(f"{render.safe(render.one_line(group.label))} ({len(group.questions)})", 250),
            value=value,
            inline=False,
        )
    render.finalize(embed)
    while len(embed) > budget and len(embed.fields) > 1:
        embed.remove_field(len(embed.fields) - 1)
    return embed


async def setup(bot) -> None:
    bot.add_dynamic_items(VoteButton)
