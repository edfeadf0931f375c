"""Standing questions: ``/watch question [channel]``, ``/unwatch``, ``/watches``, and the loop that
re-asks them after each ingest and posts when a watch's cited answer changed.

The work is the service's (``desk.watches.add``, ``desk.watches.changes``): every
``WATCH_INTERVAL_SECONDS`` this bot asks it for changes of the watches with a Discord destination;
a watch is only re-asked when coverage newer than its last check is embedded (whoever ingested it:
this bot, another, a worker). Each change is claimed in the archive (watch id + answer
fingerprint) in the same transaction that queues its notice in the outbox, so one process queues
it and a kill cannot lose it; the bot's one sender (bot/delivery.py) posts it once, retrying a failed
send and looking for an attempt of unknown outcome in the target's messages before any resend.
A channel watch is for admins; without a channel the notice goes to the member's DMs.
Nothing sent pings anyone."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from index.errors import BadQuery
from index.models import Answer, Scope, Watch, WatchChange

from ... import render
from ...checks import bot_of, guard, is_admin
from ...delivery import payload_of, sender_of
from ...errors import NotAdmin
from ...loops import PeriodicCog
from ...membership import may_dm
from ...replies import private

log = logging.getLogger(__name__)

WATCH_INTERVAL_SECONDS = 60  # how often a bot looks for watches whose answer may have changed


# -- rendering ---------------------------------------------------------------------------
def _sentence_lines(pairs, numbers: dict[int, int]) -> list[str]:
    return [f"• {render.safe(render.trim(render.one_line(s), 400))} [{numbers[a.id]}]" for s, a in pairs]


def change_embed(change: WatchChange) -> discord.Embed:
    """A watch's answer changed: the new sentences and sources, and what they superseded."""
    embed = discord.Embed(
        title=render.safe(render.trim("Update: " + render.one_line(change.watch.question), render.TITLE_LIMIT - 10)),
        colour=render.COLOUR,
    )
    sources = list(dict.fromkeys([a for _, a in change.new] + change.new_sources))
    numbers = {a.id: n for n, a in enumerate(sources, start=1)}
    parts = ["**New in the answer**", render.fit_lines(_sentence_lines(change.new, numbers), 1600)]
    if change.superseded:
        gone = [f"• ~~{render.safe(render.trim(render.one_line(s), 300))}~~" for s in change.superseded]
        parts += ["", "**No longer in it (superseded)**", render.fit_lines(gone, 1000)]
    parts += [
        "",
        "**New sources**" if change.new_sources else "**Sources**",
        render.fit_lines([render.source_line(numbers[a.id], a) for a in sources], 1200),
    ]
    embed.description = "\n".join(parts)
    embed.set_footer(text=f"newsdesk · watch #{change.watch.id} · /unwatch {change.watch.id} stops it")
    return render.finalize(embed)


def _where(watch: Watch) -> str:
    if watch.channel_id:
        return f"<#{watch.channel_id}>"
    if watch.user_id:
        return "DMs"
    return "the terminal"


def watches_embed(watches: list[Watch], title: str) -> discord.Embed:
    embed = discord.Embed(title=title, colour=render.COLOUR)
    lines = [
        f"**#{w.id}** {render.safe(render.trim(render.one_line(w.question), 200))} → {_where(w)}"
        + (f" · by <@{w.created_by}>" if w.created_by else "")
        for w in watches
    ]
    embed.description = (
        render.fit_lines(lines, render.DESCRIPTION_LIMIT) if lines else "No watches. Add one with `/watch`."
    )
    return render.finalize(embed)


def added_text(watch: Watch, answer: Answer) -> str:
    now = "it has no answer yet" if not watch.answer else f"its answer now cites {len(answer.citations)} source(s)"
    return render.message_text(
        f"👀 Watching **#{watch.id}**: {render.safe(render.trim(render.one_line(watch.question), 300))} — "
        f"{now}. I'll post to {_where(watch)} when new coverage changes the cited answer "
        f"(`/unwatch {watch.id}` stops it)."
    )


