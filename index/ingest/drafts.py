"""Worker side of the ingest: fetch a feed, parse it and turn each entry into a Draft
(page fetch and extraction included). Runs in worker threads; reads the archive only."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from ..archive import Archive
from ..config import Config
from ..errors import FeedError, FetchError, NewsdeskError, UrlRefused
from ..feeds.extract import extract_article
from ..feeds.fetch import PAGE_ACCEPT, Fetcher
from ..feeds.parse import Entry, parse_feed
from ..models import Feed
from ..text.clean import (
    canonical_url,
    content_hash,
    html_to_text,
    looks_truncated,
    normalise_text,
    word_count,
)
from .hosts import PAGE_LATER, HostBackoff, unreachable

log = logging.getLogger(__name__)

TEASER_WORDS = 25
EMPTY_FEED = "the feed is valid but lists no entries (check that this is the right feed URL)"


class _Deferred(Exception):
    """This entry waits for the next poll: the feed's entries or page fetches for this one are spent."""


class PollShare:
    """One feed's share of a poll: a deadline, and how many new or changed entries it may
    archive and linked pages it may fetch. A hostile 10 MB feed would otherwise mean ~100,000
    page requests per poll (sent from the bot's address) and hold the ingest for hours."""

    def __init__(self, seconds: float, entries: int, pages: int, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = clock()
        self.deadline = self.started + seconds
        self.entries_left, self.pages_left = entries, pages
        self.deferred = 0

    def over_time(self) -> bool:
        return self.clock() > self.deadline

    def take_entry(self) -> None:
        if self.entries_left <= 0:
            raise _Deferred
        self.entries_left -= 1

    def take_page(self) -> None:
        """A page fetch for the entry just taken; when none is left, the entry is given back too."""
        if self.pages_left <= 0:
            self.entries_left += 1
            raise _Deferred
        self.pages_left -= 1


@dataclass
class Draft:
    """An entry made ready for the archive by a worker thread."""

    feed: Feed
    guid: str
    url: str
    title: str
    outlet: str
    authors: tuple[str, ...]
    published: datetime
    date_source: str
    language: str | None
    summary: str
    text: str
    text_source: str
    entry_hash: str
    unchanged_id: int | None = None
    categories: tuple[str, ...] = ()


@dataclass
class FeedResult:
    feed: Feed
    drafts: list[Draft]  # empty when the drafts were handed over one by one (``emit``)
    status: str  # ok | not_modified | error
    error: str | None = None
    warning: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    articles: int = 0  # drafts made, handed over or in ``drafts``
    deferred: int = 0  # entries past this poll's share, left for the next poll


def _entry_hash(entry: Entry) -> str:
    raw = json.dumps(
        [
            entry.guid,
            entry.link,
            entry.title,
            entry.summary_html,
            entry.content_html,
            entry.published.isoformat() if entry.published else None,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]


def _one_line(text: str) -> str:
    """A title as people should read it: mojibake repaired, whitespace folded."""
    return " ".join(normalise_text(text or "").split())


def _outlet(parsed_title: str, feed: Feed, site_name: str | None) -> str:
    for candidate in (parsed_title, site_name, feed.name):
        if candidate and candidate.strip():
            return _one_line(candidate)[:200]
    return urlsplit(feed.url).hostname or feed.url


class DraftMaker:
    """Feeds to drafts, in worker threads."""

    def __init__(self, config: Config, archive: Archive):
        self.config = config
        self.archive = archive
        self.hosts = HostBackoff()  # page fetches to hosts that keep failing stop for this pass

    def process_feed(
        self, fetcher: Fetcher, feed: Feed, full: bool, emit: Callable[[Draft], None] | None = None
    ) -> FeedResult:
        """A feed's drafts, collected in the result or, with ``emit``, handed over as each is made
        (so the writer archives them while the rest of the feed is still being read)."""
        try:
            response = fetcher.get(
                feed.url, etag=None if full else feed.etag, last_modified=None if full else feed.last_modified
            )
            if response.not_modified:
                return FeedResult(
                    feed,
                    [],
                    "not_modified",
                    etag=response.etag or feed.etag,
                    last_modified=response.last_modified or feed.last_modified,
                )
            parsed = parse_feed(response.content, response.url, response.content_type)
            warning = parsed.warning
            if not parsed.entries:  # valid, but nothing to archive: say so rather than "ok, 0 articles"
                warning = EMPTY_FEED + (f"; {warning}" if warning else "")
            if response.truncated:
                warning = f"feed cut off at {self.config.feeds.max_body_bytes} bytes" + (
                    f"; {warning}" if warning else ""
                )
            drafts: list[Draft] = []
            made = pages_later = 0
            seen: set[str] = set()
            share = self.share()
            for n, entry in enumerate(parsed.entries):
                if share.over_time():
                    return self._out_of_time(feed, share, n, len(parsed.entries), made)
                # the same item listed twice in one document: keep the first, or every poll would
                # rewrite (and re-embed) the article once per copy
                keys = {k for k in (entry.guid, canonical_url(entry.link)) if k}
                if keys & seen:
                    continue
                seen |= keys
                try:
                    draft = self.draft(fetcher, feed, parsed.title, entry, share)
                except _Deferred:
                    share.deferred += 1
                    continue
                except NewsdeskError as exc:
                    log.warning("entry %s of %s skipped: %s", entry.guid, feed.url, exc)
                    continue
                if draft is not None:
                    made += 1
                    pages_later += draft.entry_hash.endswith(PAGE_LATER)
                    if emit is None:
                        drafts.append(draft)
                    else:
                        emit(draft)
            if not made and parsed.entries and not share.deferred:
                raise FeedError("no usable entries (every entry lacked a title, link and text)")
            if share.deferred:
                # the feed is read again in full next time (no ETag kept), its archived entries recognised
                later = f"{share.deferred} more entries wait for the next poll (this poll's share is spent)"
                warning = later + (f"; {warning}" if warning else "")
                title = parsed.title or None
                return FeedResult(
                    feed, drafts, "ok", warning=warning, title=title, articles=made, deferred=share.deferred
                )
            return FeedResult(
                feed,
                drafts,
                "ok",
                warning=warning,
                # pages still to fetch: no validators, so the next pass reads the feed (not a 304)
                etag=None if pages_later else response.etag,
                last_modified=None if pages_later else response.last_modified,
                title=parsed.title or None,
                articles=made,
            )
        except (FetchError, FeedError, UrlRefused) as exc:
            return FeedResult(feed, [], "error", error=str(exc))
        except Exception as exc:  # one bad feed never stops the others
            log.exception("unexpected failure on feed %s", feed.url)
            return FeedResult(feed, [], "error", error=f"internal error: {exc.__class__.__name__}: {exc}")

    def share(self) -> PollShare:
        feeds = self.config.feeds
        return PollShare(feeds.feed_budget_seconds, feeds.max_entries_per_poll, feeds.max_page_fetches_per_poll)

    def _out_of_time(self, feed: Feed, share: PollShare, read: int, total: int, made: int) -> FeedResult:
        """The feed ran past its time: an error against it (its health shows it; the other feeds
        went on in their own workers). What it archived stays; the rest is read on the next poll."""
        seconds = share.clock() - share.started
        error = (
            f"reading the feed took longer than its budget of {self.config.feeds.feed_budget_seconds:g} s "
            f"({seconds:.0f} s; {read} of {total} entries read, {made} archived); the rest is read on the next poll"
        )
        return FeedResult(feed, [], "error", error=error, articles=made)

    def draft(
        self, fetcher: Fetcher, feed: Feed, parsed_title: str, entry: Entry, share: PollShare | None = None
    ) -> Draft | None:
        """The entry as a Draft (None when it has nothing to keep); _Deferred when ``share`` has
        no entry or page fetch left for it."""
        link = canonical_url(entry.link) if entry.link.startswith(("http://", "https://")) else ""
        ehash = _entry_hash(entry)
        guid = entry.guid or link
        content_text = html_to_text(entry.content_html)
        summary_text = html_to_text(entry.summary_html)
        if not guid:
            if not (entry.title or content_text or summary_text):
                return None
            guid = "hash:" + content_hash(entry.title + "\n" + (content_text or summary_text))
        unchanged = self.archive.entry_unchanged(guid, ehash)
        now = datetime.now(UTC)
        title = _one_line(entry.title)
        base: dict[str, Any] = dict(
            feed=feed,
            guid=guid,
            url=link,
            title=title,
            authors=entry.authors,
            categories=entry.categories,
            language=entry.language,
            summary=summary_text[:2000],
            entry_hash=ehash,
        )
        if unchanged is not None:
            return Draft(
                **base, outlet="", published=now, date_source="", text="", text_source="", unchanged_id=unchanged
            )
        if share is not None:
            share.take_entry()
        mode = self.config.feeds.fetch_full_text
        text, source, extracted = "", "", None
        if content_text and (word_count(content_text) >= TEASER_WORDS * 2 or not looks_truncated(content_text)):
            text, source = content_text, "feed-content"
        else:
            text = max(content_text, summary_text, key=len)
            source = "feed-summary" if text else ""
            teaser = not text or looks_truncated(text) or word_count(text) < TEASER_WORDS
            if link and mode != "never" and (teaser or mode == "always"):
                extracted, page_later = self._page(fetcher, link, share)
                if page_later:  # the host did not answer: the next pass tries the page again
                    base["entry_hash"] = ehash + PAGE_LATER
                if extracted and len(extracted.text) > len(text):
                    text, source = extracted.text, "page"
                elif source:
                    source += (" (page later)" if page_later else " (page failed)") if extracted is None else ""
        if not text and not title:
            return None
        published, date_source = entry.published, "feed"
        if published is None and extracted and extracted.published:
            published, date_source = extracted.published, "page"
        if published is None:
            published, date_source = now, "fetched"
        elif published > now + timedelta(days=1):
            published, date_source = now, "fetched (feed date in the future)"
        return Draft(
            **base,
            outlet=_outlet(parsed_title, feed, extracted.site_name if extracted else None),
            published=published,
            date_source=date_source,
            text=text or title,
            text_source=source or "title",
        )

    def _page(self, fetcher: Fetcher, link: str, share: PollShare | None):
        """The article extracted from its page, or None; and whether the page is to be tried
        again next pass (its host did not answer, now or earlier in this pass). A page fetch
        takes from the feed's share of the poll (``_Deferred`` when it is spent)."""
        parts = urlsplit(link)
        host = f"{parts.hostname or ''}:{parts.port or ''}"  # a port is a server of its own
        if not self.hosts.open(host):
            return None, True
        if share is not None:
            share.take_page()
        try:
            page = fetcher.get(link, accept=PAGE_ACCEPT)
        except (FetchError, UrlRefused) as exc:
            log.info("page fetch failed for %s: %s", link, exc)
            if unreachable(exc):
                self.hosts.failed(host, str(exc))
                return None, True
            self.hosts.answered(host)
            return None, False
        self.hosts.answered(host)
        return extract_article(page.content.decode(_charset(page.content_type), "replace"), link), False


def _charset(content_type: str) -> str:
    for part in content_type.split(";"):
        part = part.strip().lower()
        if part.startswith("charset="):
            name = part.split("=", 1)[1].strip("\"' ")
            try:
                "".encode(name)
                return name
            except LookupError:
                break
    return "utf-8"
