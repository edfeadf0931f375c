"""`newsdesk eval --unanswerable-sample N`: how often answers admit they do not answer.

A copy of the data directory is made without the gold articles of N questions drawn at random
(removed the way removing their feed would remove them: passages, keyword index, vectors), then
those questions (which the copy cannot answer) and N others whose gold articles are all still
there (which it can) are asked of the copy. An unanswerable question should come back abstained or
hedged; an answerable one should not, and should still pick the right choice.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError
from .evaluate import evaluate
from .models import IngestReport

MARKER = "unanswerable.json"  # in the copy: which questions it was made for and what was removed


def gold_paths(question: dict) -> set[str]:
    return {urlsplit(g).path for g in question.get("gold", [])}


def split_questions(questions: list[dict], sample: int, seed: int) -> tuple[list[dict], list[dict]]:
    """(unanswerable, answerable): ``sample`` questions drawn with ``seed`` whose gold articles
    are removed, and up to ``sample`` others none of whose gold articles is among those."""
    with_gold = [q for q in questions if q.get("gold")]
    rng = random.Random(seed)
    drawn = rng.sample(with_gold, min(sample, len(with_gold)))
    removed = set().union(*(gold_paths(q) for q in drawn)) if drawn else set()
    drawn_ids = {id(q) for q in drawn}
    others = [q for q in with_gold if id(q) not in drawn_ids and not gold_paths(q) & removed]
    answerable = rng.sample(others, min(sample, len(others)))
    return drawn, answerable


def articles_at(archive, paths: set[str]) -> list[int]:
    """Ids of the archived articles whose URL path is one of ``paths`` (the host varies)."""
    return [article_id for article_id, url in archive.article_urls() if urlsplit(url).path in paths]


def build_copy(config, copy_dir: Path, unanswerable: list[dict], open_desk: Callable) -> dict:
    """Copy the data directory to ``copy_dir`` and remove the gold articles of ``unanswerable``
    from the copy; reused when it was made for the same questions. Returns what was removed."""
    if config.archive.url or config.index.chroma_url:
        raise ConfigError("--unanswerable-sample copies the data directory: it needs the local archive and index")
    wanted = sorted(q["id"] for q in unanswerable)
    marker = copy_dir / MARKER
    if marker.exists():
        made = json.loads(marker.read_text())
        if made.get("questions") == wanted:
            return made
        raise ConfigError(f"{copy_dir} was made for other questions: remove it or choose another --copy-dir")
    if copy_dir.exists():
        raise ConfigError(f"{copy_dir} exists and is not an unanswerable copy")
    shutil.copytree(config.data.dir, copy_dir, ignore=shutil.ignore_patterns("*.lock"))
    desk = open_desk(copy_config(config, copy_dir))
    try:
        paths = set().union(*(gold_paths(q) for q in unanswerable)) if unanswerable else set()
        ids = articles_at(desk.archive, paths)
        removed = desk.archive.remove_articles(ids)
        report = IngestReport()
        desk.parts.pipeline().apply_vector_deletes(report)
    finally:
        desk.close()
    made = {"questions": wanted, "articles_removed": removed, "vectors_removed": report.vectors_deleted}
    marker.write_text(json.dumps(made))
    return made


def copy_config(config, copy_dir: Path):
    return dataclasses.replace(config, data=dataclasses.replace(config.data, dir=str(copy_dir)))


def rates(report: dict) -> dict:
    """The share abstained, hedged, and either, of an evaluate() report's questions."""
    return {
        "questions": report["questions"],
        "abstained": report.get("abstention_rate", 0.0),
        "hedged": report.get("hedge_rate", 0.0),
        "hedged_stale": report.get("stale_hedge_rate", 0.0),
        "abstained_or_hedged": report.get("declined_rate", 0.0),
        "mc_accuracy": report.get("mc_accuracy", 0.0),
        "citations_resolved": report.get("citations_resolved", 1.0),
    }


def evaluate_unanswerable(desk, unanswerable: list[dict], answerable: list[dict]) -> dict:
    """Both sets asked of the copy (``desk``): their rates, and the full reports."""
    gone = evaluate(desk, unanswerable)
    kept = evaluate(desk, answerable)
    reports = {"unanswerable": gone, "answerable": kept}
    return {"unanswerable": rates(gone), "answerable": rates(kept), "reports": reports}


def format_unanswerable(report: dict, made: dict) -> str:
    drawn, removed = len(made["questions"]), made["articles_removed"]
    lines = [f"copy without the gold articles of {drawn} questions ({removed} articles removed)"]
    for name in ("unanswerable", "answerable"):
        r = report[name]
        lines.append(
            f"  {name:<13} n={r['questions']:<5} abstained or hedged={r['abstained_or_hedged']:.3f} "
            f"(abstained={r['abstained']:.3f}, hedged={r['hedged']:.3f}, of them stale={r['hedged_stale']:.3f})"
            f"  mc_accuracy={r['mc_accuracy']:.3f}  "
            f"citations_resolved={r['citations_resolved']:.3f}"
        )
    return "\n".join(lines)
