"""Consistency checks of the archive itself, for ``newsdesk doctor``."""

from __future__ import annotations

import sqlite3

from .db import Database

# PostgreSQL: the archive's indexes a failed build or REINDEX left unusable
PG_INVALID_INDEXES = """SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND NOT i.indisvalid"""


class ConsistencyChecks(Database):
    """What doctor asks of the archive; each returns a count or a sentence, never raises."""

    def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded as applied to this archive."""
        try:
            return [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name").fetchall()]
        except sqlite3.OperationalError:  # no migrations table: nothing applied
            return []

    def integrity(self) -> str:
        if self.backend == "postgresql":  # the server keeps its pages whole; an index may be left invalid
            bad = self.db.execute(PG_INVALID_INDEXES).fetchall()
            return "ok" if not bad else "invalid indexes: " + ", ".join(r[0] for r in bad)
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    def duplicate_guids(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM (SELECT guid FROM articles GROUP BY guid HAVING count(*) > 1) AS dup"
        ).fetchone()[0]

    def duplicate_urls(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM (SELECT url FROM articles WHERE url != '' GROUP BY url HAVING count(*) > 1) AS dup"
        ).fetchone()[0]

    def orphan_passages(self) -> int:
        return self.db.execute(
            "SELECT count(*) FROM passages WHERE article_id NOT IN (SELECT id FROM articles)"
        ).fetchone()[0]

    def delete_orphan_passages(self) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM passages WHERE article_id NOT IN (SELECT id FROM articles)")

    def full_text_problem(self) -> str | None:
        """Whether the FTS index matches the passages. (Counting passages_fts itself is no check: it is
        an external-content table, so its rows are read from passages.)"""
        db = self.db
        if self.backend == "postgresql":  # passages.fts is a generated column: only its index can be wrong
            return None if not db.execute(PG_INVALID_INDEXES).fetchall() else "full-text index is invalid"
        indexed = db.execute("SELECT count(*) FROM passages_fts_docsize").fetchone()[0]
        passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
        if indexed != passages:
            return f"full-text index has {indexed} rows for {passages} passages"
        try:
            db.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES('integrity-check', 1)")
        except sqlite3.DatabaseError as exc:
            return f"full-text index does not match the passages ({exc})"
        return None

    def rebuild_full_text(self) -> None:
        if self.backend == "postgresql":
            self.db.execute("REINDEX INDEX idx_passages_fts")
            return
        self.db.execute("INSERT INTO passages_fts(passages_fts) VALUES('rebuild')")

    def embedded_passage_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM passages WHERE embedded = 1").fetchall()}
