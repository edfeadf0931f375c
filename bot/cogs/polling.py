"""Background polling and auto-posting.

* Polling (only when the bot was started with polling; ``newsdesk run --no-poll`` leaves it
  to a ``newsdesk worker``): every ``config.feeds.poll_interval_minutes``
  ``desk.ingest(due_only=True)`` runs in a worker thread, never on the loop, followed at once
  by a posting pass.
* Auto-posting does not depend on who ingested: every bot runs a posting pass every
  ``POST_INTERVAL_SECONDS`` (also with polling off) over ``archive.pending_posts()`` — articles
  a feed with a channel picked up after its first successful fetch (that fetch is backlog),
  published after the feed's ``posting_since`` (minus a grace period) and first seen recently
  (no flood after a long downtime). Each post is claimed atomically first
  (``archive.claim_post``, an INSERT OR IGNORE in the shared archive), so an article reaches a
  channel at most once: across restarts, across feeds sharing a channel and across bot
  processes. A claim is never retried (a failed send is not repeated).
* At most ``MAX_POSTS_PER_CHANNEL`` posts per channel and pass; the rest is claimed too and
  summarised in one line.
* A feed that starts failing is reported once to ``config.discord.admin_channel``,
  and once more when it recovers. Every bot checks feed health on each posting pass (so
  notices also come when a ``newsdesk worker`` polls and no bot does); the last announced
  state lives in the archive and each change is claimed atomically
  (``archive.claim_feed_notice``), so it is announced once across processes and restarts.
* A channel the bot cannot post to is logged and reported once; its new articles are claimed
  and skipped; polling carries on.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import discord
from discord.ext import commands, tasks

from index.archive import Article, Feed
from index.errors import NewsdeskError
from index.ingest import IngestReport
from index.logsafety import redact

from .. import errors, render

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
POST_INTERVAL_SECONDS = 60          # how often every bot looks for articles to auto-post
MAX_POSTS_PER_CHANNEL = 10          # per posting pass; more new articles are summarised in one line
PENDING_BATCH = 200                 # rows read per query in a posting pass
MAX_BATCHES = 50                    # a pass stops after this many batches (the next pass goes on)


def load_pending(desk, limit: int = PENDING_BATCH) -> list[tuple[int, Feed | None, Article]]:
    """(channel_id, feed, article) to auto-post, oldest first (runs in a thread)."""
    rows = desk.archive.pending_posts(limit=limit)
    if not rows:
        return []
    articles = desk.archive.articles_by_ids([article_id for _, _, article_id in rows])
    feeds = {f.id: f for f in desk.archive.list_feeds()}
    return [(channel_id, feeds.get(feed_id), articles[article_id])
            for channel_id, feed_id, article_id in rows if article_id in articles]


class Polling(commands.Cog):
    def __init__(self, bot):
        self.bot = bot
        minutes = max(1 / 60, float(bot.config.feeds.poll_interval_minutes))
        self.loop = tasks.loop(minutes=minutes)(self._tick)
        self.loop.before_loop(self._before_loop)
        self.post_loop = tasks.loop(seconds=POST_INTERVAL_SECONDS)(self._post_tick)
        self.post_loop.before_loop(self._before_loop)
        self._post_lock = asyncio.Lock()
        self.problem_channels: set[int] = set()
        self.last_index_problem: str | None = None
        self.posted = 0
        self.runs = 0
        self.post_passes = 0

    async def cog_load(self) -> None:
        if self.bot.poll_enabled:
            self.loop.start()
        self.post_loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()
        self.post_loop.cancel()

    async def _before_loop(self) -> None:
        await self.bot.wait_until_ready()

    async def _tick(self) -> None:
        try:
            await self.poll_once()
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            errors.log_error(exc, "poll")

    async def _post_tick(self) -> None:
        try:
            await self.announce_health()
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            errors.log_error(exc, "feed health")
        try:
            await self.post_pending()
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            errors.log_error(exc, "auto-post")

    # -- one poll ------------------------------------------------------------------
    async def poll_once(self) -> IngestReport | None:
        bot = self.bot
        desk = bot.desk
        try:
            report = await bot.call(desk.ingest, due_only=True)
        except NewsdeskError as exc:
            text = errors.describe(exc)
            errors.log_error(exc, "poll")
            if text != self.last_index_problem:
                self.last_index_problem = text
                await self.notify_admins(f"⚠️ Polling failed: {render.safe(render.trim(redact(str(exc)), 500))}")
            return None
        self.runs += 1
        if self.last_index_problem is not None:
            self.last_index_problem = None
            await self.notify_admins("✅ Polling works again.")
        if report.index_error:
            log.warning("poll: index error: %s", report.index_error)
        await self.announce_health()
        try:
            await self.post_pending()
        except Exception as exc:  # noqa: BLE001 - the next pass retries
            errors.log_error(exc, "auto-post")
        return report

    async def announce_health(self) -> int:
        """Announce feeds whose health changed since it was last announced (by any process).
        Returns the notices sent."""
        archive = self.bot.desk.archive
        changed = await self.bot.call(archive.unannounced_feed_health)
        sent = 0
        for feed in changed:
            failing = feed.status == "error"
            if not await self.bot.call(archive.claim_feed_notice, feed.id, "error" if failing else "ok"):
                continue  # another bot (or an earlier pass) announced it
            name = render.safe(render.trim(feed.display_name, 100))
            where = "" if feed.guild_id is None else f" (server {feed.guild_id})"
            if failing:
                error = render.safe(render.trim(render.strip_credentials(redact(render.one_line(feed.last_error or "error"))), 400))
                await self.notify_admins(f"⚠️ Feed **{name}** (id {feed.id}){where} is failing: {error}")
            else:
                await self.notify_admins(f"✅ Feed **{name}** (id {feed.id}){where} is working again.")
            sent += 1
        return sent

    # -- one posting pass ------------------------------------------------------------
    async def post_pending(self) -> int:
        """Post what the archive has pending (whoever ingested it). Returns the posts sent."""
        async with self._post_lock:  # the poll's pass and the timer's pass never overlap
            self.post_passes += 1
            per_channel: dict[int, int] = defaultdict(int)
            skipped: dict[int, int] = defaultdict(int)
            channels: dict[int, object] = {}  # channel_id -> channel or None, looked up once per pass
            posted = 0
            for _ in range(MAX_BATCHES):
                batch = await self.bot.call(load_pending, self.bot.desk)
                for channel_id, feed, article in batch:
                    if channel_id not in channels:
                        channels[channel_id] = await self._postable_channel(channel_id)
                    posted += await self._post_one(channels[channel_id], channel_id, feed, article,
                                                   per_channel, skipped)
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

    async def _post_one(self, channel, channel_id: int, feed: Feed | None, article: Article,
                        per_channel: dict[int, int], skipped: dict[int, int]) -> int:
        bot = self.bot
        feed_id = feed.id if feed is not None else 0
        claim = bot.desk.archive.claim_post
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
        await bot.call(bot.desk.archive.record_post, channel_id, article.id, message.id)
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
        if guild is not None and guild.me is not None:
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
        await self.notify_admins(f"⚠️ Can't auto-post to <#{channel_id}> (id {channel_id}): {reason}. "
                                 "New articles for it are skipped until this is fixed.")

    async def notify_admins(self, text: str) -> None:
        channel_id = self.bot.config.discord.admin_channel
        if not channel_id:
            log.warning("admin notice (no admin_channel configured): %s", text)
            return
        channel = self.bot.get_channel(channel_id)
        try:
            if channel is None:
                channel = await self.bot.fetch_channel(channel_id)
            await channel.send(render.message_text(text), allowed_mentions=NONE)
        except (discord.HTTPException, AttributeError) as exc:
            log.warning("cannot post to the admin channel %s (%s): %s", channel_id, exc, text)


async def setup(bot) -> None:
    await bot.add_cog(Polling(bot))
