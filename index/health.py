"""How the desk is doing: counts, status (failing feeds, last poll, the index), and the doctor."""

from __future__ import annotations

from . import doctor
from .config import llm_api_key
from .errors import IndexUnavailable
from .ingest.service import IndexingService
from .models import GLOBAL, DoctorReport, Scope
from .parts import Parts
from .serverstatus import scoped_status
from .vectors.chroma import VectorStore


class HealthService:
    def __init__(self, parts: Parts, indexing: IndexingService):
        self.config = parts.config
        self.archive = parts.archive
        self.parts = parts
        self.indexing = indexing

    def stats(self) -> dict:
        counts = self.archive.counts()
        counts["model"] = self.parts.model_name
        counts["index"] = self.config.index.chroma_url or str(self.config.chroma_path)
        return counts

    def status(self, scope: Scope = GLOBAL) -> dict:
        stats = self.stats()
        feeds = self.archive.list_feeds(scope)
        if scope.scoped:  # this server's share of the archive, not the whole archive's counts
            return scoped_status(stats, self.archive, feeds, scope, self.indexing.last_poll)
        stats["failing_feeds"] = [
            {"url": f.url, "name": f.display_name, "error": f.last_error} for f in feeds if f.status == "error"
        ]
        stats["last_poll"] = self.indexing.last_poll or max((f.last_fetch_at or "" for f in feeds), default="") or None
        try:
            stats["vectors"] = self.parts.store_or_open().count()
        except IndexUnavailable as exc:
            stats["vectors"] = None
            stats["index_error"] = str(exc)
        stats["archive_bytes"] = self.archive.size_bytes()
        stats.update(doctor.dense_status(self.parts.retriever))
        return stats

    def doctor(self, fix: bool = False) -> DoctorReport:
        """The installation (model, Chroma, migrations, the optional LLM endpoint and Chroma server),
        then the archive and the index; one line per problem, each with its fix."""
        installation = doctor.check_installation(
            self.config, self.archive, self.parts.embedder_or_load, self.parts.store_or_open, llm_api_key(self.config)
        )
        installation += doctor.check_deployment(self.config, self.parts.retriever, self.parts.writer, installation)
        broken = [c["problem"] for c in installation if not c["ok"]]

        def open_store() -> VectorStore:
            if any(c["check"] in ("model", "chroma") and not c["ok"] for c in installation):
                raise IndexUnavailable(
                    next(c["problem"] for c in installation if c["check"] in ("model", "chroma") and not c["ok"])
                )
            return self.parts.store_or_open()

        report = doctor.check(self.archive, open_store, self.parts.pipeline, fix)
        report.installation = installation
        report.problems = list(dict.fromkeys(broken + report.problems))
        if broken:
            report.ok = False
        return report
