"""Topic alerts: ``/follow topic [channel]``, ``/unfollow``, ``/following``, and the
delivery loop.

A follow with a channel is for server admins; without one it is the member's own, delivered by
DM. Every bot runs a delivery pass every ``ALERT_INTERVAL_SECONDS``: the service scores the new
articles against each follow and queues the alerts in the archive (index.following.alerts); this
cog claims each queued alert and queues its message in the outbox in one transaction, and the
bot's one sender (bot/delivery.py) sends it once, retries a failed send with backoff, and looks
for an attempt whose outcome is unknown in the target's messages before sending it again. At
most the service's per-target maximum goes to a channel or DM per pass; the rest is claimed as
summarised and told in one line. Nothing sent can ping anyone. A DM that
Discord refuses (closed DMs) is given up at once and pauses the member's DM follows until they
use ``/follow`` or ``/following`` again (never retried in a loop)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from index.models import AlertBatch, Follow

from ... import errors, render
from ...checks import bot_of, is_admin, is_owner
from ...delivery import payload_of, sender_of
from ...loops import PeriodicCog
from ...membership import may_dm
from ...replies import private

log = logging.getLogger(__name__)

ALERT_INTERVAL_SECONDS = 60  # how often every bot looks for alerts to deliver


def _can_manage(interaction: discord.Interaction) -> bool:
    return is_admin(interaction.client, interaction.user, interaction.guild, interaction.permissions)


async def follow_autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """The follows the user may remove: their own DM follows, and their server's channel follows."""
    bot = bot_of(interaction)
    try:
        follows = await bot.call(
            bot.desk.following.list_follows, guild_id=interaction.guild_id, user_id=interaction.user.id
        )
    except Exception:  # noqa: BLE001 - autocomplete never fails loudly
        return []
    typed = (current or "").strip().lower()
    return [
        app_commands.Choice(name=render.trim(f"#{f.id} {f.topic}", 100), value=str(f.id))
        for f in follows
        if not typed or typed in f.topic.lower() or typed.lstrip("#") == str(f.id)
    ][:25]


