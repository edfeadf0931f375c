"""Articles: dedupe lookups, writes with their passages, reads and the latest list."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import NotFound
from ..models import GLOBAL, Article, PassageRow, Scope
from ..text.clean import canonical_url
from .passages import PassageStore
from .rows import article_from_row
from .scope import filter_clauses
from .sql import in_chunks, insert_row, now_iso, update_row


class ArticleStore(PassageStore):
    """Articles and the feeds that carry them."""

    # -- articles ----------------------------------------------------------
    def article_urls(self) -> list[tuple[int, str]]:
        """(id, url) of every archived article."""
        return [(row[0], row[1]) for row in self.db.execute("SELECT id, url FROM articles").fetchall()]

    def find_article_for_entry(
        self, guid: str, url: str, chash: str, published_ts: float, same_text_days: float = 7.0
    ) -> dict | None:
        """The archived article this entry is: same GUID, same canonical URL, or the same text
        published within a few days (a re-post under a new GUID). The same text years apart
        (a recurring item) is a different article."""
        window = same_text_days * 86400
        for sql, params in (
            ("guid = ?", [guid]),
            ("url = ?", [url]),
            ("content_hash = ? AND abs(published_ts - ?) <= ?", [chash, published_ts, window]),
        ):
            if not params[0]:
                continue
            row = self.db.execute(
                f"SELECT id, guid, content_hash, url FROM articles WHERE {sql} LIMIT 1", params
            ).fetchone()
            if row:
                return {"id": row[0], "guid": row[1], "content_hash": row[2], "url": row[3], "by": sql.split()[0]}
        return None

    def entry_unchanged(self, guid: str, entry_hash: str) -> int | None:
        """The article id when this entry was archived before with the same feed fields."""
        row = self.db.execute(
            "SELECT id FROM articles WHERE guid = ? AND entry_hash = ?", [guid, entry_hash]
        ).fetchone()
        return row[0] if row else None

    def link_feed(self, article_id: int, feed_id: int) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO article_feeds (article_id, feed_id, first_seen_at) VALUES (?, ?, ?)",
            [article_id, feed_id, now_iso()],
        )

    def write_article(self, record: dict, passages: list[PassageRow], article_id: int | None = None) -> int:
        """Insert or replace an article and its passages in one transaction (caller holds it)."""
        db = self.db
        if article_id is None:
            article_id = insert_row(db, "articles", record)
        else:
            update_row(db, "articles", article_id, record)
            self._delete_passages(article_id)
        rows = [
            {
                "id": p.id.replace("{article}", str(article_id)),
                "article_id": article_id,
                "seq": p.seq,
                "title": p.title,
                "text": p.text,
                "published_ts": p.published_ts,
                "outlet": p.outlet,
                "embedded": 0,
            }
            for p in passages
        ]
        if rows:
            for row in rows:
                insert_row(db, "passages", row)
            db.execute(
                f"DELETE FROM vector_deletes WHERE passage_id IN ({','.join('?' * len(rows))})",
                [r["id"] for r in rows],
            )
        return article_id

    def get_article(self, url_or_id: str | int) -> Article:
        key = str(url_or_id).strip()
        row = None
        if key.isdigit():
            row = next(self.db.query("SELECT * FROM articles WHERE id = ?", [int(key)]), None)
        if row is None and key:
            row = next(
                self.db.query(
                    "SELECT * FROM articles WHERE url = ? OR url = ? OR guid = ?", [key, canonical_url(key), key]
                ),
                None,
            )
        if row is None:
            raise NotFound(f"no article {url_or_id!r} in the archive")
        return article_from_row(row)

    def articles_by_ids(self, ids: Iterable[int]) -> dict[int, Article]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        out = {}
        for chunk, marks in in_chunks(ids):
            for row in self.db.query(f"SELECT * FROM articles WHERE id IN ({marks})", chunk):
                out[row["id"]] = article_from_row(row)
        return out

    def article_exists(self, article_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone() is not None

    def latest_articles(
        self,
        *,
        limit: int,
        until_ts: float | None,
        outlets: list[str] | None,
        since_ts: float | None = None,
        scope: Scope = GLOBAL,
    ) -> list[Article]:
        where, params = filter_clauses("a", "a.id", since_ts, until_ts, outlets, scope)
        where.insert(0, "1=1")
        params.append(limit)
        rows = self.db.query(
            f"SELECT * FROM articles a WHERE {' AND '.join(where)} ORDER BY a.published_ts DESC, a.id DESC LIMIT ?",
            params,
        )
        return [article_from_row(r) for r in rows]

    def newest_published_ts(
        self, *, until_ts: float | None, outlets: list[str] | None, scope: Scope = GLOBAL
    ) -> float | None:
        """When the newest article in the filters was published (the archive's front at a moment)."""
        where, params = filter_clauses("a", "a.id", None, until_ts, outlets, scope, correlated=True)
        where.insert(0, "a.published_ts IS NOT NULL")
        row = self.db.execute(
            f"SELECT a.published_ts FROM articles a WHERE {' AND '.join(where)} ORDER BY a.published_ts DESC LIMIT 1",
            params,
        ).fetchone()
        return row[0] if row else None

    def first_passage(self, article: Article) -> PassageRow:
        """The article's first passage (or one made of its title and opening, when it has none)."""
        row = self.db.execute(
            "SELECT id FROM passages WHERE article_id = ? ORDER BY seq LIMIT 1", [article.id]
        ).fetchone()
        if row:
            return self.passages_by_ids([row[0]])[row[0]]
        return PassageRow("", article.id, 0, article.title, article.text[:500], article.published_ts, article.outlet)

    def article_owner(self, article_id: int) -> tuple[int | None, int]:
        """The feed the archived text came from, and the text's length."""
        row = self.db.execute("SELECT feed_id, length(text) FROM articles WHERE id = ?", [article_id]).fetchone()
        return row[0], row[1] or 0

    def set_entry_hash(self, article_id: int, entry_hash: str) -> None:
        """Remember the feed fields last seen for an article (caller holds the transaction)."""
        self.db.execute("UPDATE articles SET entry_hash = ? WHERE id = ?", [entry_hash, article_id])
