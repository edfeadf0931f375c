"""Auto-posting: each new article of a feed with a channel is posted there once.

Auto-posting does not depend on who ingested: every bot runs a posting pass every
``POST_INTERVAL_SECONDS`` (also with polling off) over the service's pending posts — articles
a feed with a channel picked up after its first successful fetch (that fetch is backlog),
published after the feed's ``posting_since`` (minus a grace period) and first seen recently
(no flood after a long downtime). Each post is claimed and queued in the archive's outbox in one
transaction, then sent by the bot's one sender (bot/delivery.py), so it appears in the channel
once: across restarts, kills, feeds sharing a channel and bot processes. A send that failed is
retried with backoff and given up (reported once) after the outbox's maximum; one whose outcome
is unknown is looked for in the channel before it is sent again. The service applies the feed's
filters and the channel's flood control first (``delivery_queue``) and logs every decision. At
most ``MAX_POSTS_PER_CHANNEL`` posts per channel and pass: the rest stay pending and go out in
the next passes, unless the channel's admin chose a summary (``/feeds limits summarise_over``).
A channel the bot cannot post to is logged and reported once (claimed in the archive: once
across processes and restarts, until a post there succeeds again)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import discord

from index.models import Article, Feed

from ... import render
from ...delivery import payload_of, sender_of
from ...loops import PeriodicCog
from ...notices import notify_admins

log = logging.getLogger(__name__)

POST_INTERVAL_SECONDS = 60  # how often every bot looks for articles to auto-post
MAX_POSTS_PER_CHANNEL = 10  # per channel and posting pass; the rest wait for the next pass (never dropped)
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
        """Settle the deliveries that are due (retries, unknown outcomes, a dead process's), then
        post what the archive has pending (whoever ingested it). Returns the posts now in channels."""
        async with self._post_lock:  # the poll's pass and the timer's pass never overlap
            self.post_passes += 1
            bot = self.bot
            sender = sender_of(bot)
            posted = await sender.drain()
            per_channel: dict[int, int] = defaultdict(int)
            summarised: dict[int, list[int]] = defaultdict(list)
            channels: dict[int, Any] = {}  # channel_id -> channel or None, looked up once per pass
            limits: dict[int, Any] = {}
            # filters and flood control are applied by the service (rejected ones are claimed and logged)
            batch = await bot.call(bot.desk.delivery.queue, PENDING_BATCH * MAX_BATCHES)
            for channel_id, feed, article in batch:
                if channel_id not in channels:
                    channels[channel_id] = await self._postable_channel(channel_id)
                    limits[channel_id] = (await bot.call(bot.desk.settings.limits, channel_id))[0]
                summarise_over = limits[channel_id].summarise_over
                if per_channel[channel_id] >= (summarise_over or MAX_POSTS_PER_CHANNEL):
                    if summarise_over and await self._summarise(channel_id, feed, article, summarise_over):
                        summarised[channel_id].append(article.id)
                    continue  # paced: still pending, it goes out in a later pass
                per_channel[channel_id] += 1
                posted += await self._post_one(channels[channel_id], channel_id, feed, article)
            await self._apply_updates(channels)
            for channel_id, article_ids in summarised.items():
                await self._summary_line(channels.get(channel_id), channel_id, article_ids)
            self.posted += posted
            return posted

    async def _summarise(self, channel_id: int, feed: Feed | None, article: Article, over: int) -> bool:
        """Claim an article the channel's own limit summarises (never posted later)."""
        bot = self.bot
        feed_id = feed.id if feed is not None else 0
        if not await bot.call(bot.desk.archive.claim_delivery, channel_id, article.id, feed_id):
            return False
        reason = f"more than {over} new articles in one posting pass (summarised in one line, as /feeds limits set)"
        await bot.call(bot.desk.delivery.skip, channel_id, article.id, feed_id, reason)
        return True

    async def _summary_line(self, channel, channel_id: int, article_ids: list[int]) -> None:
        if channel is None:
            return
        text = f"…and {len(article_ids)} more new articles (see `/latest`)."
        key = f"summary:{channel_id}:{min(article_ids)}"
        bot = self.bot
        if await bot.call(bot.desk.outbox.queue, "notice", key, {"content": text}, channel_id=channel_id):
            await sender_of(bot).deliver(key)

    async def _post_one(self, channel, channel_id: int, feed: Feed | None, article: Article) -> int:
        """Claim and queue one post (atomically, in the archive), then send it."""
        bot = self.bot
        feed_id = feed.id if feed is not None else 0
        content = await bot.call(bot.desk.delivery.content, feed, article, render.safe)
        pings = await bot.call(bot.desk.delivery.pings, feed, article)
        plan = await bot.call(bot.desk.delivery.thread, feed, article)
        kwargs = render.post_message(content, article, feed, pings)
        forum = None
        if isinstance(channel, discord.ForumChannel):
            forum = {"title": plan["title"], "tags": list(plan["tags"])}
        thread = (plan["title"] or "News") if plan["thread"] and forum is None else None
        payload = payload_of(kwargs, thread=thread, forum=forum)
        if not await bot.call(bot.desk.outbox.queue_post, channel_id, article.id, feed_id, payload):
            return 0  # already posted there (another feed, another pass, another process, before a restart)
        key = f"post:{channel_id}:{article.id}"
        sender = sender_of(bot)
        if channel is None:
            reason = self.channel_reasons.get(channel_id, "the channel cannot be posted to")
            await sender.fail_now(key, reason)
            return 0
        outcome = await sender.deliver(key)
        if outcome is None:
            return 0
        if not outcome.sent:
            if outcome.status is not None:
                await self._channel_problem(channel_id, outcome.reason or "posting failed")
            return 0
        if channel_id in self.problem_channels or not self._seen_ok(channel_id):
            self.problem_channels.discard(channel_id)
            await bot.call(bot.desk.archive.clear_channel_notice, channel_id)
        return 1

    async def _apply_updates(self, channels: dict[int, Any]) -> None:
        """Articles the feed re-published changed: edit the earlier post (an edit is the same
        whatever the number of tries), or post again marked updated through the outbox (per feed;
        ignored by default). Each update is claimed once per channel."""
        bot = self.bot
        for channel_id, feed, article, message_id, mode, update_id in await bot.call(bot.desk.delivery.pending_updates):
            if channel_id not in channels:
                channels[channel_id] = await self._postable_channel(channel_id)
            channel = channels[channel_id]
            if channel is None or isinstance(channel, discord.ForumChannel):
                if await bot.call(bot.desk.archive.claim_update, channel_id, article.id, update_id):
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
            if mode != "edit":
                kwargs["content"] = render.message_text(
                    "🔄 Updated" + (f"\n{kwargs['content']}" if kwargs.get("content") else "")
                )
                payload = payload_of(kwargs)
                if await bot.call(bot.desk.outbox.queue_update, channel_id, article.id, update_id, payload):
                    await sender_of(bot).deliver(f"update:{channel_id}:{update_id}")
                continue
            if not await bot.call(bot.desk.archive.claim_update, channel_id, article.id, update_id):
                continue
            try:
                await channel.get_partial_message(message_id).edit(**kwargs)
            except discord.HTTPException as exc:
                error = f"{exc.status} {render.trim(exc.text, 100)}"
                await bot.call(bot.desk.delivery.record_update, channel_id, article.id, mode, None, error)
                continue
            await bot.call(bot.desk.delivery.record_update, channel_id, article.id, mode, message_id)

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
        bot = self.bot
        text = (
            f"⚠️ Can't auto-post to <#{channel_id}> (id {channel_id}): {reason}. "
            "Its posts are retried with backoff for a while, then given up "
            "(`/feeds why` tells for each article)."
        )
        admin_channel = bot.config.discord.admin_channel
        if not admin_channel:  # nowhere to post: claimed and logged once
            if await bot.call(bot.desk.archive.claim_channel_notice, channel_id, reason):
                await notify_admins(bot, text)
            return
        payload = {"content": render.message_text(text)}
        key = await bot.call(bot.desk.outbox.queue_channel_notice, channel_id, reason, admin_channel, payload)
        if key is not None:  # None: already reported (by another process, or before a restart)
            await sender_of(bot).deliver(key)


async def setup(bot) -> None:
    await bot.add_cog(AutoPost(bot))
