"""Background polling: ingest due feeds, auto-post new articles, tell admins about failing feeds.

* Every ``config.feeds.poll_interval_minutes`` (only when the bot was started with
  polling) ``desk.ingest(due_only=True)`` runs in a worker thread, never on the loop.
* Auto-posting: only articles that are new in *this* run are candidates, only for
  feeds that had a successful fetch before this run (a feed's first fetch is its
  backlog) and only when published after the feed's ``posting_since`` (minus a
  grace period). Each post is claimed atomically first
  (``archive.claim_post``), so an article reaches a channel at most once, also
  across restarts and across feeds sharing a channel.
* A feed that starts failing is reported once to ``config.discord.admin_channel``,
  and once more when it recovers (state kept in memory, seeded at start-up so a
  restart does not repeat old news). A channel the bot cannot post to is logged and
  reported once; polling carries on.
"""
from __future__ import annotations

import logging
from collections import defaultdict

import discord
from discord.ext import commands, tasks

from index.archive import Feed
from index.errors import NewsdeskError
from index.ingest import IngestReport
from index.logsafety import redact

from .. import errors, render

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
POST_GRACE_SECONDS = 6 * 3600       # an article published shortly before its feed was added still counts as new
MAX_POSTS_PER_CHANNEL = 10          # per poll; more new articles are summarised in one line


def plan_posts(desk, new_ids: list[int], before: dict[int, Feed]) -> list[tuple[int, int, object]]:
    """(channel_id, feed_id, article) to post, oldest first (runs in a thread)."""
    if not new_ids:
        return []
    db = desk.archive.db
    rows = []
    for start in range(0, len(new_ids), 500):
        chunk = new_ids[start:start + 500]
        rows += db.execute(
            "SELECT af.article_id, af.feed_id, f.channel_id, f.posting_since FROM article_feeds af "
            "JOIN feeds f ON f.id = af.feed_id WHERE f.channel_id IS NOT NULL AND af.article_id IN (%s)"
            % ",".join("?" * len(chunk)), chunk).fetchall()
    articles = desk.archive.articles_by_ids([r[0] for r in rows])
    plan = []
    for article_id, feed_id, channel_id, posting_since in rows:
        article = articles.get(article_id)
        previous = before.get(feed_id)
        if article is None or previous is None or previous.last_ok_at is None:
            continue  # unknown before this run, or its first successful fetch: backlog, not news
        if posting_since and article.published_ts and article.published_ts < posting_since - POST_GRACE_SECONDS:
            continue
        plan.append((int(channel_id), int(feed_id), article))
    plan.sort(key=lambda p: (p[2].published_ts or 0, p[2].id))
    return plan


class Polling(commands.Cog):
    def __init__(self, bot):
        self.bot = bot
        minutes = max(1 / 60, float(bot.config.feeds.poll_interval_minutes))
        self.loop = tasks.loop(minutes=minutes)(self._tick)
        self.loop.before_loop(self._before_loop)
        self.failing: dict[int, bool] = {}
        self.problem_channels: set[int] = set()
        self.last_index_problem: str | None = None
        self.posted = 0
        self.runs = 0

    async def cog_load(self) -> None:
        try:
            feeds = await self.bot.call(self.bot.desk.list_feeds)
            self.failing = {f.id: f.status == "error" for f in feeds}
        except NewsdeskError as exc:
            log.warning("could not read feed states at start-up: %s", exc)
        if self.bot.poll_enabled:
            self.loop.start()

    async def cog_unload(self) -> None:
        self.loop.cancel()

    async def _before_loop(self) -> None:
        await self.bot.wait_until_ready()

    async def _tick(self) -> None:
        try:
            await self.poll_once()
        except Exception as exc:  # noqa: BLE001 - the loop must survive anything
            errors.log_error(exc, "poll")

    # -- one poll ------------------------------------------------------------------
    async def poll_once(self) -> IngestReport | None:
        bot = self.bot
        desk = bot.desk
        before = {f.id: f for f in await bot.call(desk.list_feeds)}
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
        after = await bot.call(desk.list_feeds)
        await self.announce_health(after)
        if report.new_article_ids:
            await self.auto_post(report.new_article_ids, before)
        return report

    async def announce_health(self, feeds: list[Feed]) -> None:
        seen = set()
        for feed in feeds:
            seen.add(feed.id)
            failing = feed.status == "error"
            was = self.failing.get(feed.id)
            self.failing[feed.id] = failing
            name = render.safe(render.trim(feed.display_name, 100))
            where = "" if feed.guild_id is None else f" (server {feed.guild_id})"
            if failing and not was:
                error = render.safe(render.trim(render.strip_credentials(redact(render.one_line(feed.last_error or "error"))), 400))
                await self.notify_admins(f"⚠️ Feed **{name}** (id {feed.id}){where} is failing: {error}")
            elif was and not failing:
                await self.notify_admins(f"✅ Feed **{name}** (id {feed.id}){where} is working again.")
        for feed_id in list(self.failing):
            if feed_id not in seen:
                del self.failing[feed_id]

    async def auto_post(self, new_ids: list[int], before: dict[int, Feed]) -> int:
        bot = self.bot
        plan = await bot.call(plan_posts, bot.desk, list(new_ids), before)
        per_channel: dict[int, int] = defaultdict(int)
        skipped: dict[int, int] = defaultdict(int)
        posted = 0
        for channel_id, feed_id, article in plan:
            if per_channel[channel_id] >= MAX_POSTS_PER_CHANNEL:
                skipped[channel_id] += 1
                continue
            channel = await self._postable_channel(channel_id)
            if channel is None:
                continue
            if not await bot.call(bot.desk.archive.claim_post, channel_id, article.id, feed_id):
                continue  # already posted there (another feed, another poll, before a restart)
            try:
                message = await channel.send(embed=render.teaser_embed(article, before.get(feed_id)),
                                             allowed_mentions=NONE)
            except discord.HTTPException as exc:
                await self._channel_problem(channel_id, f"posting failed ({exc.status} {render.trim(exc.text, 100)})")
                continue
            self.problem_channels.discard(channel_id)
            per_channel[channel_id] += 1
            posted += 1
            await bot.call(bot.desk.archive.record_post, channel_id, article.id, message.id)
        for channel_id, count in skipped.items():
            channel = await self._postable_channel(channel_id)
            if channel is not None:
                try:
                    await channel.send(f"…and {count} more new articles (see `/latest`).", allowed_mentions=NONE)
                except discord.HTTPException:
                    pass
        self.posted += posted
        return posted

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
