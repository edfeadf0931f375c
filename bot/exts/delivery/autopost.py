"""Auto-posting: each new article of a feed with a channel is posted there once.

Auto-posting does not depend on who ingested: every bot runs a posting pass every
``POST_INTERVAL_SECONDS`` (also with polling off) over the service's pending posts — articles
a feed with a channel picked up after its first successful fetch (that fetch is backlog),
published after the feed's ``posting_since`` (minus a grace period) and first seen recently
(no flood after a long downtime). Each post is claimed atomically first (an INSERT OR IGNORE
in the shared archive), so an article reaches a channel at most once: across restarts, across
feeds sharing a channel and across bot processes. The service applies the feed's filters and the
channel's flood control first (``delivery_queue``) and logs every decision. A failed send is
logged and retried with backoff (``due_retries``, each retry claimed once), then given up; a
claim left unsent by a process that died is retried too. At most ``MAX_POSTS_PER_CHANNEL``
posts per channel and pass; the rest is claimed too and summarised in one line. A channel the
bot cannot post to is logged and reported once (claimed in the archive: once across processes
and restarts, until a post there succeeds again)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import discord

from index.models import Article, Feed

from ... import render
from ...loops import PeriodicCog
from ...notices import notify_admins
from ...replies import NONE

log = logging.getLogger(__name__)

POST_INTERVAL_SECONDS = 60  # how often every bot looks for articles to auto-post
MAX_POSTS_PER_CHANNEL = 10  # per posting pass; more new articles are summarised in one line
PENDING_BATCH = 200  # rows read per query in a posting pass
MAX_BATCHES = 50  # a pass stops after this many batches (the next pass goes on)


class AutoPost(PeriodicCog):
    job = "auto-post"

    def __init__(self, bot):
        super().__init__(bot, seconds=POST_INTERVAL_SECONDS)
        self._post_lock = asyncio.Lock()
        self.problem_channels: set[int] = set()
        self.channel_reasons: dict[int, str] = {}
        self.ok_channels: set[int] = set()
        self.posted = 0
        self.post_passes = 0

    async def tick(self) -> None:
        await self.post_pending()

    # -- one posting pass ------------------------------------------------------------
    async def post_pending(self) -> int:
        """Post what the archive has pending (whoever ingested it), then the retries that are due.
        Returns the posts sent."""
        async with self._post_lock:  # the poll's pass and the timer's pass never overlap
            self.post_passes += 1
            per_channel: dict[int, int] = defaultdict(int)
            skipped: dict[int, int] = defaultdict(int)
            channels: dict[int, Any] = {}  # channel_id -> channel or None, looked up once per pass
            posted = 0
            # filters and flood control are applied by the service (rejected ones are claimed and logged)
            batch = await self.bot.call(self.bot.desk.delivery.queue, PENDING_BATCH * MAX_BATCHES)
            for channel_id, feed, article in batch:
                if channel_id not in channels:
                    channels[channel_id] = await self._postable_channel(channel_id)
                posted += await self._post_one(channels[channel_id], channel_id, feed, article, per_channel, skipped)
            for channel_id, feed, article, attempts in await self.bot.call(self.bot.desk.delivery.due_retries):
                if not await self.bot.call(self.bot.desk.archive.claim_retry, channel_id, article.id, attempts):
                    continue  # another process retries it
                if channel_id not in channels:
                    channels[channel_id] = await self._postable_channel(channel_id)
                posted += await self._send(channels[channel_id], channel_id, feed, article, attempts)
            await self._apply_updates(channels)
            for channel_id, count in skipped.items():
                channel = channels.get(channel_id)
                if channel is not None:
                    try:
                        await channel.send(f"…and {count} more new articles (see `/latest`).", allowed_mentions=NONE)
                    except discord.HTTPException:
                        pass
            self.posted += posted
            return posted

    async def _post_one(
        self,
        channel,
        channel_id: int,
        feed: Feed | None,
        article: Article,
        per_channel: dict[int, int],
        skipped: dict[int, int],
    ) -> int:
        bot = self.bot
        feed_id = feed.id if feed is not None else 0
        claim = bot.desk.archive.claim_delivery
        if per_channel[channel_id] >= MAX_POSTS_PER_CHANNEL:
            if await bot.call(claim, channel_id, article.id, feed_id):  # summarised, never posted later
                skipped[channel_id] += 1
                await bot.call(
                    bot.desk.delivery.skip,
                    channel_id,
                    article.id,
                    feed_id,
                    f"more than {MAX_POSTS_PER_CHANNEL} new articles in one posting pass (summarised in one line)",
                )
            return 0
        if not await bot.call(claim, channel_id, article.id, feed_id):
            return 0  # already posted there (another feed, another pass, another process, before a restart)
        sent = await self._send(channel, channel_id, feed, article, 0)
        per_channel[channel_id] += sent
        return sent

    async def _send(self, channel, channel_id: int, feed: Feed | None, article: Article, attempts: int) -> int:
        """Send one claimed post; a failure is logged and retried with backoff by the service."""
        bot = self.bot
        feed_id = feed.id if feed is not None else 0
        if channel is None:
            reason = self.channel_reasons.get(channel_id, "the channel cannot be posted to")
            await bot.call(bot.desk.delivery.failed, channel_id, article.id, feed_id, reason, attempts)
            return 0
        try:
            content = await bot.call(bot.desk.delivery.content, feed, article, render.safe)
            pings = await bot.call(bot.desk.delivery.pings, feed, article)
            plan = await bot.call(bot.desk.delivery.thread, feed, article)
            message = await self._deliver(channel, render.post_message(content, article, feed, pings), plan)
        except discord.HTTPException as exc:
            reason = f"posting failed ({exc.status} {render.trim(exc.text, 100)})"
            await bot.call(bot.desk.delivery.failed, channel_id, article.id, feed_id, reason, attempts)
            await self._channel_problem(channel_id, reason)
            return 0
        if channel_id in self.problem_channels or not self._seen_ok(channel_id):
            self.problem_channels.discard(channel_id)
            await bot.call(bot.desk.archive.clear_channel_notice, channel_id)
        await bot.call(bot.desk.delivery.posted, channel_id, article.id, message.id)
        return 1

    async def _apply_updates(self, channels: dict[int, Any]) -> None:
        """Articles the feed re-published changed: edit the earlier post, or post again marked
        updated (per feed; ignored by default). Each update is claimed once per channel."""
        bot = self.bot
        for channel_id, feed, article, message_id, mode, update_id in await bot.call(bot.desk.delivery.pending_updates):
            if not await bot.call(bot.desk.archive.claim_update, channel_id, article.id, update_id):
                continue
            if channel_id not in channels:
                channels[channel_id] = await self._postable_channel(channel_id)
            channel = channels[channel_id]
            if channel is None or isinstance(channel, discord.ForumChannel):
                await bot.call(
                    bot.desk.delivery.record_update,
                    channel_id,
                    article.id,
                    mode,
                    None,
                    "not a text channel" if channel is not None else "the channel cannot be posted to",
                )
                continue
            content = await bot.call(bot.desk.delivery.content, feed, article, render.safe)
            kwargs = render.post_message(content, article, feed)
            try:
                if mode == "edit":
                    await channel.get_partial_message(message_id).edit(**kwargs)
                    new_id = message_id
                else:
                    kwargs["content"] = render.message_text(
                        "🔄 Updated" + (f"\n{kwargs['content']}" if kwargs.get("content") else "")
                    )
                    new_id = (await channel.send(**kwargs)).id
            except discord.HTTPException as exc:
                await bot.call(
                    bot.desk.delivery.record_update,
                    channel_id,
                    article.id,
                    mode,
                    None,
                    f"{exc.status} {render.trim(exc.text, 100)}",
                )
                continue
            await bot.call(bot.desk.delivery.record_update, channel_id, article.id, mode, new_id)

    async def _deliver(self, channel, kwargs: dict, plan: dict):
        """Send one post: a forum post (titled, tagged by filter) into a forum channel, else a
        message, with a thread opened on it when the feed asks for one."""
        if isinstance(channel, discord.ForumChannel):
            tags = [t for t in channel.available_tags if t.name in plan["tags"]][:5]
            created = await channel.create_thread(name=plan["title"] or "News", applied_tags=tags, **kwargs)
            return created.message
        message = await channel.send(**kwargs)
        if plan["thread"] and isinstance(channel, discord.TextChannel):
            try:
                await message.create_thread(name=plan["title"] or "News")
            except discord.HTTPException as exc:  # the post itself went out; the thread is a nicety
                log.warning("cannot open a thread in channel %s: %s", channel.id, exc)
        return message

    async def _postable_channel(self, channel_id: int):
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.NotFound:
                await self._channel_problem(channel_id, "the channel no longer exists")
                return None
            except discord.HTTPException as exc:
                await self._channel_problem(channel_id, f"I can't see the channel ({exc.status})")
                return None
        if not isinstance(channel, (discord.abc.Messageable, discord.ForumChannel)):
            await self._channel_problem(channel_id, "it is not a text channel")
            return None
        guild = getattr(channel, "guild", None)
        if guild is not None and guild.me is not None and isinstance(channel, discord.abc.GuildChannel):
            perms = channel.permissions_for(guild.me)
            if not (perms.view_channel and perms.send_messages and perms.embed_links):
                await self._channel_problem(channel_id, "I'm missing View Channel, Send Messages or Embed Links there")
                return None
        return channel

    def _seen_ok(self, channel_id: int) -> bool:
        """Whether this process already cleared the channel's reported problem once (a write per
        channel and process, not per post)."""
        if channel_id in self.ok_channels:
            return True
        self.ok_channels.add(channel_id)
        return False

    async def _channel_problem(self, channel_id: int, reason: str) -> None:
        self.ok_channels.discard(channel_id)
        self.channel_reasons[channel_id] = reason
        log.warning("auto-post to channel %s: %s", channel_id, reason)
        if channel_id in self.problem_channels:
            return
        self.problem_channels.add(channel_id)
        if not await self.bot.call(self.bot.desk.archive.claim_channel_notice, channel_id, reason):
            return  # already reported (by another process, or before a restart)
        await notify_admins(
            self.bot,
            f"⚠️ Can't auto-post to <#{channel_id}> (id {channel_id}): {reason}. "
            "Its posts are retried with backoff for a while, then given up "
            "(`/feeds why` tells for each article).",
        )


async def setup(bot) -> None:
    await bot.add_cog(AutoPost(bot))
