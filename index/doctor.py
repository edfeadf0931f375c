"""Consistency checks between the archive and the vector index, with repairs (``newsdesk doctor``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .archive import Archive
from .errors import IndexUnavailable
from .ingest.pipeline import Pipeline
from .models import DoctorReport, IngestReport
from .vectors.chroma import VectorStore

log = logging.getLogger(__name__)


def check(
    archive: Archive, open_store: Callable[[], VectorStore], pipeline: Callable[[], Pipeline], fix: bool = False
) -> DoctorReport:
    report = DoctorReport(ok=True)
    integrity = archive.integrity()
    if integrity != "ok":
        report.problems.append(f"SQLite integrity check: {integrity}")
    dup_guid = archive.duplicate_guids()
    if dup_guid:
        report.problems.append(f"{dup_guid} GUIDs archived more than once")
    dup_url = archive.duplicate_urls()
    if dup_url:
        report.problems.append(f"{dup_url} URLs archived more than once")
    orphans = archive.orphan_passages()
    if orphans:
        report.problems.append(f"{orphans} passages without their article")
        if fix:
            archive.delete_orphan_passages()
            report.fixed.append(f"deleted {orphans} orphan passages")
    fts_problem = archive.full_text_problem()
    if fts_problem:
        report.problems.append(fts_problem)
        if fix:
            archive.rebuild_full_text()
            report.fixed.append("rebuilt the full-text index")
    try:
        store = open_store()
        if store.mismatch:
            report.problems.append(store.mismatch + " (run `newsdesk reindex --full`)")
        vector_ids = store.all_ids()
    except IndexUnavailable as exc:
        report.problems.append(str(exc))
        report.ok = False
        report.counts = archive.counts()
        return report
    archive_ids = archive.all_passage_ids()
    embedded = archive.embedded_passage_ids()
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
        done = pipeline().embed_pending(IngestReport())
        archive.bump_generation()
        report.fixed.append(f"embedded {done} passages, deleted {len(extra)} stray vectors")
    report.counts = archive.counts() | {"vectors": store.count()}
    report.ok = not report.problems or (
        fix and bool(report.fixed) and not [p for p in report.problems if "integrity" in p or "archived more" in p]
    )
    return report
