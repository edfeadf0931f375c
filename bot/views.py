"""Buttons.

* Answer buttons are persistent :class:`discord.ui.DynamicItem` s: everything they
  need is in their custom_id (``nd:passages:<article ids>``, ``nd:more:<article id>``)
  and in the answer embed they sit under, so they keep working after a restart.
* :class:`Pager` pages through a result list kept in memory (10 minutes); only
  the member who ran the command may turn pages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import discord

from index.errors import NotFound
from index.models import Hit

from . import errors, render
from .checks import bot_of, mark_server, reader_scope
from .replies import NONE, private

log = logging.getLogger(__name__)

CUSTOM_ID_LIMIT = 100
PER_PAGE = 5
PAGER_TIMEOUT = 600.0


def _scope(interaction: discord.Interaction):
    return reader_scope(interaction.client, interaction.user.id, interaction.guild_id)


# -- answer buttons ----------------------------------------------------------------
class PassagesButton(discord.ui.DynamicItem[discord.ui.Button], template=r"nd:passages:(?P<ids>\d+(?:\.\d+)*)"):
    """Ephemeral: the passage behind each citation, the cited sentences in bold."""

    PREFIX = "nd:passages:"

    def __init__(self, article_ids: Sequence[int]):
        self.article_ids = [int(i) for i in article_ids]
        super().__init__(
            discord.ui.Button(
                label="Show passages",
                style=discord.ButtonStyle.secondary,
                custom_id=self.custom_id_for(self.article_ids),
            )
        )

    @classmethod
    def custom_id_for(cls, article_ids: Sequence[int]) -> str:
        ids: list[str] = []
        for article_id in article_ids:
            candidate = cls.PREFIX + ".".join(ids + [str(article_id)])
            if len(candidate) > CUSTOM_ID_LIMIT:
                break
            ids.append(str(article_id))
        return cls.PREFIX + ".".join(ids)

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /):
        return cls([int(x) for x in match["ids"].split(".")])

    async def callback(self, interaction: discord.Interaction) -> None:
        await errors.guarded(interaction, self._show(interaction))

    async def _show(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = bot_of(interaction)
        message = interaction.message
        quotes = render.quotes_from_embed(message.embeds[0]) if message and message.embeds else {}
        items = await bot.call(load_passages, bot.desk, self.article_ids, quotes, _scope(interaction))
        if not items:
            await private(interaction, "Those articles are no longer in the archive.")
            return
        await private(interaction, embed=render.passages_embed(items))


class MoreLikeButton(discord.ui.DynamicItem[discord.ui.Button], template=r"nd:more:(?P<id>\d+)"):
    """Ephemeral: articles like the top citation (a search on its title)."""

    def __init__(self, article_id: int):
        self.article_id = int(article_id)
        super().__init__(
            discord.ui.Button(
                label="More like this", style=discord.ButtonStyle.secondary, custom_id=f"nd:more:{self.article_id}"
            )
        )

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match[str], /):
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await errors.guarded(interaction, self._more(interaction))

    async def _more(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot = bot_of(interaction)
        scope = _scope(interaction)
        article = await bot.call(bot.desk.reading.article, self.article_id, scope)
        mark_server(interaction.guild_id, interaction.user.id)
        async with bot.heavy.slot():
            result = await bot.call(
                bot.desk.retriever.search, article.title or article.text[:200], limit=PER_PAGE + 1, scope=scope
            )
        hits = [h for h in result.hits if h.article.id != article.id][:PER_PAGE]
        embed = render.hits_page_embed(
            f"More like: {render.one_line(article.title)}", hits, 0, PER_PAGE, empty="Nothing similar in the archive."
        )
        await private(interaction, embed=embed)


def dynamic_items() -> tuple[type, ...]:
    return (PassagesButton, MoreLikeButton)


def answer_view(answer) -> discord.ui.View | None:
    """Persistent buttons under an answer (none when there is nothing to show)."""
    view = discord.ui.View(timeout=None)
    if answer.citations:
        view.add_item(PassagesButton([c.article.id for c in answer.citations]))
        view.add_item(MoreLikeButton(answer.citations[0].article.id))
    elif answer.hits:
        view.add_item(MoreLikeButton(answer.hits[0].article.id))
    return view if view.children else None


def load_passages(desk, article_ids: Sequence[int], quotes: dict[int, list[str]], scope):
    """(n, article, passage text, quotes) for each cited article visible in scope (runs in a thread)."""
    items = []
    for n, article_id in enumerate(article_ids, start=1):
        try:
            article, rows = desk.reading.passage_texts(article_id, scope)
        except NotFound:
            continue
        cited = quotes.get(n, [])
        items.append((n, article, best_passage(rows, cited) or article.summary or article.text, cited))
    return items


def best_passage(passages: list[str], quotes: list[str]) -> str:
    if not passages:
        return ""
    norm = [render.one_line(p) for p in passages]
    for q in quotes:
        q = render.one_line(q)
        for text in norm:
            if q and q in text:
                return text
    words = {w.lower() for q in quotes for w in re.findall(r"\w+", q)}
    if not words:
        return norm[0]
    return max(norm, key=lambda t: len(words & {w.lower() for w in re.findall(r"\w+", t)}))


# -- paging ------------------------------------------------------------------------
class Pager(discord.ui.View):
    """Previous / Next over results kept in memory."""

    def __init__(
        self,
        owner_id: int,
        title: str,
        hits: Sequence[Hit],
        *,
        notices: Sequence[str] = (),
        per_page: int = PER_PAGE,
        timeout: float = PAGER_TIMEOUT,
        empty: str = "No matching articles.",
        command: str | None = None,
    ):
        super().__init__(timeout=timeout)
        self.command = command  # "/latest": what to run again once the buttons expire
        self.owner_id = owner_id
        self.title = title
        self.hits = list(hits)
        self.notices = list(notices)
        self.per_page = per_page
        self.empty = empty
        self.page = 0
        self.message: discord.Message | None = None
        self._sync_buttons()

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.hits) // self.per_page))

    def embed(self) -> discord.Embed:
        return render.hits_page_embed(
            self.title, self.hits, self.page, self.per_page, notices=self.notices, empty=self.empty
        )

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await private(interaction, "Only the person who ran this command can turn its pages.")
        return False

    async def _turn(self, interaction: discord.Interaction, delta: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + delta))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self, allowed_mentions=NONE)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._turn(interaction, +1)

    async def on_timeout(self) -> None:
        if self.message is None:
            return
        for item in self.children:
            item.disabled = True  # type: ignore[attr-defined]
        try:
            await self.message.edit(embed=self.expired_embed(), view=self, allowed_mentions=NONE)
        except discord.HTTPException:
            pass

    def expired_embed(self) -> discord.Embed:
        """The page shown, its footer saying why the buttons went grey (they hold results in memory)."""
        embed = self.embed()
        note = f"Buttons expired — run {self.command} again" if self.command else "Buttons expired"
        footer = embed.footer.text if embed.footer else None
        embed.set_footer(text=f"{footer} · {note}" if footer else note)
        return render.finalize(embed)

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        errors.log_error(error, f"pager {getattr(item, 'label', '?')}")
        await errors.report(interaction, error)


async def send_results(
    interaction: discord.Interaction,
    title: str,
    hits: Sequence[Hit],
    *,
    notices: Sequence[str] = (),
    empty: str = "No matching articles.",
    ephemeral: bool = False,
) -> None:
    """Send a result list after a defer: one page, with Previous/Next when there are more."""
    command = f"/{interaction.command.qualified_name}" if interaction.command else None
    pager = Pager(interaction.user.id, title, hits, notices=notices, empty=empty, command=command)
    kwargs: dict[str, Any] = dict(embed=pager.embed(), allowed_mentions=NONE, ephemeral=ephemeral, wait=True)
    if pager.pages > 1:
        kwargs["view"] = pager
    interaction.extras["answered"] = True
    message = await interaction.followup.send(**kwargs)
    if pager.pages > 1:
        pager.message = message
    else:
        pager.stop()
