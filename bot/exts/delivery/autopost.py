"""Auto-posting: each new article of a feed with a channel is posted there once.

Auto-posting does not depend on who ingested: every bot runs a posting pass every
``POST_INTERVAL_SECONDS`` (also with polling off) over the service's pending posts — articles
a feed with a channel picked up after its first successful fetch (that fetch is backlog),
published after the feed's ``posting_since`` (minus a grace period) and first seen recently
(no flood after a long downtime). Each post is claimed atomically first (an INSERT OR IGNORE
in the shared archive), so an article reaches a channel at most once: across restarts, across
feeds sharing a channel and across bot processes. A claim is never retried (a failed send is
not repeated). At most ``MAX_POSTS_PER_CHANNEL`` posts per channel and pass; the rest is
claimed too and summarised in one line. A channel the bot cannot post to is logged and
reported once; its new articles are claimed and skipped."""

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

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
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
        self.posted = 0
        self.post_passes = 0

    async def tick(self) -> None:
        await self.post_pending()

    # -- one posting pass ------------------------------------------------------------
    async def post_pending(self) -> int:
        """Post what the archive has pending (whoever ingested it). Returns the posts sent."""
        async with self._post_lock:  # the poll's pass and the timer's pass never overlap
            self.post_passes += 1
            per_channel: dict[int, int] = defaultdict(int)
            skipped: dict[int, int] = defaultdict(int)
            channels: dict[int, Any] = {}  # channel_id -> channel or None, looked up once per pass
            posted = 0
            for _ in range(MAX_BATCHES):
                batch = await self.bot.call(self.bot.desk.pending_posts, PENDING_BATCH)
                for channel_id, feed, article in batch:
                    if channel_id not in channels:
                        channels[channel_id] = await self._postable_channel(channel_id)
                    posted += await self._post_one(
                        channels[channel_id], channel_id, feed, article, per_channel, skipped
                    )
                if len(batch) < PENDING_BATCH:
                    break
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
        claim = bot.desk.claim_post
        if per_channel[channel_id] >= MAX_POSTS_PER_CHANNEL:
            if await bot.call(claim, channel_id, article.id, feed_id):  # summarised, never posted later
                skipped[channel_id] += 1
            return 0
        if channel is None:
            await bot.call(claim, channel_id, article.id, feed_id)  # skipped for good, not retried each pass
            return 0
        if not await bot.call(claim, channel_id, article.id, feed_id):
            return 0  # already posted there (another feed, another pass, another process, before a restart)
        try:
            message = await channel.send(embed=render.teaser_embed(article, feed), allowed_mentions=NONE)
        except discord.HTTPException as exc:
            await self._channel_problem(channel_id, f"posting failed ({exc.status} {render.trim(exc.text, 100)})")
            return 0
        self.problem_channels.discard(channel_id)
        per_channel[channel_id] += 1
        await bot.call(bot.desk.record_post, channel_id, article.id, message.id)
        return 1

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
        if not isinstance(channel, discord.abc.Messageable):
            await self._channel_problem(channel_id, "it is not a text channel")
            return None
        guild = getattr(channel, "guild", None)
        if guild is not None and guild.me is not None and isinstance(channel, discord.abc.GuildChannel):
            perms = channel.permissions_for(guild.me)
            if not (perms.view_channel and perms.send_messages and perms.embed_links):
                await self._channel_problem(channel_id, "I'm missing View Channel, Send Messages or Embed Links there")
                return None
        return channel

    async def _channel_problem(self, channel_id: int, reason: str) -> None:
        log.warning("auto-post to channel %s: %s", channel_id, reason)
        if channel_id in self.problem_channels:
            return
        self.problem_channels.add(channel_id)
        await notify_admins(
            self.bot,
            f"⚠️ Can't auto-post to <#{channel_id}> (id {channel_id}): {reason}. "
            "New articles for it are skipped until this is fixed.",
        )


async def setup(bot) -> None:
    await bot.add_cog(AutoPost(bot))
