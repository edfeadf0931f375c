#!/usr/bin/env python3
"""Standing questions and the question report over an ingested eval archive.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_watch.py --data-dir COPY_OF_AN_EVAL_INGEST \
        [--watches 50] [--limit 600] [--cosine 0.4,0.5,0.6]

Never point it at an archive you keep: it adds watches and recorded questions to it.

* ``add``: ``add_watch`` per question (one ask + the insert);
* ``check, nothing new``: ``check_watches`` when no newer coverage is embedded (one query);
* ``re-check``: every watch's watermark moved back by one article so all are re-asked against an
  unchanged archive — how long a check costs per watch, and how many notices it (wrongly) claims:
  the answers did not change, so anything above 0 is a false notice;
* ``report``: ``--limit`` dev questions ("later" wording) recorded as unanswered, then
  ``question_report`` (discovery off): groups, their sizes, and a proxy of their purity — the share
  of co-grouped question pairs whose gold articles' titles share a content word, against the same
  share over random pairs.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EVAL_DIR, base_parser, eval_config  # noqa: E402

from index.following.feedback import group_questions  # noqa: E402
from index.models import Answer  # noqa: E402
from index.service import Newsdesk  # noqa: E402
from index.text.words import content_words  # noqa: E402


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--watches", type=int, default=50)
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--cosine", default="0.4,0.5,0.6", help="grouping thresholds to compare")
    args = parser.parse_args()
    data_dir = Path(args.data_dir)
    questions = [json.loads(x) for x in (EVAL_DIR / "questions-dev-later.jsonl").read_text().splitlines() if x.strip()]
    desk = Newsdesk(eval_config(data_dir))
    wipe = sqlite3.connect(str(desk.config.archive_path))  # a copy: start from no watches and no questions
    wipe.executescript("DELETE FROM watches; DELETE FROM watch_notices; DELETE FROM asked; DELETE FROM answer_votes;")
    wipe.close()
    desk.reading.ask(questions[0]["question"])  # warm-up: model, mirror, neighbour lists
    out: dict = {}

    started = time.perf_counter()
    for q in questions[: args.watches]:
        desk.watches.add(q["question"][:300])
    out["add_ms_per_watch"] = 1000 * (time.perf_counter() - started) / args.watches

    started = time.perf_counter()
    assert desk.watches.check() == []
    out["check_nothing_new_ms"] = 1000 * (time.perf_counter() - started)

    conn = sqlite3.connect(str(desk.config.archive_path))
    conn.execute("UPDATE watches SET seen_article_id = seen_article_id - 1")
    conn.commit()
    started = time.perf_counter()
    changes = desk.watches.check()
    out["recheck_ms_per_watch"] = 1000 * (time.perf_counter() - started) / args.watches
    out["false_notices"] = len(changes)

    sample = questions[: args.limit]
    started = time.perf_counter()
    for q in sample:
        desk.feedback.record(Answer(q["question"], "", [], True), as_of=None)
    out["record_ms_per_question"] = 1000 * (time.perf_counter() - started) / len(sample)
    started = time.perf_counter()
    groups = desk.feedback.report(find_feeds=False)
    out["report_ms"] = 1000 * (time.perf_counter() - started)
    # the report lists the biggest groups; the purity proxy looks at all of them
    items = desk.archive.questions_needing_coverage(None, True, limit=len(sample))
    gold = {q["question"]: q["gold"][0] for q in sample}
    titles = {}
    for path in set(gold.values()):
        row = conn.execute("SELECT title FROM articles WHERE url LIKE ?", ["%" + path]).fetchone()
        titles[path] = content_words(row[0]) if row else set()

    def related(a: str, b: str) -> bool:
        return gold[a] == gold[b] or bool(titles[gold[a]] & titles[gold[b]])

    rng = random.Random(7)
    names = [q["question"] for q in sample]
    rand = [tuple(rng.sample(names, 2)) for _ in range(5000)]
    out["random_pair_related_share"] = sum(related(a, b) for a, b in rand) / len(rand)
    for threshold in [float(x) for x in args.cosine.split(",")]:
        grouped = group_questions(items, threshold=threshold)
        pairs = [(x["question"], y["question"]) for g in grouped for i, x in enumerate(g) for y in g[i + 1 :]]
        sizes = [len(g) for g in grouped]
        out[f"cosine {threshold}"] = {
            "groups": len(grouped),
            "grouped_questions": sum(n for n in sizes if n > 1),
            "largest": max(sizes),
            "pairs": len(pairs),
            "pair_related_share": round(sum(related(a, b) for a, b in pairs) / max(1, len(pairs)), 3),
        }
    out["report_groups"] = [(g.label, len(g.questions)) for g in groups[:5]]
    for k, v in out.items():
        print(f"{k}: {round(v, 3) if isinstance(v, float) else v}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    desk.close()


if __name__ == "__main__":
    main()
