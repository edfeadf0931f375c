"""Consistency checks between the archive and the vector index, with repairs."""
from __future__ import annotations

import logging
import sqlite3

from .errors import IndexUnavailable
from .ingest import IngestReport

log = logging.getLogger(__name__)


def _full_text_problem(db) -> str | None:
    """Whether the FTS index matches the passages. (Counting passages_fts itself is no check: it is
    an external-content table, so its rows are read from passages.)"""
    indexed = db.execute("SELECT count(*) FROM passages_fts_docsize").fetchone()[0]
    passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    if indexed != passages:
        return f"full-text index has {indexed} rows for {passages} passages"
    try:
        db.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES('integrity-check', 1)")
    except sqlite3.DatabaseError as exc:
        return f"full-text index does not match the passages ({exc})"
    return None


def check(desk, fix: bool = False):
    from .service import DoctorReport

    archive = desk.archive
    report = DoctorReport(ok=True)
    db = archive.db
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        report.problems.append(f"SQLite integrity check: {integrity}")
    dup_guid = db.execute("SELECT count(*) FROM (SELECT guid FROM articles GROUP BY guid HAVING count(*) > 1)").fetchone()[0]
    if dup_guid:
        report.problems.append(f"{dup_guid} GUIDs archived more than once")
    dup_url = db.execute("SELECT count(*) FROM (SELECT url FROM articles WHERE url != '' GROUP BY url HAVING count(*) > 1)").fetchone()[0]
    if dup_url:
        report.problems.append(f"{dup_url} URLs archived more than once")
    orphans = db.execute("SELECT count(*) FROM passages WHERE article_id NOT IN (SELECT id FROM articles)").fetchone()[0]
    if orphans:
        report.problems.append(f"{orphans} passages without their article")
        if fix:
            with archive.transaction():
                db.execute("DELETE FROM passages WHERE article_id NOT IN (SELECT id FROM articles)")
            report.fixed.append(f"deleted {orphans} orphan passages")
    fts_problem = _full_text_problem(db)
    if fts_problem:
        report.problems.append(fts_problem)
        if fix:
            db.execute("INSERT INTO passages_fts(passages_fts) VALUES('rebuild')")
            report.fixed.append("rebuilt the full-text index")
    try:
        store = desk.store_or_open()
        if store.mismatch:
            report.problems.append(store.mismatch + " (run `newsdesk reindex --full`)")
        vector_ids = store.all_ids()
    except IndexUnavailable as exc:
        report.problems.append(str(exc))
        report.ok = False
        report.counts = archive.counts()
        return report
    archive_ids = archive.all_passage_ids()
    embedded = {r[0] for r in db.execute("SELECT id FROM passages WHERE embedded = 1").fetchall()}
    missing = embedded - vector_ids
    unembedded = archive_ids - embedded
    extra = vector_ids - archive_ids
    if missing:
        report.problems.append(f"{len(missing)} passages marked embedded have no vector")
    if unembedded:
        report.problems.append(f"{len(unembedded)} passages not yet embedded")
    if extra:
        report.problems.append(f"{len(extra)} vectors without a passage in the archive")
    if fix and (missing or unembedded or extra):
        if missing:
            archive.mark_embedded(sorted(missing), value=0)
        if extra:
            store.delete(sorted(extra))
        pipeline = desk.pipeline()
        done = pipeline.embed_pending(IngestReport())
        archive.bump_generation()
        report.fixed.append(f"embedded {done} passages, deleted {len(extra)} stray vectors")
    report.counts = archive.counts() | {"vectors": store.count()}
    report.ok = not report.problems or (fix and bool(report.fixed) and not [p for p in report.problems if "integrity" in p or "archived more" in p])
    return report
