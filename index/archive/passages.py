"""Passages: the embedded flag, the vector-delete queue, neighbour lists and keyword search (FTS5)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable

from ..models import GLOBAL, PassageRow, Scope
from ..text.words import is_content_word, word_list
from .db import Database
from .pg_search import DOCUMENT_FREQUENCY_SQL, keyword_search_sql, tsquery_text
from .scope import filter_clauses
from .sql import in_chunks, insert_row, now_iso

log = logging.getLogger(__name__)

# A keyword search reads at most this many postings (passages per term, summed over the terms it
# keeps). FTS5's bm25 scores every passage matching any term, ~2 us a posting on this machine, so
# at a million passages one word found in most of them ("said") cost 1.5 s. Past the budget the
# most common terms are left out of the MATCH, rarest kept first: they carry the least of bm25's
# weight (its idf) and the most of its cost (Elasticsearch's cutoff_frequency does the same).
KEYWORD_POSTINGS = 30_000
_POSTINGS_TTL = 600.0  # seconds a term's counted postings are reused (they only grow slowly)
DF_SLICES, DF_SAMPLE = 20, 0.02  # a common word's articles: counted on 2% of each of 20 rowid slices


def fts_terms(text: str) -> list[str]:
    """The words of ``text`` a keyword search matches: content words (every word when there are
    none), each once, at most 64."""
    words = word_list(text)
    terms = [w for w in words if is_content_word(w)] or [w for w in words if w]
    return list(dict.fromkeys(terms))[:64]


def match_expression(terms: list[str]) -> str | None:
    """A safe FTS5 MATCH expression: every term quoted, joined by OR. None without terms."""
    if not terms:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in terms)


def fts_query(text: str) -> str | None:
    """A safe FTS5 MATCH expression: every word quoted, joined by OR. None when no word is left."""
    return match_expression(fts_terms(text))


def terms_within(postings: dict[str, int], budget: int) -> list[str]:
    """The terms to match when reading at most ``budget`` postings: rarest first, while their
    postings add up to the budget (a pure function of the counts; ties keep the question's order)."""
    kept, total = [], 0
    for term in sorted(postings, key=lambda t: postings[t]):
        if total + postings[term] > budget:
            break
        kept.append(term)
        total += postings[term]
    order = list(postings)
    return sorted(kept, key=order.index)


class PassageStore(Database):
    """Passages and what keeps the vector index in step with them."""

    # -- passages ----------------------------------------------------------
    def passages_by_ids(self, ids: Iterable[str]) -> dict[str, PassageRow]:
        ids = list(dict.fromkeys(ids))
        out = {}
        for chunk, marks in in_chunks(ids):
            for row in self.db.query(f"SELECT * FROM passages WHERE id IN ({marks})", chunk):
                out[row["id"]] = PassageRow(
                    row["id"],
                    row["article_id"],
                    row["seq"],
                    row["title"] or "",
                    row["text"],
                    row["published_ts"],
                    row["outlet"] or "",
                )
        return out

    def article_passages(self, article_id: int) -> list[PassageRow]:
        """An article's passages, in order."""
        return [
            PassageRow(
                r["id"], r["article_id"], r["seq"], r["title"] or "", r["text"], r["published_ts"], r["outlet"] or ""
            )
            for r in self.db.query("SELECT * FROM passages WHERE article_id = ? ORDER BY seq", [article_id])
        ]

    def passage_meta(self, ids: Iterable[str]) -> dict[str, tuple[int, float | None, str]]:
        """passage id -> (article_id, published_ts, outlet), without reading the text."""
        ids = list(dict.fromkeys(ids))
        out: dict[str, tuple[int, float | None, str]] = {}
        # SQLite's planner prefers the primary key's index, which then reads the row (m010); an
        # archive opened without that migration (read-only, older) is read the plain way
        covered = self.backend == "sqlite" and self.__dict__.get("_meta_index", True)
        table = "passages INDEXED BY passages_meta" if covered else "passages"
        for chunk, marks in in_chunks(ids):
            sql = f"SELECT id, article_id, published_ts, outlet FROM {table} WHERE id IN ({marks})"
            try:
                rows = self.db.execute(sql, chunk).fetchall()
            except sqlite3.OperationalError as exc:
                if not covered or "passages_meta" not in str(exc):
                    raise
                self.__dict__["_meta_index"] = False
                return self.passage_meta(ids)
            out.update((r[0], (r[1], r[2], r[3] or "")) for r in rows)
        return out

    def postings_of(self, terms: list[str], cap: int) -> dict[str, int]:
        """Passages matching each term (SQLite), counted up to ``cap + 1``: counting stops there, so
        a common word costs a bounded read. Counts are reused for _POSTINGS_TTL seconds."""
        cache = self.__dict__.setdefault("_postings_cache", {})
        lock = self.__dict__.setdefault("_postings_lock", threading.Lock())
        now = time.monotonic()
        out = {}
        for term in terms:
            with lock:
                hit = cache.get((term, cap))
            if hit is not None and now - hit[1] < _POSTINGS_TTL:
                out[term] = hit[0]
                continue
            try:
                count = self.db.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? LIMIT ?)",
                    [match_expression([term]), cap + 1],
                ).fetchone()[0]
            except sqlite3.OperationalError as exc:  # a term FTS5 cannot parse matches nothing
                log.warning("keyword count failed for %r: %s", term, exc)
                count = 0
            with lock:
                if len(cache) > 50_000:
                    cache.clear()
                cache[(term, cap)] = (count, now)
            out[term] = count
        return out

    def document_frequency(self, word: str) -> int:
        """Articles containing ``word`` (as the keyword index stems it). Articles, not passages:
        a long article repeating a word in every passage does not make that word common."""
        if self.backend == "postgresql":
            words = tsquery_text(word)
            return 0 if words is None else self.db.execute(DOCUMENT_FREQUENCY_SQL, [words]).fetchone()[0]
        terms = fts_terms(word)
        match = match_expression(terms)
        if match is None:
            return 0
        sql = """SELECT count(DISTINCT p.article_id) FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
                 WHERE passages_fts MATCH ?"""
        try:
            if len(terms) != 1 or self.postings_of(terms, KEYWORD_POSTINGS)[terms[0]] <= KEYWORD_POSTINGS:
                return self.db.execute(sql, [match]).fetchone()[0]
            # a common word: counted on DF_SLICES evenly spread rowid slices (DF_SAMPLE of the
            # archive; FTS5 seeks to a rowid range), scaled up: a bounded read, a few % error at worst
            low, high = self.db.execute("SELECT min(rowid), max(rowid) FROM passages").fetchone()
            span = (high - low + 1) / DF_SLICES
            width = max(1, int(span * DF_SAMPLE))
            seen = 0
            for i in range(DF_SLICES):
                start = low + int(i * span)
                seen += self.db.execute(
                    sql + " AND passages_fts.rowid BETWEEN ? AND ?", [match, start, start + width - 1]
                ).fetchone()[0]
            return int(round(seen * (high - low + 1) / (width * DF_SLICES)))
        except sqlite3.OperationalError:
            return 0

    def passage_counts(self, article_ids: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk, marks in in_chunks(article_ids):
            out.update(
                self.db.execute(
                    f"SELECT article_id, count(*) FROM passages WHERE article_id IN ({marks}) GROUP BY article_id",
                    chunk,
                ).fetchall()
            )
        return out

    def passages_to_embed(self, limit: int = 100_000) -> list[PassageRow]:
        rows = self.db.query("SELECT * FROM passages WHERE embedded = 0 ORDER BY article_id, seq LIMIT ?", [limit])
        return [
            PassageRow(
                r["id"], r["article_id"], r["seq"], r["title"] or "", r["text"], r["published_ts"], r["outlet"] or ""
            )
            for r in rows
        ]

    def unembedded_among(self, ids: Iterable[str]) -> list[str]:
        """The ids, of those given, of archived passages still waiting for a vector."""
        out = []
        for chunk, marks in in_chunks(list(dict.fromkeys(ids))):
            out += [
                r[0]
                for r in self.db.execute(
                    f"SELECT id FROM passages WHERE embedded = 0 AND id IN ({marks})", chunk
                ).fetchall()
            ]
        return out

    def mark_embedded(self, ids: list[str], value: int = 1) -> None:
        """A passage (re-)embedded or taken out of the index: its neighbours are recomputed."""
        with self.transaction():
            for chunk, marks in in_chunks(ids):
                self.db.execute(f"UPDATE passages SET embedded = ? WHERE id IN ({marks})", [value, *chunk])
                self.db.execute(f"DELETE FROM passage_neighbours WHERE passage_id IN ({marks})", chunk)

    def _delete_passages(self, article_id: int) -> None:
        ids = [r[0] for r in self.db.execute("SELECT id FROM passages WHERE article_id = ?", [article_id]).fetchall()]
        if ids:
            self.db.execute(
                "DELETE FROM passage_neighbours WHERE passage_id IN (SELECT id FROM passages WHERE article_id = ?)",
                [article_id],
            )
            self.db.execute("DELETE FROM passages WHERE article_id = ?", [article_id])
            for passage_id in ids:
                insert_row(self.db, "vector_deletes", {"passage_id": passage_id, "queued_at": now_iso()}, replace=True)

    def embedded_passage_rows(self) -> list[tuple]:
        """What the vector mirror needs of each embedded passage: id, article id, unix time, outlet,
        stored neighbour similarities (or None)."""
        return self.db.execute(
            """SELECT p.id, p.article_id, p.published_ts, p.outlet, n.sims FROM passages p
               LEFT JOIN passage_neighbours n ON n.passage_id = p.id
               WHERE p.embedded = 1 ORDER BY p.rowid"""
        ).fetchall()

    def save_neighbours(self, sims: dict[str, bytes]) -> None:
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO passage_neighbours (passage_id, sims) VALUES (?, ?)", sims.items()
            )

    def mark_all_unembedded(self, feed_id: int | None = None) -> int:
        with self.transaction():
            if feed_id is None:
                cur = self.db.execute("UPDATE passages SET embedded = 0")
                self.db.execute("DELETE FROM passage_neighbours")
            else:
                cur = self.db.execute(
                    "UPDATE passages SET embedded = 0 WHERE article_id IN "
                    "(SELECT article_id FROM article_feeds WHERE feed_id = ?)",
                    [feed_id],
                )
                self.db.execute(
                    "DELETE FROM passage_neighbours WHERE passage_id IN (SELECT p.id FROM passages p "
                    "JOIN article_feeds af ON af.article_id = p.article_id WHERE af.feed_id = ?)",
                    [feed_id],
                )
            return cur.rowcount

    def pending_vector_deletes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT passage_id FROM vector_deletes").fetchall()]

    def clear_vector_deletes(self, ids: list[str]) -> None:
        with self.transaction():
            for chunk, marks in in_chunks(ids):
                self.db.execute(f"DELETE FROM vector_deletes WHERE passage_id IN ({marks})", chunk)

    def all_passage_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM passages").fetchall()}

    def keyword_search(
        self,
        text: str,
        *,
        limit: int,
        since_ts: float | None,
        until_ts: float | None,
        outlets: list[str] | None = None,
        article_ids: list[int] | None = None,
        scope: Scope = GLOBAL,
        max_postings: int | None = KEYWORD_POSTINGS,
    ) -> list[tuple[str, int, float]]:
        """BM25 over passages: (passage_id, article_id, score) best first; score is -bm25 (higher is
        better). On SQLite the search reads at most ``max_postings`` postings (see KEYWORD_POSTINGS;
        None: every term, whatever it costs)."""
        if self.backend == "postgresql":  # tsvector and ts_rank (index.archive.pg_search)
            words = tsquery_text(text)
            if words is None:
                return []
            where, params = filter_clauses("p", "p.article_id", since_ts, until_ts, outlets, scope)
            rows = self.db.execute(keyword_search_sql(where), [words, *params, limit]).fetchall()
            return [(r[0], r[1], float(r[2])) for r in rows]
        terms = fts_terms(text)
        if max_postings is not None and terms:
            terms = terms_within(self.postings_of(terms, max_postings), max_postings)
        match = match_expression(terms)
        if match is None:
            return []
        where, params = filter_clauses("p", "p.article_id", since_ts, until_ts, outlets, scope, correlated=True)
        where.insert(0, "passages_fts MATCH ?")
        params.insert(0, match)
        sql = f"""SELECT p.id, p.article_id, -bm25(passages_fts, 2.0, 1.0) AS score
                  FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
                  WHERE {" AND ".join(where)} ORDER BY bm25(passages_fts, 2.0, 1.0) LIMIT ?"""
        params.append(limit)
        try:
            return [(r[0], r[1], r[2]) for r in self.db.execute(sql, params).fetchall()]
        except sqlite3.OperationalError as exc:
            log.warning("keyword search failed for %r: %s", match, exc)
            return []
