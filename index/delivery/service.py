"""The posting loop's side of delivery: the queue (through filters and flood control), what a post
looks like, where it goes and whom it pings, and re-published articles (sending, retries and backoff are
the outbox's: index/delivery/outbox.py)."""

from __future__ import annotations

import logging
import time

from ..errors import FilterBroken
from ..models import Article, ChannelLimits, Feed
from ..parts import Parts
from . import filters as delivery_filters
from . import templates as post_templates
from .limits import start_of_day

log = logging.getLogger(__name__)


class DeliveryService:
    def __init__(self, parts: Parts):
        self.archive = parts.archive

    def pending(self, limit: int = 200) -> list[tuple[int, Feed | None, Article]]:
        """(channel_id, feed, article) to auto-post, oldest first."""
        return self._with_feed_and_article(self.archive.pending_posts(limit=limit))

    def _with_feed_and_article(self, rows: list[tuple[int, int, int]]) -> list[tuple[int, Feed | None, Article]]:
        """(channel_id, feed_id, article_id) rows as (channel_id, feed, article), articles still archived."""
        if not rows:
            return []
        articles = self.archive.articles_by_ids([article_id for _, _, article_id in rows])
        feeds = {f.id: f for f in self.archive.list_feeds()}
        return [
            (channel_id, feeds.get(feed_id), articles[article_id])
            for channel_id, feed_id, article_id in rows
            if article_id in articles
        ]

    def queue(self, limit: int = 1000) -> list[tuple[int, Feed | None, Article]]:
        """The pending posts that may go out now, oldest first. Articles a filter rejects or that
        are older than the channel's maximum age are claimed and logged (never posted); those a
        rate or daily limit holds back stay pending, logged as held (and counted)."""
        now = time.time()
        out = []
        rules: dict[tuple[int, int], list] = {}
        limits: dict[int, ChannelLimits] = {}
        taken: dict[int, int] = {}
        for channel_id, feed, article in self._backfill_posts() + self.pending(limit):
            feed_id = feed.id if feed is not None else 0
            key = (feed_id, channel_id)
            if key not in rules:
                rules[key] = self.archive.feed_filters(feed_id, channel_id) if feed is not None else []
            try:
                passes, why = delivery_filters.evaluate(rules[key], article)
            except FilterBroken as exc:  # that feed's posts wait for the admin; the others go on
                self.archive.log_delivery(channel_id, article.id, feed_id, "held", str(exc))
                continue
            if not passes:
                if self.archive.claim_post(channel_id, article.id, feed_id):
                    self.archive.log_delivery(channel_id, article.id, feed_id, "filtered", why)
                continue
            if channel_id not in limits:
                limits[channel_id] = self.archive.channel_limits(channel_id)
            lim = limits[channel_id]
            if lim.max_age_days and article.published_ts and article.published_ts < now - lim.max_age_days * 86400:
                if self.archive.claim_post(channel_id, article.id, feed_id):
                    self.archive.log_delivery(
                        channel_id,
                        article.id,
                        feed_id,
                        "skipped",
                        f"older than the channel's maximum age of {lim.max_age_days:g} days",
                    )
                continue
            held = self._held_by(lim, taken.get(channel_id, 0), now)
            if held:
                self.archive.log_delivery(channel_id, article.id, feed_id, "held", held)
                continue
            taken[channel_id] = taken.get(channel_id, 0) + 1
            out.append((channel_id, feed, article))
        return out

    def _backfill_posts(self) -> list[tuple[int, Feed | None, Article]]:
        return self._with_feed_and_article(self.archive.pending_backfill())

    def _held_by(self, lim: ChannelLimits, taken: int, now: float) -> str | None:
        if (
            lim.per_window
            and lim.window_seconds
            and self.archive.posted_since(lim.channel_id, now - lim.window_seconds) + taken >= lim.per_window
        ):
            return (
                f"held back by the rate limit ({lim.per_window} posts per {(lim.window_seconds or 0) // 60} min); "
                "it goes out when the limit allows"
            )
        if lim.daily_max and self.archive.posted_since(lim.channel_id, start_of_day(now)) + taken >= lim.daily_max:
            return f"held back by the daily maximum ({lim.daily_max} posts); it goes out tomorrow"
        return None

    def skip(self, channel_id: int, article_id: int, feed_id: int, reason: str) -> None:
        """Log a claimed post that will not be sent (e.g. over the per-pass cap, summarised)."""
        self.archive.log_delivery(channel_id, article_id, feed_id, "skipped", reason)

    def content(self, feed: Feed | None, article: Article, escape=lambda s: s) -> tuple[str, str] | None:
        """(style, text) of an auto-post from the feed's template, or None for the default teaser."""
        template = self.archive.get_template(feed.id) if feed is not None else None
        if template is None:
            return None
        return template.style, post_templates.render(template, article, feed, escape)

    def pings(self, feed: Feed | None, article: Article) -> list[int]:
        """The role ids an auto-post of this article mentions: the feed's pings whose filter matches."""
        if feed is None or feed.guild_id is None:
            return []
        roles = []
        for ping in self.archive.feed_pings(feed.id):
            if ping["role_id"] == feed.guild_id:
                continue
            if ping["pattern"]:
                rule = delivery_filters.FilterRule(
                    0, feed.id, None, "include", ping["field"], ping["pattern"], regex=ping["regex"]
                )
                try:
                    if not delivery_filters.rule_matches(rule, article):
                        continue
                except FilterBroken as exc:
                    log.warning("feed %s: %s", feed.id, exc)
                    continue
            roles.append(ping["role_id"])
        return roles

    def thread(self, feed: Feed | None, article: Article) -> dict:
        """Where a post goes beyond its message: ``thread`` (open one per post), the forum post's
        ``title`` (the feed's title template, or the article's title) and the names of the forum
        ``tags`` whose words the article matches."""
        options = self.archive.feed_options(feed.id) if feed is not None else self.archive.feed_options(0)
        title = article.title or "(untitled)"
        if options["forum_title"]:
            title = (
                post_templates.render(post_templates.PostTemplate(0, options["forum_title"], "text"), article, feed)
                or title
            )
        tags = []
        for name, words in options["forum_tags"]:
            rule = delivery_filters.FilterRule(0, 0, None, "include", "any", words)
            if delivery_filters.rule_matches(rule, article):
                tags.append(name)
        return {"thread": options["thread"], "title": " ".join(title.split())[:100], "tags": tags}

    def pending_updates(self) -> list[tuple[int, Feed | None, Article, int, str, int]]:
        """(channel_id, feed, article, message_id, mode, update_id) of posted articles the feed
        re-published changed, for feeds that edit or repost them."""
        rows = self.archive.pending_updates()
        if not rows:
            return []
        articles = self.archive.articles_by_ids([r[2] for r in rows])
        feeds = {f.id: f for f in self.archive.list_feeds()}
        return [
            (channel_id, feeds.get(feed_id), articles[article_id], message_id, mode, update_id)
            for channel_id, feed_id, article_id, message_id, mode, update_id in rows
            if article_id in articles
        ]

    def record_update(
        self, channel_id: int, article_id: int, mode: str, message_id: int | None, error: str | None = None
    ) -> None:
        """Log what an update did to the post (edited, reposted, or why not)."""
        if error:
            reason = f"posted; the update could not be applied ({error})"
        elif mode == "edit":
            reason = "posted; edited after the feed updated the article"
        else:
            reason = f"posted; reposted as updated (message {message_id})"
        self.archive.log_delivery(channel_id, article_id, None, "posted", reason)
