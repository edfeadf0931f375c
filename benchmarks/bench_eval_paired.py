"""Paired evaluation of two indexes: `newsdesk eval`'s own scoring, question by question.

``run`` scores every question of a file on one data directory (index.evaluate.evaluate on each
question alone, so the numbers are exactly ``newsdesk eval``'s) and writes the per-question rows;
``compare`` pairs two such files by question id: each metric's mean on both sides, the difference
and its paired standard error (sd of the per-question differences / sqrt(n)).

    NEWSDESK_DATA_DIR=/tmp/copy python benchmarks/bench_eval_paired.py run questions-dev.jsonl rows.json \
        [--config int8.toml]
    python benchmarks/bench_eval_paired.py compare base-rows.json int8-rows.json [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import _common  # noqa: F401 - sys.path and the offline environment

METRICS = ("hits1", "hits5", "hits10", "mrr10", "mc_accuracy", "choice_in_answer", "gold_cited", "abstention_rate")


def run(questions_path: Path, out: Path, config_path: str | None) -> None:
    from index.config import load_config
    from index.evaluate import evaluate
    from index.service import Newsdesk

    config = load_config(config_path)
    desk = Newsdesk(config)
    rows = [json.loads(line) for line in questions_path.read_text().splitlines() if line.strip()]
    started = time.perf_counter()
    scored = []
    for q in rows:
        report = evaluate(desk, [q])
        scored.append({"id": q["id"]} | {m: report.get(m) for m in METRICS})
    seconds = time.perf_counter() - started
    out.write_text(
        json.dumps(
            {"questions": str(questions_path), "model": desk.parts.model_name, "seconds": seconds, "rows": scored}
        )
    )
    means = {m: round(sum(float(r[m] or 0) for r in scored) / len(scored), 4) for m in METRICS}
    print(f"{questions_path.name}: {len(scored)} questions, model {desk.parts.model_name}, {seconds:.0f} s: {means}")


def compare(base_path: Path, new_path: Path, json_out: str | None) -> dict:
    base, new = json.loads(base_path.read_text()), json.loads(new_path.read_text())
    a = {r["id"]: r for r in base["rows"]}
    b = {r["id"]: r for r in new["rows"]}
    ids = [i for i in a if i in b]
    out: dict = {"base": str(base_path), "new": str(new_path), "n": len(ids), "metrics": {}}
    print(f"{base['model']} ({base_path.name}) vs {new['model']} ({new_path.name}), {len(ids)} paired questions")
    for m in METRICS:
        x = [float(a[i][m] or 0) for i in ids]
        y = [float(b[i][m] or 0) for i in ids]
        diff = [q - p for p, q in zip(x, y, strict=True)]
        n = len(diff)
        mean = sum(diff) / n
        sd = math.sqrt(sum((d - mean) ** 2 for d in diff) / (n - 1)) if n > 1 else 0.0
        se = sd / math.sqrt(n) if n else 0.0
        changed = sum(1 for d in diff if d)
        out["metrics"][m] = {
            "base": sum(x) / n,
            "new": sum(y) / n,
            "delta_points": 100 * mean,
            "se_points": 100 * se,
            "questions_changed": changed,
        }
        print(
            f"  {m:18s} {100 * sum(x) / n:6.2f} -> {100 * sum(y) / n:6.2f}  "
            f"delta {100 * mean:+5.2f} ± {100 * se:4.2f} points (paired SE; {changed} questions differ)"
        )
    if json_out:
        Path(json_out).write_text(json.dumps(out, indent=2))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("questions", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--config", default=None)
    c = sub.add_parser("compare")
    c.add_argument("base", type=Path)
    c.add_argument("new", type=Path)
    c.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.cmd == "run":
        run(args.questions, args.out, args.config)
    else:
        compare(args.base, args.new, args.json)


if __name__ == "__main__":
    sys.exit(main())