class Alerts(PeriodicCog):
    job = "topic alerts"

    def __init__(self, bot):
        super().__init__(bot, seconds=ALERT_INTERVAL_SECONDS)
        self._lock = asyncio.Lock()
        self.sent = 0
        self.passes = 0

    async def tick(self) -> None:
        await self.deliver()

    # -- commands ---------------------------------------------------------------------
    @app_commands.command(name="follow", description="Get new articles on a topic: in your DMs, or in a channel.")
    @app_commands.describe(
        topic="What to follow (words, a name, a story)", channel="Deliver to this channel (server admins)"
    )
    async def follow(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 0, 400],
        channel: discord.TextChannel | None = None,
    ) -> None:
        bot = self.bot
        if channel is not None:
            if interaction.guild_id is None:
                raise app_commands.NoPrivateMessage()
            if not _can_manage(interaction):
                raise errors.NotAdmin(
                    "Following a topic for a channel is for server admins; "
                    "without a channel the alerts come to your DMs."
                )
            made = await bot.call(
                bot.desk.following.add,
                topic,
                guild_id=interaction.guild_id,
                channel_id=channel.id,
                created_by=interaction.user.id,
            )
            where = f"in {channel.mention}"
        else:
            made = await bot.call(
                bot.desk.following.add,
                topic,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                created_by=interaction.user.id,
            )
            where = "in your DMs"
        await private(
            interaction,
            f"✅ Following **{render.safe(render.trim(made.topic, 200))}** (`#{made.id}`): new articles on it "
            f"come {where}, once per story. `/unfollow` stops it.",
        )

    @app_commands.command(name="unfollow", description="Stop following a topic.")
    @app_commands.describe(follow="The follow (see /following)")
    @app_commands.autocomplete(follow=follow_autocomplete)
    async def unfollow(self, interaction: discord.Interaction, follow: app_commands.Range[str, 1, 20]) -> None:
        bot = self.bot
        removed = await bot.call(
            bot.desk.following.remove,
            follow,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            admin=interaction.guild_id is not None and _can_manage(interaction),
            everything=is_owner(bot, interaction.user.id),
        )
        await private(interaction, f"Stopped following {render.follow_line(removed)}.")

    @app_commands.command(name="following", description="The topics followed here and in your DMs.")
    async def following(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        await bot.call(bot.desk.following.resume, interaction.user.id)
        follows = await bot.call(
            bot.desk.following.list_follows, guild_id=interaction.guild_id, user_id=interaction.user.id
        )
        channel = [f for f in follows if f.kind == "channel"]
        mine = [f for f in follows if f.kind == "dm"]
        parts = []
        if channel:
            parts.append("**This server's channels**\n" + "\n".join(render.follow_line(f) for f in channel))
        if mine:
            parts.append("**Your DMs**\n" + "\n".join(render.follow_line(f) for f in mine))
        text = "\n\n".join(parts) or "Nothing is followed yet. `/follow topic` sends new articles on it to your DMs."
        await private(interaction, text)

    # -- one delivery pass ------------------------------------------------------------
    async def deliver(self) -> int:
        """Plan (score and queue) the new articles' alerts, then send what is queued. Returns the sent."""
        async with self._lock:
            self.passes += 1
            bot = self.bot
            await bot.heavy_call(bot.desk.following.plan)
            sent = 0
            targets: dict[tuple[str, int], Any] = {}
            closed: set[int] = set()  # members whose DMs failed in this pass
            members: dict = {}  # (server, member) -> still a member, asked once per pass
            for batch in await bot.call(bot.desk.following.batches):
                follow = batch.follow
                if follow.kind == "dm" and not await may_dm(bot, follow.guild_id, follow.user_id, members):
                    continue  # left the server (the follow is gone), or unknown now (stays queued)
                sent += await self._deliver_batch(batch, targets, closed, members)
            self.sent += sent
            return sent

    async def _deliver_batch(self, batch: AlertBatch, targets: dict, closed: set[int], members: dict) -> int:
        bot = self.bot
        follow = batch.follow
        key = ("channel", follow.channel_id) if follow.channel_id is not None else ("dm", follow.user_id or 0)
        if key not in targets:
            targets[key] = await self._target(follow)
        target = targets[key]
        sender = sender_of(bot)
        channel_id = follow.channel_id
        user_id = follow.user_id if channel_id is None else None
        sent = 0
        for alert in batch.alerts:
            if target is None or (follow.kind == "dm" and follow.user_id in closed):
                if not await bot.call(bot.desk.following.claim, follow.id, alert.article.id):
                    continue  # another process (or an earlier pass) has it
                reason = "the channel cannot be found" if follow.kind == "channel" else "the member cannot be found"
                if follow.user_id in closed:
                    reason = "the member's DMs are closed"
                await bot.call(
                    bot.desk.following.failed, follow.id, alert.article.id, reason, dm_closed=follow.kind == "dm"
                )
                continue
            payload = payload_of({"embed": render.alert_embed(alert)})
            queued = await bot.call(
                bot.desk.outbox.queue_alert,
                follow.id,
                alert.article.id,
                payload,
                channel_id=channel_id,
                user_id=user_id,
                guild_id=follow.guild_id,
            )
            if not queued:
                continue  # another process (or an earlier pass) has it
            outcome = await sender.deliver(f"alert:{follow.id}:{alert.article.id}", members)
            if outcome is not None and outcome.sent:
                sent += 1
            elif outcome is not None and outcome.gave_up and follow.kind == "dm" and follow.user_id is not None:
                closed.add(follow.user_id)
        summarised = []
        for alert in batch.overflow:
            if await bot.call(bot.desk.following.summarise, follow.id, alert.article.id):
                summarised.append(alert.article.id)
        if summarised and target is not None and follow.user_id not in closed:
            text = render.message_text(
                f"…and {len(summarised)} more new articles on “{render.safe(render.trim(follow.topic, 200))}” "
                "(see `/search`)."
            )
            summary_key = f"alert-summary:{follow.id}:{min(summarised)}"
            payload = {"content": text}
            ref = {"guild_id": follow.guild_id}  # a DM summary names a server's follow: members only
            if await bot.call(
                bot.desk.outbox.queue, "notice", summary_key, payload, channel_id=channel_id, user_id=user_id, ref=ref
            ):
                await sender.deliver(summary_key, members)
        return sent

    async def _target(self, follow: Follow):
        """The channel, or the member (their DMs), a follow delivers to; None when it is gone."""
        bot = self.bot
        try:
            if follow.channel_id is not None:
                return bot.get_channel(follow.channel_id) or await bot.fetch_channel(follow.channel_id)
            if follow.user_id is not None:
                return bot.get_user(follow.user_id) or await bot.fetch_user(follow.user_id)
        except discord.HTTPException as exc:
            log.info("follow #%s: target not reachable: %s", follow.id, exc)
        return None


async def setup(bot) -> None:
    await bot.add_cog(Alerts(bot))
