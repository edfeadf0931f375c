#!/usr/bin/env python3
"""Query latency: search and ask (extractive) over the dev questions, as asked (asked_at applied).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_query.py [--quick] [--data-dir DIR] [--limit N] [--json PATH]

``--data-dir`` names an archive built by bench_ingest.py (``--keep``); without it a quick one is
built first (the bench_ingest --quick feeds), and removed afterwards unless ``--keep``.
After a warm-up (model loaded, dense mirror filled, first-call costs paid), each question is run
with the query-embedding cache cold (it is cleared before every timed call), in this order:

* the query embedding alone (``embedder.encode([question])``),
* ``search`` (cold cache), then the same ``search`` again (warm cache: everything but the embedding),
* ``ask`` (cold cache), which is search + the extractive answerer.

Targets: search p50 <= 30 ms and p95 <= 100 ms; ask p50 <= 150 ms.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    EVAL_DIR,
    EvalServer,
    Run,
    Timer,
    add_eval_feeds,
    base_parser,
    bench_dir,
    eval_config,
    load_questions,
    percentiles,
    proc_status,
    verdict,
)

SEARCH_P50, SEARCH_P95, ASK_P50 = 30.0, 100.0, 150.0
WARMUP = [
    "What happened with the economy this week?",
    "Who won the election?",
    "Which company announced layoffs recently?",
    "What did the Supreme Court decide in June 2023?",
    "Where did the earthquake happen?",
    "What did the president say about inflation?",
]


def build_quick_archive(data_dir: Path, quick: bool = True) -> dict:
    from index.service import Newsdesk

    with EvalServer() as server:
        desk = Newsdesk(eval_config(data_dir))
        add_eval_feeds(desk, server.base, quick)
        report = desk.indexing.ingest(complete=True)
        desk.close()
    return report.to_dict()


def main(argv=None) -> dict:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="an existing data dir (from bench_ingest.py --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir this script builds")
    parser.add_argument("--limit", type=int, help="questions to run (default all 1,830; --quick 200)")
    parser.add_argument("--questions", default=str(EVAL_DIR / "questions-dev.jsonl"))
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads(N) first (default: torch's choice)")
    parser.add_argument("--backend", choices=["torch", "onnx"], help="embedding.backend (default: the config default)")
    parser.add_argument("--threads", type=int, help="embedding.threads for the onnx backend (default: the config's)")
    args = parser.parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    limit = args.limit or (200 if args.quick else None)
    run = Run("bench_query", args)

    built = None
    if args.data_dir:
        data_dir = Path(args.data_dir)
        if not (data_dir / "archive.db").exists():
            raise SystemExit(f"{data_dir} has no archive.db (build one with bench_ingest.py --keep)")
    else:
        data_dir = bench_dir("query-quick")
        print(f"building a quick archive in {data_dir} …", flush=True)
        t0 = time.perf_counter()
        built = build_quick_archive(data_dir)
        print(
            f"  built in {time.perf_counter() - t0:.0f} s: {built['articles_new']} articles, "
            f"{built['passages_embedded']} passages",
            flush=True,
        )
    try:
        results = measure(args, data_dir, limit, run)
    finally:
        if built is not None and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    results["built"] = built
    run.results = results
    run.finish()
    return results


def measure(args, data_dir: Path, limit: int | None, run: Run) -> dict:
    import index.search.retriever as retrieval_mod
    from index.service import Newsdesk

    questions = load_questions(Path(args.questions), limit)
    changes = {"backend": args.backend} if getattr(args, "backend", None) else {}
    if getattr(args, "threads", None) is not None:
        changes["threads"] = args.threads
    config = eval_config(data_dir, **changes)
    desk = Newsdesk(config)
    out: dict = {
        "data_dir": str(data_dir),
        "questions": len(questions),
        "counts": desk.archive.counts(),
        "backend": config.embedding.backend,
    }
    t0 = time.perf_counter()
    embedder = desk.parts.embedder_or_load()
    out["model_load_s"] = time.perf_counter() - t0
    import torch

    out["torch_threads"] = torch.get_num_threads()
    t0 = time.perf_counter()
    desk.retriever.refresh_mirror()
    out["mirror_load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for q in WARMUP:
        desk.retriever.search(q, as_of="2024-06-01")
        desk.reading.ask(q, as_of="2024-06-01")
    out["warmup_s"] = time.perf_counter() - t0
    out["rss_after_warmup_mib"] = proc_status()

    # timers around the parts of a search (instance/module attributes of this process only)
    retr = desk.retriever
    parts = {
        "query embedding": (embedder, "encode"),
        "time words (resolve_time)": (retrieval_mod, "resolve_time"),
        "dense: mirror mask": (retr.mirror, "mask"),
        "dense: mirror search": (retr.mirror, "search"),
        "keyword: FTS5 bm25": (desk.archive, "keyword_search"),
        "passage_meta": (desk.archive, "passage_meta"),
        "passages_by_ids": (desk.archive, "passages_by_ids"),
        "articles_by_ids": (desk.archive, "articles_by_ids"),
        "passage_counts": (desk.archive, "passage_counts"),
        "outlets (named-outlet check)": (desk.archive, "outlets"),
        "lexical coverage of the top 30": (retr, "_add_coverage"),
        "  of which document frequencies": (desk.archive, "document_frequency"),
        "group_stories": (retr, "group_stories"),
    }
    timers = {}
    for name, (obj, attr) in parts.items():
        timers[name] = Timer()
        setattr(obj, attr, timers[name].wrap(getattr(obj, attr)))
    answer_timer = Timer()
    desk.reading.answerer.answer = answer_timer.wrap(desk.reading.answerer.answer)

    lat = {"embed": [], "search_cold": [], "search_warm": [], "ask_cold": [], "answerer": []}
    part_totals = {name: 0.0 for name in parts}
    hits5 = 0
    abstained = 0
    for q in questions:
        text, as_of = q["question"], q["asked_at"]
        t0 = time.perf_counter()
        embedder.encode([text])
        lat["embed"].append((time.perf_counter() - t0) * 1000)

        retr._cache.clear()
        before = {n: t.seconds for n, t in timers.items()}
        t0 = time.perf_counter()
        result = desk.retriever.search(text, as_of=as_of, limit=10)
        lat["search_cold"].append((time.perf_counter() - t0) * 1000)
        for n, t in timers.items():
            part_totals[n] += t.seconds - before[n]
        gold = set(q.get("gold") or [])
        if any(_path(h.article.url) in gold for h in result.hits[:5]):
            hits5 += 1

        t0 = time.perf_counter()
        desk.retriever.search(text, as_of=as_of, limit=10)
        lat["search_warm"].append((time.perf_counter() - t0) * 1000)

        retr._cache.clear()
        a0 = answer_timer.seconds
        t0 = time.perf_counter()
        answer = desk.reading.ask(text, as_of=as_of)
        lat["ask_cold"].append((time.perf_counter() - t0) * 1000)
        lat["answerer"].append((answer_timer.seconds - a0) * 1000)
        abstained += answer.abstained
    n = len(questions)
    stats = {k: percentiles(v) for k, v in lat.items()}
    out["latency_ms"] = stats
    out["search_parts_mean_ms"] = {k: 1000 * v / n for k, v in part_totals.items()} if n else {}
    out["hits_at_5"] = hits5 / n if n else None
    out["abstained"] = abstained / n if n else None
    out["rss_end_mib"] = proc_status()
    desk.close()

    s, a, e, w = stats["search_cold"], stats["ask_cold"], stats["embed"], stats["search_warm"]
    search_ok = s["p50"] is not None and s["p50"] <= SEARCH_P50 and s["p95"] <= SEARCH_P95
    run.table(
        f"Query latency over {n} dev questions as asked (as_of = asked_at), archive of "
        f"{out['counts']['passages']:,} passages ({data_dir})",
        ["call", "p50 ms", "p95 ms", "p99 ms", "mean ms", "max ms", "target", "verdict"],
        [
            ["query embedding alone (encode 1 text)", e["p50"], e["p95"], e["p99"], e["mean"], e["max"], "", ""],
            [
                "search, cold query cache",
                s["p50"],
                s["p95"],
                s["p99"],
                s["mean"],
                s["max"],
                f"p50<={SEARCH_P50:.0f} p95<={SEARCH_P95:.0f}",
                verdict(search_ok),
            ],
            ["search, warm cache (no embedding)", w["p50"], w["p95"], w["p99"], w["mean"], w["max"], "", ""],
            [
                "ask (extractive), cold cache",
                a["p50"],
                a["p95"],
                a["p99"],
                a["mean"],
                a["max"],
                f"p50<={ASK_P50:.0f}",
                verdict(a["p50"] is not None and a["p50"] <= ASK_P50),
            ],
            [
                "  of which the answerer",
                stats["answerer"]["p50"],
                stats["answerer"]["p95"],
                stats["answerer"]["p99"],
                stats["answerer"]["mean"],
                stats["answerer"]["max"],
                "",
                "",
            ],
        ],
        note=(
            f"backend {out['backend']} (threads {config.embedding.threads or 'default'}); "
            f"torch threads {out['torch_threads']}; model load {out['model_load_s']:.1f} s, "
            f"mirror load {out['mirror_load_s']:.2f} s, warm-up "
            f"{out['warmup_s']:.1f} s; query embedding = {100 * e['p50'] / s['p50']:.0f}% of search p50; "
            f"sanity: gold in top 5 for {100 * (out['hits_at_5'] or 0):.1f}%, ask abstained "
            f"{100 * (out['abstained'] or 0):.1f}%"
        )
        if n
        else None,
    )
    run.table(
        "Where a cold search's time goes (mean ms per search)",
        ["part", "mean ms", "% of mean search"],
        [[k, v, 100 * v / s["mean"] if s["mean"] else None] for k, v in out["search_parts_mean_ms"].items()],
    )
    return out


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url or "").path


if __name__ == "__main__":
    main()
