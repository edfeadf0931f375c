"""Writing a draft to the archive: a new article, an update of a known one, or unchanged
(the replace policy decides between the last two). Runs in the archive's single writer thread."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC

from ..archive import Archive
from ..archive.sql import now_iso
from ..config import Config
from ..models import IngestReport, PassageRow
from ..text.chunking import chunk_text
from ..text.clean import content_hash
from .drafts import Draft


class ArticleWriter:
    def __init__(self, config: Config, archive: Archive, token_counter: Callable[[], Callable | None]):
        """``token_counter()`` gives the embedder's token counter (None without an index); it is
        called only when a draft is chunked, so the model loads only when there is new text."""
        self.config = config
        self.archive = archive
        self._token_counter = token_counter

    def passages(self, draft: Draft) -> list[PassageRow]:
        budget = self.config.embedding.passage_tokens
        counter = self._token_counter()
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

    def write(self, draft: Draft, report: IngestReport) -> None:
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
            "categories": json.dumps(list(draft.categories), ensure_ascii=False),
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
                article_id = archive.write_article(record, self.passages(draft))
                report.articles_new += 1
                report.new_article_ids.append(article_id)
            elif (
                existing["by"] == "guid"
                and existing["content_hash"] != chash
                and self.may_replace(existing["id"], draft)
            ):
                del record["fetched_at"]
                article_id = archive.write_article(record, self.passages(draft), existing["id"])
                report.articles_updated += 1
                archive.record_article_update(article_id, draft.feed.id)  # for the auto-poster (edit/repost)
            else:
                article_id = existing["id"]
                if existing["by"] == "guid" and archive.article_owner(article_id)[0] in (None, draft.feed.id):
                    archive.set_entry_hash(article_id, draft.entry_hash)
                report.articles_unchanged += 1
            archive.link_feed(article_id, draft.feed.id)

    def may_replace(self, article_id: int, draft: Draft) -> bool:
        """New text under a known GUID replaces the article when it comes from the article's own feed.
        Another feed's copy (a site's Atom and RSS feeds, its summary and full-text feeds) replaces it
        only when longer, or the two copies would rewrite and re-embed the article on every poll."""
        owner, length = self.archive.article_owner(article_id)
        return owner in (None, draft.feed.id) or len(draft.text) > length
