"""Per-feed settings an admin changes: filters, templates, pings, options, a channel's limits, why an
article was (not) posted, and backfill."""

from __future__ import annotations

from typing import Any

from ..archive.posts import POST_GRACE_SECONDS
from ..errors import BadQuery, NotFound
from ..feeds.service import FeedsService
from ..models import GLOBAL, Article, ChannelLimits, Feed, Scope
from ..parts import Parts
from ..search.service import ReadingService
from . import filters as delivery_filters
from . import templates as post_templates
from .limits import make_limits
from .why import delivery_rows_in_scope

MAX_BACKFILL = 50  # existing articles a new feed may post at most
UPDATE_MODES = ("ignore", "edit", "repost")  # what a re-published, changed article does to its post


def parse_forum_tags(text: str) -> list[tuple[str, str]]:
    """``Tag=words, words; Other=words`` as [(tag, words)], each words list validated."""
    out = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, sep, words = part.partition("=")
        if not sep or not name.strip() or not words.strip():
            raise BadQuery(f"forum tags are written Tag=words; Other=words (not {part.strip()!r})")
        delivery_filters.compile_pattern(words, False, False)
        out.append((name.strip()[:20], words.strip()))
    return out


class FeedSettingsService:
    def __init__(self, parts: Parts, feeds: FeedsService, reading: ReadingService):
        self.archive = parts.archive
        self.feeds = feeds
        self.reading = reading

    def backfill(self, feed: str | int, count: int, scope: Scope = GLOBAL) -> int:
        """Post (at most) the ``count`` newest articles a feed already has to its channel, through its
        filters and the channel's limits like new ones. Returns the articles queued."""
        found = self.feeds.find(feed, scope, manage=True)
        if count < 0 or count > MAX_BACKFILL:
            raise BadQuery(f"a backfill is between 0 and {MAX_BACKFILL} articles")
        if not count:
            return 0
        if found.channel_id is None:
            raise BadQuery("that feed does not post to a channel")
        ids = self.archive.feed_recent_articles(found.id, count)
        return self.archive.queue_backfill(found.id, found.channel_id, ids)

    def add_filter(
        self,
        feed: str | int,
        action: str,
        field: str,
        pattern: str,
        *,
        regex: bool = False,
        negate: bool = False,
        case_sensitive: bool = False,
        scope: Scope = GLOBAL,
        added_by: int | None = None,
    ):
        """Add an include/exclude rule to a feed (for its channel); BadQuery names a bad regex."""
        found = self.feeds.find(feed, scope, manage=True)
        action, field = (action or "").strip().lower(), (field or "any").strip().lower()
        delivery_filters.validate(action, field, pattern, regex, case_sensitive)
        if len(self.archive.feed_filters(found.id)) >= delivery_filters.MAX_RULES:
            raise BadQuery(f"a feed has at most {delivery_filters.MAX_RULES} filters")
        return self.archive.add_filter(
            found.id, found.channel_id, action, field, pattern.strip(), regex, negate, case_sensitive, added_by
        )

    def filters(self, feed: str | int, scope: Scope = GLOBAL) -> tuple[Feed, list]:
        found = self.feeds.find(feed, scope, manage=True)
        return found, self.archive.feed_filters(found.id, found.channel_id)

    def remove_filter(self, feed: str | int, filter_id: int | str, scope: Scope = GLOBAL) -> Feed:
        """Remove one rule by id, or every rule of the feed with ``all``."""
        found = self.feeds.find(feed, scope, manage=True)
        key = str(filter_id).strip().lstrip("#").lower()
        if key == "all":
            self.archive.clear_filters(found.id)
        elif not key.isdigit() or not self.archive.remove_filter(found.id, int(key)):
            raise NotFound(f"no filter {filter_id!r} on feed {found.display_name!r}")
        return found

    def test_filters(self, feed: str | int, scope: Scope = GLOBAL, limit: int = 20) -> tuple[Feed, list]:
        """Which of the feed's last ``limit`` articles its filters pass: [(article, passes, why)]."""
        found, rules = self.filters(feed, scope)
        ids = self.archive.feed_recent_articles(found.id, limit)
        articles = self.archive.articles_by_ids(ids)
        out = []
        for article_id in ids:
            if article_id in articles:
                out.append((articles[article_id], *delivery_filters.evaluate(rules, articles[article_id])))
        return found, out

    def set_template(
        self,
        feed: str | int,
        body: str,
        *,
        style: str = "embed",
        timezone_name: str = "UTC",
        scope: Scope = GLOBAL,
        updated_by: int | None = None,
    ) -> tuple[Feed, post_templates.PostTemplate]:
        """Set how a feed's posts look; BadQuery for an unknown placeholder, bad format or time zone."""
        found = self.feeds.find(feed, scope, manage=True)
        style, timezone_name = (style or "embed").strip().lower(), (timezone_name or "UTC").strip()
        post_templates.validate(body, style, timezone_name)
        template = post_templates.PostTemplate(found.id, body, style, timezone_name)
        self.archive.set_template(template, updated_by)
        return found, template

    def template(self, feed: str | int, scope: Scope = GLOBAL):
        """(feed, its template or None: the default teaser)."""
        found = self.feeds.find(feed, scope, manage=True)
        return found, self.archive.get_template(found.id)

    def clear_template(self, feed: str | int, scope: Scope = GLOBAL) -> Feed:
        found = self.feeds.find(feed, scope, manage=True)
        self.archive.clear_template(found.id)
        return found

    def preview_template(
        self,
        feed: str | int,
        body: str | None = None,
        *,
        style: str | None = None,
        timezone_name: str | None = None,
        scope: Scope = GLOBAL,
        escape=lambda s: s,
    ):
        """(feed, template, its newest article, the rendered text) — a template given here is
        validated and previewed without being saved; NotFound when the feed has no article yet."""
        found, saved = self.template(feed, scope)
        if body is None and saved is None:
            raise BadQuery("that feed has no template yet (the default teaser is used); give one to preview")
        template = post_templates.PostTemplate(
            found.id,
            body if body is not None else saved.body,
            style or (saved.style if saved else "embed"),
            timezone_name or (saved.timezone if saved else "UTC"),
        )
        post_templates.validate(template.body, template.style, template.timezone)
        ids = self.archive.feed_recent_articles(found.id, 1)
        if not ids:
            raise NotFound("that feed has no articles to preview with yet")
        article = self.archive.articles_by_ids(ids)[ids[0]]
        return found, template, article, post_templates.render(template, article, found, escape)

    def add_ping(
        self,
        feed: str | int,
        role_id: int,
        *,
        pattern: str | None = None,
        field: str = "any",
        regex: bool = False,
        subscribable: bool = False,
        scope: Scope = GLOBAL,
        added_by: int | None = None,
    ) -> Feed:
        """Mention a role when the feed posts (only articles matching ``pattern``, when given). Only a
        server's own feeds may ping its roles; @everyone (the server's id) is refused."""
        found = self.feeds.find(feed, scope, manage=True)
        if found.guild_id is None:
            raise BadQuery("only a server's own feeds can ping its roles")
        if role_id == found.guild_id:
            raise BadQuery("@everyone is never pinged")
        field = (field or "any").strip().lower()
        if pattern is not None and pattern.strip():
            delivery_filters.validate("include", field, pattern, regex, False)
            pattern = pattern.strip()
        else:
            pattern = None
        self.archive.set_ping(found.id, found.guild_id, role_id, field, pattern, regex, subscribable, added_by)
        return found

    def remove_ping(self, feed: str | int, role_id: int, scope: Scope = GLOBAL) -> Feed:
        found = self.feeds.find(feed, scope, manage=True)
        if not self.archive.remove_ping(found.id, role_id):
            raise NotFound("that feed does not ping that role")
        return found

    def pings(self, feed: str | int, scope: Scope = GLOBAL) -> tuple[Feed, list[dict]]:
        found = self.feeds.find(feed, scope, manage=True)
        return found, self.archive.feed_pings(found.id)

    def set_options(
        self,
        feed: str | int,
        *,
        thread: bool | None = None,
        updates: str | None = None,
        forum_title: str | None = None,
        forum_tags: str | None = None,
        scope: Scope = GLOBAL,
    ) -> tuple[Feed, dict]:
        """A thread per post; a forum post's title template and tags (``Tag=words; Other=words``:
        a tag is applied when the article matches its words); what to do with a re-published,
        changed article (``ignore``, ``edit`` the earlier post, ``repost`` it marked updated)."""
        found = self.feeds.find(feed, scope, manage=True)
        options = self.archive.feed_options(found.id)
        if thread is not None:
            options["thread"] = bool(thread)
        if updates is not None:
            updates = updates.strip().lower()
            if updates not in UPDATE_MODES:
                raise BadQuery(f"unknown update mode {updates!r} (use {', '.join(UPDATE_MODES)})")
            options["updates"] = updates
        if forum_title is not None:
            if forum_title.strip():
                post_templates.validate(forum_title, "text", "UTC")
            options["forum_title"] = forum_title.strip() or None
        if forum_tags is not None:
            options["forum_tags"] = parse_forum_tags(forum_tags)
        self.archive.set_feed_options(
            found.id, options["thread"], options["updates"], options["forum_title"], options["forum_tags"]
        )
        return found, options

    def options(self, feed: str | int, scope: Scope = GLOBAL) -> tuple[Feed, dict]:
        found = self.feeds.find(feed, scope, manage=True)
        return found, self.archive.feed_options(found.id)

    def set_limits(
        self,
        channel_id: int,
        *,
        per_window: int | None = None,
        window_minutes: float | None = None,
        daily_max: int | None = None,
        max_age_days: float | None = None,
        summarise_over: int | None = None,
        scope: Scope = GLOBAL,
    ) -> ChannelLimits:
        """Flood control for a channel (0 or None turns a limit off)."""
        limits = make_limits(channel_id, per_window, window_minutes, daily_max, max_age_days, summarise_over)
        self.archive.set_channel_limits(limits, scope.guild_id if scope.scoped else None)
        return limits

    def limits(self, channel_id: int) -> tuple[ChannelLimits, int]:
        """A channel's limits and how many articles they hold back now."""
        return self.archive.channel_limits(channel_id), self.archive.held_counts([channel_id]).get(channel_id, 0)

    def why(self, url_or_id: str | int, scope: Scope = GLOBAL) -> tuple[Article, list[dict]]:
        """For one article: per channel it could go to, whether it was posted (message id) or what
        held it back (filter, limit, backlog, error), from the delivery log."""
        article = self.reading.article(url_or_id, scope)
        feeds = {f.id: f for f in self.archive.list_feeds(scope)}
        rows = delivery_rows_in_scope(self.archive.article_deliveries(article.id), feeds, scope)
        out = []
        for feed_id in self.archive.article_feed_ids(article.id):
            feed = feeds.get(feed_id)
            if feed is None:
                continue
            entry: dict[str, Any] = {"feed": feed, "channel_id": feed.channel_id}
            row = rows.pop(feed.channel_id, None) if feed.channel_id else None
            if feed.channel_id is None:
                entry.update(state="none", reason="the feed does not post to a channel")
            elif row is not None:
                state = row["state"] or ("posted" if row["message_id"] else "claimed")
                entry.update(
                    state=state,
                    reason=row["reason"] or state,
                    message_id=row["message_id"],
                    attempts=row["attempts"] or 0,
                    next_try_at=row["next_try_at"],
                )
            elif self.archive.is_backlog(feed_id, article.id):
                entry.update(
                    state="backlog",
                    reason="it was already in the feed when the feed was added (backlog is not auto-posted)",
                )
            elif self.archive.published_before_feed(feed_id, article.id, POST_GRACE_SECONDS):
                entry.update(
                    state="backlog",
                    reason="it was published before the feed was added (older articles are not auto-posted)",
                )
            else:
                entry.update(state="waiting", reason="not looked at yet: it goes out with the next posting pass")
            out.append(entry)
        for channel_id, row in rows.items():  # posted by a feed since removed, or another feed's channel
            out.append(
                {
                    "feed": feeds.get(row["feed_id"]),
                    "channel_id": channel_id,
                    "state": row["state"] or "posted",
                    "reason": row["reason"] or "posted",
                    "message_id": row["message_id"],
                }
            )
        return article, out