# -- commands and the loop -------------------------------------------------------------------
class Watches(PeriodicCog):
    job = "watches"

    def __init__(self, bot):
        super().__init__(bot, seconds=WATCH_INTERVAL_SECONDS)
        self.sent = 0

    @app_commands.command(
        name="watch", description="Save a question; get the changes when new coverage changes its answer."
    )
    @app_commands.describe(
        question="The question to keep asking", channel="Post the changes here (admins); default: your DMs"
    )
    @guard()
    async def watch(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 300],
        channel: discord.TextChannel | None = None,
    ) -> None:
        bot = bot_of(interaction)
        if channel is not None:
            if interaction.guild_id is None:
                raise app_commands.NoPrivateMessage()
            if not is_admin(bot, interaction.user, interaction.guild, interaction.permissions):
                raise NotAdmin(
                    "Posting a watch to a channel is for server admins; without a channel it goes to your DMs."
                )
            me = interaction.guild.me if interaction.guild is not None else None
            if me is not None:
                perms = channel.permissions_for(me)
                if not (perms.view_channel and perms.send_messages and perms.embed_links):
                    raise BadQuery(f"I can't post in <#{channel.id}> (View Channel, Send Messages, Embed Links)")
        await bot.call(bot.desk.reading.check_query, question)
        await interaction.response.defer(ephemeral=True, thinking=True)
        watch, answer = await bot.heavy_call(
            bot.desk.watches.add,
            question,
            guild_id=interaction.guild_id,
            channel_id=channel.id if channel is not None else None,
            user_id=None if channel is not None else interaction.user.id,
            created_by=interaction.user.id,
        )
        await private(interaction, added_text(watch, answer), embed=render.answer_embed(answer))

    @app_commands.command(name="unwatch", description="Stop a watch (yours; admins: any of the server's).")
    @app_commands.describe(watch="The watch's number (see /watches)")
    async def unwatch(self, interaction: discord.Interaction, watch: str) -> None:
        bot = bot_of(interaction)
        admin = interaction.guild_id is not None and is_admin(
            bot, interaction.user, interaction.guild, interaction.permissions
        )
        removed = await bot.call(bot.desk.watches.remove, watch, _scope(interaction), interaction.user.id, admin)
        await private(
            interaction,
            f"Stopped watch #{removed.id}: {render.safe(render.trim(render.one_line(removed.question), 300))}",
        )

    @app_commands.command(name="watches", description="The watches you have here (admins: all of the server's).")
    async def watches(self, interaction: discord.Interaction) -> None:
        bot = bot_of(interaction)
        admin = interaction.guild_id is not None and is_admin(
            bot, interaction.user, interaction.guild, interaction.permissions
        )
        found = await bot.call(
            bot.desk.watches.list_watches, _scope(interaction), None if admin else interaction.user.id
        )
        title = "Watches of this server" if admin else "Your watches"
        await private(interaction, embed=watches_embed(found, title))

    # -- the loop ------------------------------------------------------------------------
    async def tick(self) -> None:
        await self.post_changes()

    async def post_changes(self) -> int:
        """Claim each change and queue its notice in the outbox (one transaction: a kill cannot
        leave a change claimed and its notice unqueued), then send it; returns how many are now
        posted."""
        bot = self.bot
        changes = await bot.heavy_call(bot.desk.watches.changes, True)
        sender = sender_of(bot)
        sent = 0
        members: dict = {}  # (server, member) -> still a member, asked once per pass
        for change in changes:
            watch = change.watch
            payload = payload_of({"embed": change_embed(change)})
            channel_id = watch.channel_id or None
            user_id = None if channel_id else watch.user_id
            if user_id is not None and not await may_dm(bot, watch.guild_id, user_id, members):
                continue  # no longer a member of the server the watch sees (the watch is gone)
            queue = bot.desk.outbox.queue_watch
            if not await bot.call(queue, change, payload, channel_id=channel_id, user_id=user_id):
                continue  # another process (or an earlier pass) has this change
            outcome = await sender.deliver(f"watch:{watch.id}:{change.fingerprint}", members)
            if outcome is not None and not outcome.sent and not outcome.dropped:
                log.warning("watch #%s: cannot post its change to %s: %s", watch.id, _where(watch), outcome.reason)
            sent += bool(outcome and outcome.sent)
        self.sent += sent
        return sent


def _scope(interaction: discord.Interaction):
    """Watches belong to the server they were made in (DMs: the member's global ones)."""
    return Scope(guild_id=interaction.guild_id, everything=False)


async def setup(bot) -> None:
    await bot.add_cog(Watches(bot))
