"""The ingest pipeline: fetch feeds, build articles, archive them, embed their passages.

Fetching, parsing and page extraction run in worker threads; the calling thread is
the archive's single writer and runs the embedding model, so I/O overlaps embedding.
Consistency with the vector index rests on two markers kept in the archive:
``passages.embedded`` (0 until the vector is in Chroma) and ``vector_deletes``
(vectors still to remove). Both are written in the same transaction as the passages,
so a run killed at any point leaves work the next run finishes.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import logging
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ..archive import Archive
from ..archive.sql import now_iso
from ..config import Config
from ..errors import FeedError, FetchError, NewsdeskError, UrlRefused
from ..feeds.extract import extract_article
from ..feeds.fetch import PAGE_ACCEPT, Fetcher
from ..feeds.parse import Entry, parse_feed
from ..models import Feed, IngestReport, PassageRow
from ..text.chunking import chunk_text
from ..text.clean import (
    canonical_url,
    content_hash,
    html_to_text,
    looks_truncated,
    normalise_text,
    word_count,
)
from ..vectors.chroma import VectorStore
from ..vectors.embedders import Embedder

log = logging.getLogger(__name__)

Progress = Callable[..., None]
TEASER_WORDS = 25
EMBED_BATCH = 512


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


@dataclass
class FeedResult:
    feed: Feed
    drafts: list[Draft]
    status: str  # ok | not_modified | error
    error: str | None = None
    warning: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None


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


class Pipeline:
    def __init__(
        self,
        config: Config,
        archive: Archive,
        store_loader: Callable[[], VectorStore] | None,
        embedder_loader: Callable[[], Embedder] | None,
        progress: Progress | None = None,
    ):
        """The loaders are called only when there is something to chunk or embed, so a run over
        an unchanged archive never loads the model or opens the index."""
        self.config = config
        self.archive = archive
        self._store_loader = store_loader
        self._embedder_loader = embedder_loader
        self.indexing = store_loader is not None and embedder_loader is not None
        self.progress = progress or (lambda *a, **k: None)

    @property
    def store(self) -> VectorStore:
        return self._store_loader()

    @property
    def embedder(self) -> Embedder:
        return self._embedder_loader()

    # -- worker side ----------------------------------------------------------
    def _process_feed(self, fetcher: Fetcher, feed: Feed, full: bool) -> FeedResult:
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
            if response.truncated:
                warning = f"feed cut off at {self.config.feeds.max_body_bytes} bytes" + (
                    f"; {warning}" if warning else ""
                )
            drafts = []
            seen: set[str] = set()
            for entry in parsed.entries:
                # the same item listed twice in one document: keep the first, or every poll would
                # rewrite (and re-embed) the article once per copy
                keys = {k for k in (entry.guid, canonical_url(entry.link)) if k}
                if keys & seen:
                    continue
                seen |= keys
                try:
                    draft = self._draft(fetcher, feed, parsed.title, entry)
                except NewsdeskError as exc:
                    log.warning("entry %s of %s skipped: %s", entry.guid, feed.url, exc)
                    continue
                if draft is not None:
                    drafts.append(draft)
            if not drafts and parsed.entries:
                raise FeedError("no usable entries (every entry lacked a title, link and text)")
            return FeedResult(
                feed,
                drafts,
                "ok",
                warning=warning,
                etag=response.etag,
                last_modified=response.last_modified,
                title=parsed.title or None,
            )
        except (FetchError, FeedError, UrlRefused) as exc:
            return FeedResult(feed, [], "error", error=str(exc))
        except Exception as exc:  # one bad feed never stops the others
            log.exception("unexpected failure on feed %s", feed.url)
            return FeedResult(feed, [], "error", error=f"internal error: {exc.__class__.__name__}: {exc}")

    def _draft(self, fetcher: Fetcher, feed: Feed, parsed_title: str, entry: Entry) -> Draft | None:
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
        base = dict(
            feed=feed,
            guid=guid,
            url=link,
            title=title,
            authors=entry.authors,
            language=entry.language,
            summary=summary_text[:2000],
            entry_hash=ehash,
        )
        if unchanged is not None:
            return Draft(
                **base, outlet="", published=now, date_source="", text="", text_source="", unchanged_id=unchanged
            )
        mode = self.config.feeds.fetch_full_text
        text, source, extracted = "", "", None
        if content_text and (word_count(content_text) >= TEASER_WORDS * 2 or not looks_truncated(content_text)):
            text, source = content_text, "feed-content"
        else:
            text = max(content_text, summary_text, key=len)
            source = "feed-summary" if text else ""
            teaser = not text or looks_truncated(text) or word_count(text) < TEASER_WORDS
            if link and mode != "never" and (teaser or mode == "always"):
                try:
                    page = fetcher.get(link, accept=PAGE_ACCEPT)
                    extracted = extract_article(page.content.decode(_charset(page.content_type), "replace"), link)
                except (FetchError, UrlRefused) as exc:
                    log.info("page fetch failed for %s: %s", link, exc)
                if extracted and len(extracted.text) > len(text):
                    text, source = extracted.text, "page"
                elif source:
                    source += " (page failed)" if extracted is None else ""
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

    # -- writer side ----------------------------------------------------------
    def _passages(self, draft: Draft) -> list[PassageRow]:
        budget = self.config.embedding.passage_tokens
        counter = self.embedder.count_tokens if self.indexing else None
        chunks = (
            chunk_text(draft.text, budget, counter, self.config.embedding.overlap_sentences)
            if counter
            else chunk_text(draft.text, budget, overlap=self.config.embedding.overlap_sentences)
        )
        ts = draft.published.timestamp()
        rows = []
        for seq, chunk in enumerate(chunks):
            digest = hashlib.sha1(f"{draft.title}\n{chunk}".encode()).hexdigest()[:10]
            rows.append(
                PassageRow(
                    id=f"a{{article}}-{seq}-{digest}",
                    article_id=0,
                    seq=seq,
                    title=draft.title,
                    text=chunk,
                    published_ts=ts,
                    outlet=draft.outlet,
                )
            )
        return rows

    def _write(self, draft: Draft, report: IngestReport) -> None:
        archive = self.archive
        if draft.unchanged_id is not None:
            with archive.transaction():
                archive.link_feed(draft.unchanged_id, draft.feed.id)
            report.articles_unchanged += 1
            return
        chash = content_hash(draft.title + "\n" + draft.text)
        existing = archive.find_article_for_entry(draft.guid, draft.url, chash, draft.published.timestamp())
        record = {
            "guid": draft.guid,
            "url": draft.url,
            "title": draft.title,
            "outlet": draft.outlet,
            "authors": json.dumps(list(draft.authors), ensure_ascii=False),
            "published": draft.published.astimezone(UTC).isoformat(timespec="seconds"),
            "published_ts": draft.published.timestamp(),
            "date_source": draft.date_source,
            "fetched_at": now_iso(),
            "updated_at": now_iso(),
            "language": draft.language,
            "summary": draft.summary,
            "text": draft.text,
            "text_source": draft.text_source,
            "content_hash": chash,
            "entry_hash": draft.entry_hash,
            "feed_id": draft.feed.id,
        }
        with archive.transaction():
            if existing is None:
                article_id = archive.write_article(record, self._passages(draft))
                report.articles_new += 1
                report.new_article_ids.append(article_id)
            elif (
                existing["by"] == "guid"
                and existing["content_hash"] != chash
                and self._may_replace(existing["id"], draft)
            ):
                del record["fetched_at"]
                article_id = archive.write_article(record, self._passages(draft), existing["id"])
                report.articles_updated += 1
                archive.record_article_update(article_id, draft.feed.id)  # for the auto-poster (edit/repost)
            else:
                article_id = existing["id"]
                if existing["by"] == "guid" and archive.article_owner(article_id)[0] in (None, draft.feed.id):
                    archive.set_entry_hash(article_id, draft.entry_hash)
                report.articles_unchanged += 1
            archive.link_feed(article_id, draft.feed.id)

    def _may_replace(self, article_id: int, draft: Draft) -> bool:
        """New text under a known GUID replaces the article when it comes from the article's own feed.
        Another feed's copy (a site's Atom and RSS feeds, its summary and full-text feeds) replaces it
        only when longer, or the two copies would rewrite and re-embed the article on every poll."""
        owner, length = self.archive.article_owner(article_id)
        return owner in (None, draft.feed.id) or len(draft.text) > length

    def _record_feed(self, result: FeedResult, report: IngestReport) -> None:
        feed = result.feed
        now = now_iso()
        interval = self.config.feeds.poll_interval_minutes * 60
        if result.status == "error":
            failures = feed.failures + 1
            backoff = min(interval * (2 ** min(failures, 10)), self.config.feeds.max_backoff_minutes * 60)
            self.archive.update_feed(
                feed.id,
                status="error",
                last_fetch_at=now,
                last_error=result.error,
                failures=failures,
                next_poll_at=time.time() + backoff,
            )
            report.feeds_failed += 1
            report.errors[feed.url] = result.error or "unknown error"
            return
        fields = dict(
            status="warning" if result.warning else "ok",
            last_fetch_at=now,
            last_ok_at=now,
            last_error=None,
            warning=result.warning,
            failures=0,
            next_poll_at=time.time() + interval,
            etag=result.etag,
            last_modified=result.last_modified,
        )
        if result.title:
            fields["title"] = result.title
        self.archive.update_feed(feed.id, **fields)
        report.feeds_ok += 1
        if result.status == "not_modified":
            report.feeds_not_modified += 1
        if result.warning:
            report.warnings[feed.url] = result.warning

    # -- embedding --------------------------------------------------------------
    def apply_vector_deletes(self, report: IngestReport) -> None:
        pending = self.archive.pending_vector_deletes()
        if pending and self.indexing:
            self.store.delete(pending)
            self.archive.clear_vector_deletes(pending)
            self.archive.bump_generation()
            report.vectors_deleted += len(pending)

    def embed_pending(self, report: IngestReport, limit: int | None = None) -> int:
        """Embed passages not yet in the vector index; returns how many were embedded."""
        if not self.indexing:
            return 0
        done = 0
        while True:
            batch = self.archive.passages_to_embed(EMBED_BATCH if limit is None else min(limit - done, EMBED_BATCH))
            if not batch:
                break
            texts = [passage_input(p) for p in batch]
            vectors = self.embedder.encode(texts, self.config.embedding.batch_size)
            ids = [p.id for p in batch]
            metadatas = [
                {"article_id": p.article_id, "published_ts": p.published_ts or 0.0, "outlet": p.outlet} for p in batch
            ]
            self.store.upsert(ids, vectors, metadatas)
            self.archive.mark_embedded(ids)
            self.archive.bump_generation()
            done += len(batch)
            report.passages_embedded += len(batch)
            self.progress("embedded", count=len(batch))
            if limit is not None and done >= limit:
                break
        return done

    # -- the run ------------------------------------------------------------------
    def run(self, feeds: list[Feed], full: bool = False) -> IngestReport:
        started = time.monotonic()
        report = IngestReport()
        if self.indexing and (self.archive.pending_vector_deletes() or self.archive.passages_to_embed(1)):
            self.store.check_model()
            self.apply_vector_deletes(report)
        self.progress("start", feeds=len(feeds))
        results: queue.Queue = queue.Queue()
        with (
            Fetcher(self.config.feeds) as fetcher,
            cf.ThreadPoolExecutor(max_workers=self.config.feeds.workers, thread_name_prefix="ingest") as pool,
        ):
            futures = [pool.submit(self._process_feed, fetcher, feed, full) for feed in feeds]
            for future in futures:
                future.add_done_callback(lambda f: results.put(f.result()))
            remaining = len(futures)
            while remaining:
                result: FeedResult = results.get()
                remaining -= 1
                if self.indexing and any(d.unchanged_id is None for d in result.drafts):
                    self.store.check_model()  # an unusable index stops the run before new text is archived
                for draft in result.drafts:
                    try:
                        self._write(draft, report)
                    except NewsdeskError:
                        raise
                    except Exception as exc:
                        log.exception("could not archive %s", draft.url or draft.guid)
                        report.errors[draft.url or draft.guid] = f"{exc.__class__.__name__}: {exc}"
                # only after its articles: when writing them fails, the feed keeps its old ETag and
                # Last-Modified, so the next run reads it again instead of getting a 304
                self._record_feed(result, report)
                if result.status != "error":
                    self.archive.mark_feed_first_ok(result.feed.id)  # what it carried so far is backlog
                self.progress(
                    "feed", feed=result.feed, status=result.status, error=result.error, articles=len(result.drafts)
                )
                # embed while other feeds are still being fetched
                if self.indexing and remaining:
                    self.embed_pending(report, limit=EMBED_BATCH * 2)
        if self.indexing:
            counts = self.archive.counts()
            self.progress("embedding", pending=counts["passages"] - counts["embedded_passages"])
            self.embed_pending(report)
            self.apply_vector_deletes(report)
        report.seconds = time.monotonic() - started
        self.progress("done", report=report)
        return report


def passage_input(passage: PassageRow) -> str:
    """What the model embeds: a short header (title, outlet, date) so the passage stands alone."""
    when = ""
    if passage.published_ts:
        when = datetime.fromtimestamp(passage.published_ts, tz=UTC).strftime("%-d %B %Y")
    header = " — ".join(x for x in (passage.title, passage.outlet, when) if x)
    return f"{header}\n{passage.text}" if header else passage.text


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
