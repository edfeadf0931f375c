"""Keyword search on PostgreSQL: ``passages.fts``, a stored tsvector of the title
(weight A) and the text (weight B) with a GIN index (index.archive.pg_migrations), in place of
SQLite's FTS5 table. The query is the same words FTS5 gets (:func:`index.archive.passages.fts_query`'s
choice: content words, at most 64, any of them) given to ``websearch_to_tsquery``, which never
raises on what users type; the score is ``ts_rank`` with the title weighing twice the text, as
FTS5's ``bm25(passages_fts, 2.0, 1.0)`` does (higher is better; the retriever max-normalises it)."""

from __future__ import annotations

from ..text.words import is_content_word, word_list
from .pg_migrations import FTS_CONFIG

# ts_rank weights {D, C, B, A}: the title (A) counts twice the text (B)
RANK_WEIGHTS = "{0.1, 0.2, 0.5, 1.0}"


def tsquery_text(text: str) -> str | None:
    """The words to search for, for ``websearch_to_tsquery`` (any of them); None when none is left."""
    words = word_list(text)
    terms = [w for w in words if is_content_word(w)] or [w for w in words if w]
    unique = [w for w in dict.fromkeys(terms) if w != "or"][:64]
    if not unique:
        return None
    return " or ".join(unique)


def keyword_search_sql(where: list[str]) -> str:
    """The search over passages, the filters' clauses (``?`` parameters after the query's) added."""
    clauses = " AND ".join(["p.fts @@ q.query", *where])
    return f"""SELECT p.id, p.article_id, ts_rank('{RANK_WEIGHTS}', p.fts, q.query) AS score
               FROM passages p, (SELECT websearch_to_tsquery('{FTS_CONFIG}', ?) AS query) q
               WHERE {clauses} ORDER BY score DESC, p.rowid LIMIT ?"""


DOCUMENT_FREQUENCY_SQL = f"""SELECT count(DISTINCT p.article_id) FROM passages p
    WHERE p.fts @@ websearch_to_tsquery('{FTS_CONFIG}', ?)"""
