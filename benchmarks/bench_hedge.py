"""The hedge thresholds, fitted on the dev questions with and without their gold articles.

``dump`` asks each question of a file on one data directory (an unanswerable copy made by
``newsdesk eval --unanswerable-sample``, or the full archive) and keeps, per question, whether it
abstained and the evidence the hedge decision saw (index.answers.hedging.Evidence).

``fit`` takes the dump of the unanswerable questions and the dump of the answerable ones (both
asked of the same copy), splits each in two halves by question id, chooses on the first half the
thresholds that decline (abstain or hedge) the most unanswerable questions while declining at
most ``--max-answerable`` of the answerable ones, and reports on the second half. Each threshold's
standard error is the spread of the chosen value over bootstrap resamples of the first half.

    NEWSDESK_DATA_DIR=/tmp/copy python benchmarks/bench_hedge.py dump gone.jsonl gone.json
    NEWSDESK_DATA_DIR=/tmp/copy python benchmarks/bench_hedge.py dump kept.jsonl kept.json
    python benchmarks/bench_hedge.py fit gone.json kept.json [--json out.json] [--fix min_sentence_dense=0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import time
import zlib
from dataclasses import replace
from pathlib import Path

import _common  # noqa: F401 - sys.path and the offline environment
import numpy as np

COVERAGE_GRID = [round(0.05 * i, 2) for i in range(0, 5)]  # 0 .. 0.2 (higher floors never paid off)
NAMES_GRID = [0.0, 0.5, 1.0]
DENSE_GRID = [round(0.02 * i, 2) for i in range(15, 22)]  # 0.30 .. 0.42 (0.30: abstaining already)
AGE_GRID = [3.0, 7.0, 14.0, 30.0, 60.0, 1e9]  # days: "recently" asked, the cited article older than this
SENTENCE_GRID = [0.0] + [round(0.02 * i, 2) for i in range(15, 23)]  # 0 (off), 0.30 .. 0.44
AFTER_GRID = [1.0, 3.0, 7.0, 14.0, 30.0, 1e9]  # days a first cited article may be past the period named
STALE_GRID = [0.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0]  # days behind the archive's newest (0: off)
CHUNK = 50_000
NAMES = (
    "min_coverage",
    "min_names",
    "min_dense",
    "min_dense_when_keyword_disagrees",
    "max_recent_age_days",
    "min_sentence_dense",
    "max_days_after_period",
    "max_stale_days",
)


def dump(questions_path: Path, out: Path, config_path: str | None) -> None:
    from index.config import load_config
    from index.evaluate import choice_supported
    from index.service import Newsdesk

    config = load_config(config_path)
    # a floor that never decides, so that each answer records its question-sentence cosines
    answers = replace(config.answers, hedge_min_sentence_dense=max(config.answers.hedge_min_sentence_dense, 1e-6))
    desk = Newsdesk(replace(config, answers=answers))
    rows = [json.loads(line) for line in questions_path.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    kept = []
    for q in rows:
        answer = desk.reading.ask(q["question"], as_of=q.get("asked_at"))
        kept.append(
            {
                "id": q["id"],
                "abstained": answer.abstained,
                "hedged": answer.hedged,
                "evidence": answer.evidence,
                "extra": extra_evidence(desk, q, answer),
                "mc_correct": choice_supported(answer.text, q["choices"]) == q["answer"] if "choices" in q else None,
            }
        )
    out.write_text(json.dumps({"questions": str(questions_path), "rows": kept}))
    print(f"{questions_path.name}: {len(kept)} questions in {time.perf_counter() - started:.0f} s")


def extra_evidence(desk, q: dict, answer) -> dict:
    """Evidence not (yet) used by the decision, kept to try other rules offline."""
    from index.answers.hedging import _QUANTITY, graded_coverage
    from index.search.lexical import question_words
    from index.text.dates import parse_moment
    from index.text.words import content_words

    if not answer.hits:
        return {}
    terms = question_words(_QUANTITY.sub("how", q["question"]))
    weights = desk.retriever.question_weights(q["question"])
    top = answer.hits[0]
    cited = [c.article for c in answer.citations] or [top.article]
    cov_top, _ = graded_coverage(weights, terms, content_words(f"{top.article.title} {top.article.text}"))
    cov_cited, _ = graded_coverage(weights, terms, content_words(" ".join(f"{a.title} {a.text}" for a in cited)))
    as_of = parse_moment(q.get("asked_at"), end_of_day=True, name="as-of")
    age = (as_of.timestamp() - (top.article.published_ts or 0)) / 86400 if as_of else None
    return {
        "cov_top_text": round(cov_top, 4),
        "cov_cited_text": round(cov_cited, 4),
        "age_days": age,
        "dense2": answer.hits[1].dense if len(answer.hits) > 1 else 0.0,
        "score": top.score,
        "score2": answer.hits[1].score if len(answer.hits) > 1 else 0.0,
        "hits_dense": [h.dense for h in answer.hits[:10]],
        "title_cos": title_cosines(desk, q["question"], answer),
    }


def title_cosines(desk, question: str, answer) -> list[float]:
    embedder = desk.parts.embedder_or_load()
    vectors = embedder.encode([question] + [c.article.title for c in answer.citations[:4]])
    return [float(v) for v in vectors[1:] @ vectors[0]]


GRID = np.array(
    list(
        itertools.product(
            COVERAGE_GRID, NAMES_GRID, DENSE_GRID, DENSE_GRID, AGE_GRID, SENTENCE_GRID, AFTER_GRID, STALE_GRID
        )
    )
)


def fix_threshold(name: str, value: str) -> None:
    """Fit the others with ``name`` held at ``value`` (e.g. a rule off: min_sentence_dense=0)."""
    global GRID
    GRID = GRID[GRID[:, NAMES.index(name)] == float(value)]
    if not len(GRID):
        raise SystemExit(f"{value} is not on the grid of {name}")


def rates_on_grid(rows: list[dict], grid: np.ndarray | None = None) -> np.ndarray:
    """The declined share of ``rows`` (abstained, or hedged as index.answers.hedging.decide would
    with those thresholds) at every point of ``grid``."""
    grid = GRID if grid is None else grid
    if not rows:
        return np.zeros(len(grid))
    if len(grid) > CHUNK:  # a grid point by row table of each rule: in pieces, to bound memory
        return np.concatenate([rates_on_grid(rows, grid[i : i + CHUNK]) for i in range(0, len(grid), CHUNK)])
    e = [r["evidence"] or {} for r in rows]
    abstained = np.array([r["abstained"] or not r["evidence"] for r in rows])
    cov = np.array([x.get("coverage", 1.0) for x in e])
    names = np.array([x.get("names_held", 1.0) for x in e])
    disagree = np.array([x.get("keyword", 1.0) < 1.0 for x in e])
    dense = np.array([x.get("dense", 1.0) for x in e])
    stem_only = np.array([bool(x.get("rarest_stem_only")) for x in e])
    timed = np.array([x.get("period_after_days") is not None for x in e])
    old_outside = np.array([bool(x.get("outside_period")) for x in e]) & ~timed  # dumps without distances
    before = np.array([x.get("period_before_days") if x.get("period_before_days") is not None else -1e9 for x in e])
    after = np.array([x.get("period_after_days") if x.get("period_after_days") is not None else -1e9 for x in e])
    sentence = np.array([x.get("sentence_dense") if x.get("sentence_dense") is not None else 1.0 for x in e])
    age = np.array([x["recent_age_days"] if x.get("recent_age_days") is not None else -1.0 for x in e])
    now = np.array([bool(x.get("speaks_of_now")) for x in e])
    stale = np.array([x["stale_days"] if x.get("stale_days") is not None else -1.0 for x in e])
    hedged = (
        (cov[None, :] < grid[:, :1])
        | (names[None, :] < grid[:, 1:2])
        | (dense[None, :] < grid[:, 2:3])
        | (disagree[None, :] & (dense[None, :] < grid[:, 3:4]))
        | (stem_only | old_outside | (before > 1.0))[None, :]
        | (age[None, :] > grid[:, 4:5])
        | (sentence[None, :] < grid[:, 5:6])
        | (after[None, :] > grid[:, 6:7])
        | (now[None, :] & (grid[:, 7:8] > 0) & (stale[None, :] > grid[:, 7:8]))
    )
    return (abstained[None, :] | hedged).mean(axis=1)


def choose(gone: list[dict], kept: list[dict], max_answerable: float) -> tuple[float, ...] | None:
    """The thresholds that decline the most of ``gone`` with at most ``max_answerable`` of ``kept``
    declined; among equals, the fewest answerable declined, then the lowest thresholds."""
    caught, false = rates_on_grid(gone), rates_on_grid(kept)
    allowed = false <= max_answerable + 1e-12
    if not allowed.any():
        return None
    # among equals: fewest answerable declined, then the loosest thresholds (lowest floors, oldest age)
    stale_off = np.where(GRID[:, 7] == 0, 1e9, GRID[:, 7])
    loosest = GRID[:, :4].sum(axis=1) + GRID[:, 5] - GRID[:, 4] / 1e6 - GRID[:, 6] / 1e6 - stale_off / 1e12
    order = np.lexsort((loosest, false, -caught))
    best = next(i for i in order if allowed[i])
    return tuple(float(v) for v in GRID[best])


def rate(rows: list[dict], t: tuple[float, ...]) -> float:
    return float(rates_on_grid(rows, np.array([t]))[0]) if rows else 0.0


def half(row_id: str) -> int:
    return zlib.crc32(row_id.encode()) % 2


def se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n else 0.0


def fit(gone_path: Path, kept_path: Path, max_answerable: float, boot: int, json_out: str | None) -> dict:
    gone = json.loads(gone_path.read_text())["rows"]
    kept = json.loads(kept_path.read_text())["rows"]
    tune_gone, test_gone = [r for r in gone if half(r["id"]) == 0], [r for r in gone if half(r["id"]) == 1]
    tune_kept, test_kept = [r for r in kept if half(r["id"]) == 0], [r for r in kept if half(r["id"]) == 1]
    chosen = choose(tune_gone, tune_kept, max_answerable)
    if chosen is None:
        raise SystemExit(f"no thresholds decline at most {max_answerable} of the answerable tuning questions")
    rng = random.Random(31)
    draws = []
    for _ in range(boot):
        g = [rng.choice(tune_gone) for _ in tune_gone]
        k = [rng.choice(tune_kept) for _ in tune_kept]
        pick = choose(g, k, max_answerable)
        if pick is not None:  # a resample where no thresholds meet the constraint says nothing about them
            draws.append(pick)
    names = NAMES
    out: dict = {"thresholds": {}, "tune": {}, "held_out": {}}
    for i, name in enumerate(names):
        values = [d[i] for d in draws]
        mean = sum(values) / len(values) if values else chosen[i]
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        picked = {str(v): values.count(v) for v in sorted(set(values))}
        out["thresholds"][name] = {"value": chosen[i], "bootstrap_se": round(sd, 4), "bootstrap_picks": picked}
        print(f"  {name:14s} {chosen[i]:g}  (bootstrap SE {sd:.3f} over {len(draws)} resamples; picks {picked})")
    for label, g, k in (("tune", tune_gone, tune_kept), ("held_out", test_gone, test_kept)):
        for name, rows in (("unanswerable", g), ("answerable", k)):
            p = rate(rows, chosen)
            abstained = sum(r["abstained"] for r in rows) / len(rows) if rows else 0.0
            out[label][name] = {"n": len(rows), "declined": round(p, 4), "se": round(se(p, len(rows)), 4)}
            out[label][name]["abstained"] = round(abstained, 4)
            print(
                f"  {label:8s} {name:12s} n={len(rows):4d} abstained or hedged {p:.3f} ± {se(p, len(rows)):.3f}"
                f" (abstained alone {abstained:.3f})"
            )
    if json_out:
        Path(json_out).write_text(json.dumps(out, indent=2))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("questions", type=Path)
    d.add_argument("out", type=Path)
    d.add_argument("--config", default=None)
    f = sub.add_parser("fit")
    f.add_argument("unanswerable", type=Path)
    f.add_argument("answerable", type=Path)
    f.add_argument("--max-answerable", type=float, default=0.05, help="declined share allowed on answerable")
    f.add_argument("--bootstrap", type=int, default=100)
    f.add_argument("--json", default=None)
    f.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE", help="hold a threshold (e.g. off)")
    args = parser.parse_args(argv)
    if args.cmd == "dump":
        dump(args.questions, args.out, args.config)
    else:
        for held in args.fix:
            fix_threshold(*held.split("="))
        fit(args.unanswerable, args.answerable, args.max_answerable, args.bootstrap, args.json)


if __name__ == "__main__":
    main()
