"""The feeds a desk archives: add (behind the URL guard), find within a scope, remove, discover the
feeds behind a page, and OPML in and out."""

from __future__ import annotations

import logging

from ..delivery.discovery import FoundFeed, discover
from ..errors import IndexBusy, IndexUnavailable, LimitReached, NewsdeskError, PermissionDenied
from ..models import GLOBAL, Feed, IngestReport, Scope
from ..parts import Parts
from .fetch import Fetcher
from .imports import feeds_limit_text, import_outlines
from .netguard import check_url
from .opml import OpmlOutline, parse_opml, render_opml

log = logging.getLogger(__name__)


class FeedsService:
    def __init__(self, parts: Parts):
        self.config = parts.config
        self.archive = parts.archive
        self.parts = parts

    def add(
        self,
        url: str,
        name: str = "",
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        added_by: int | None = None,
    ) -> tuple[Feed, bool]:
        url = (url or "").strip()
        check_url(url, self.config.feeds.allow_private_networks)
        per_server = self.config.feeds.max_feeds_per_server if guild_id is not None else 0
        added = self.archive.add_server_feed(url, name.strip(), guild_id, channel_id, added_by, per_server)
        if added is None:
            raise LimitReached(feeds_limit_text(per_server))
        return added

    def discover(self, url: str) -> list[FoundFeed]:
        """The feeds behind a URL: itself when it is a feed, a YouTube channel's, subreddit's or
        Mastodon profile's feed, the feeds a web page links to, or common feed paths. An empty list
        when the page names none; FetchError when the URL cannot be fetched; UrlRefused by the guard."""
        url = (url or "").strip()
        check_url(url, self.config.feeds.allow_private_networks)
        with Fetcher(self.config.feeds) as fetcher:
            return discover(url, fetcher)

    def find(self, url_or_id: str | int, scope: Scope = GLOBAL, manage: bool = False) -> Feed:
        feed = self.archive.get_feed(url_or_id, scope)  # another server's row: the same NotFound as none
        if scope.scoped:
            if manage and feed.guild_id != scope.guild_id:
                raise PermissionDenied("that feed is global; only a bot owner can change it")
        return feed

    def remove(self, url_or_id: str | int, scope: Scope = GLOBAL) -> tuple[Feed, int]:
        feed = self.find(url_or_id, scope, manage=True)
        removed = self.archive.remove_feed(feed.id)
        try:
            with self.parts.writer.holding("removing the feed's vectors"):
                self.parts.pipeline().apply_vector_deletes(IngestReport())
        except IndexBusy:
            log.info("vectors of removed feed %s stay queued: the process writing the index removes them", feed.url)
        except IndexUnavailable as exc:
            log.warning("vectors of removed feed %s stay queued for deletion: %s", feed.url, exc)
        return feed, removed

    def import_opml(self, content: bytes, scope: Scope = GLOBAL, added_by: int | None = None) -> dict:
        guild_id = scope.guild_id if scope.scoped else None
        return import_outlines(self.archive, parse_opml(content), self.config.feeds, guild_id, added_by)

    def read_opml(self, source: str) -> bytes:
        """The bytes of an OPML file (a path) or URL (fetched like a feed, within the same guards)."""
        if source.startswith(("http://", "https://")):
            with Fetcher(self.config.feeds) as fetcher:
                return fetcher.get(source, accept="text/x-opml, application/xml, */*").content
        try:
            with open(source, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise NewsdeskError(f"cannot read {source}: {exc.strerror}") from None

    def export_opml(self, scope: Scope = GLOBAL) -> str:
        return render_opml([OpmlOutline(f.url, f.display_name) for f in self.archive.list_feeds(scope)])
