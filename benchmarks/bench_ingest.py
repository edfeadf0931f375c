#!/usr/bin/env python3
"""Ingest throughput: the whole pipeline against the bare embedding model, then a re-ingest.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_ingest.py [--quick] [--keep] [--data-dir DIR] [--json PATH]

1. Serves ../shared/eval on loopback, imports its OPML into a fresh data dir (``--quick``: only
   left-voice-2026, usa-today-2012..2014 and the-week-2022) and times ``indexing.ingest(complete=True)``.
2. In the same process, with the same loaded model, times the bare ``embedder.encode(texts,
   batch_size)`` over exactly the passage inputs the pipeline embedded (``passage_input(p)`` for
   every passage, in the archive's order, cut into the same encode calls the pipeline made).
   Target: pipeline passages/s >= 0.85 x bare passages/s.
3. Ingests the unchanged archive again (conditional GETs answer 304). Target: >= 50x faster.

The pipeline's time is broken down by wrapping (in this process only) the embedder, the vector
store, the archive writer and the feed workers with timers, so a shortfall can be explained.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    EvalServer,
    Run,
    Timer,
    add_eval_feeds,
    base_parser,
    bench_dir,
    eval_config,
    proc_status,
    verdict,
)

PIPELINE_TARGET = 0.85
REINGEST_TARGET = 50.0


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def build(args, data_dir: Path, run: Run | None = None) -> dict:
    """Fresh data dir -> ingested archive. Returns the measurements (used by bench_query too)."""
    import torch

    import index.ingest.pipeline as ingest_mod
    from index.ingest.indexing import EMBED_BATCH, passage_input
    from index.service import Newsdesk

    out: dict = {"data_dir": str(data_dir), "torch_threads": torch.get_num_threads(), "embed_call_rows": EMBED_BATCH}
    with EvalServer() as server:
        config = eval_config(data_dir, **({"backend": args.backend} if getattr(args, "backend", None) else {}))
        out["backend"] = config.embedding.backend
        t_wall = time.perf_counter()
        desk = Newsdesk(config)
        feeds = add_eval_feeds(desk, server.base, args.quick, getattr(args, "feeds", None))
        t0 = time.perf_counter()
        embedder = desk.parts.embedder_or_load()
        out["model_load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store = desk.parts.store_or_open()
        out["store_open_s"] = time.perf_counter() - t0
        embedder.encode(["warm-up sentence for the model"] * 8, config.embedding.batch_size)  # first-call costs

        # timers around the pipeline's parts (this process only; index/ is not modified)
        t_encode, t_tokens, t_upsert, t_mark, t_write, t_feed = (Timer() for _ in range(6))
        calls: list[list[str]] = []
        real_encode = embedder.encode

        def recording_encode(texts, batch_size=64):
            calls.append(list(texts))
            return real_encode(texts, batch_size)

        embedder.encode = t_encode.wrap(recording_encode)
        embedder.count_tokens = t_tokens.wrap(embedder.count_tokens)
        store.upsert = t_upsert.wrap(store.upsert)
        desk.archive.mark_embedded = t_mark.wrap(desk.archive.mark_embedded)
        Pipeline = ingest_mod.Pipeline
        orig_write, orig_feed = Pipeline._write, Pipeline._process_feed
        Pipeline._write = t_write.wrap(orig_write)
        Pipeline._process_feed = t_feed.wrap(orig_feed)
        cpu0 = cpu_seconds()
        try:
            report = desk.indexing.ingest(complete=True)
        finally:
            Pipeline._write, Pipeline._process_feed = orig_write, orig_feed
            embedder.encode = real_encode
        cpu_ingest = cpu_seconds() - cpu0
        out["rss_after_ingest_mib"] = proc_status()  # before the bare run, so VmHWM is the ingest's peak
        out["wall_with_model_load_s"] = time.perf_counter() - t_wall
        out["report"] = report.to_dict()
        out["feeds"] = feeds
        n = report.passages_embedded
        out["pipeline_s"] = report.seconds
        out["pipeline_passages"] = n
        out["pipeline_pps"] = n / report.seconds if report.seconds else None
        out["pipeline_cpu_s"] = cpu_ingest
        out["breakdown_s"] = {
            "encode (model, writer thread)": t_encode.seconds,
            "count_tokens (chunking)": t_tokens.seconds,
            "chroma upsert": t_upsert.seconds,
            "mark_embedded": t_mark.seconds,
            "archive writes (_write, incl. chunking)": t_write.seconds,
            "feed workers (fetch+parse+extract, summed over threads)": t_feed.seconds,
        }
        out["encode_calls"] = [len(c) for c in calls]
        counts = desk.archive.counts()
        out["counts"] = counts

        # the bare model over exactly what was embedded
        passages = [r for r in _all_passages(desk.archive)]
        texts = [passage_input(p) for p in passages]
        recorded = [t for c in calls for t in c]
        out["inputs_match_pipeline"] = sorted(texts) == sorted(recorded)
        out["inputs_same_order"] = texts == recorded
        sizes = (
            out["encode_calls"]
            if sum(out["encode_calls"]) == len(texts)
            else [EMBED_BATCH] * (len(texts) // EMBED_BATCH)
            + ([len(texts) % EMBED_BATCH] if len(texts) % EMBED_BATCH else [])
        )
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        start = 0
        for size in sizes:
            real_encode(texts[start : start + size], config.embedding.batch_size)
            start += size
        out["bare_s"] = time.perf_counter() - t0
        out["bare_cpu_s"] = cpu_seconds() - cpu0
        out["bare_passages"] = len(texts)
        out["bare_pps"] = len(texts) / out["bare_s"] if out["bare_s"] else None
        out["bare_st_s"] = out["bare_st_pps"] = None
        if config.embedding.backend != "torch" and getattr(args, "bare_torch", False):
            # the ingest target's reference: sentence-transformers' own model.encode, same texts and calls
            from index.vectors.embedders import SentenceTransformerEmbedder

            st = SentenceTransformerEmbedder(config.embedding.model)
            st.encode(["warm-up sentence for the model"] * 8)
            t0 = time.perf_counter()
            start = 0
            for size in sizes:
                st.encode(texts[start : start + size], config.embedding.batch_size)
                start += size
            out["bare_st_s"] = time.perf_counter() - t0
            out["bare_st_pps"] = len(texts) / out["bare_st_s"]
            del st
        tokens = embedder.count_tokens(texts) if texts else []
        out["mean_tokens"] = sum(min(t, embedder.max_tokens) for t in tokens) / len(tokens) if tokens else 0
        out["ratio"] = out["pipeline_pps"] / out["bare_pps"] if out["pipeline_pps"] and out["bare_pps"] else None
        out["ratio_vs_sentence_transformers"] = (
            out["pipeline_pps"] / out["bare_st_pps"] if out["pipeline_pps"] and out["bare_st_pps"] else None
        )
        # less sensitive to other processes: passages per CPU-second of this process
        out["cpu_ratio"] = out["bare_cpu_s"] / out["pipeline_cpu_s"] if out["pipeline_cpu_s"] else None

        # the unchanged archive again: conditional GETs, nothing to embed
        t0 = time.perf_counter()
        second = desk.indexing.ingest(complete=True)
        out["second_wall_s"] = time.perf_counter() - t0
        out["second_report"] = second.to_dict()
        out["second_s"] = second.seconds
        out["reingest_ratio"] = report.seconds / second.seconds if second.seconds else None
        out["rss_mib"] = proc_status()
        desk.close()
    return out


def _all_passages(archive):
    from index.models import PassageRow

    rows = archive.db.execute(
        "SELECT id, article_id, seq, title, text, published_ts, outlet FROM passages ORDER BY article_id, seq"
    ).fetchall()
    return [PassageRow(r[0], r[1], r[2], r[3] or "", r[4], r[5], r[6] or "") for r in rows]


def main(argv=None) -> dict:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", help="where to build the archive (default /tmp/bench-ingest-<stamp>; emptied first)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir afterwards (for bench_query.py)")
    parser.add_argument("--feeds", nargs="*", help="only these feeds (names like cnn-2022)")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads(N) first (default: torch's choice)")
    parser.add_argument("--backend", choices=["torch", "onnx"], help="embedding.backend (default: the config default)")
    parser.add_argument(
        "--bare-torch",
        action="store_true",
        help="with --backend onnx: also time sentence-transformers' model.encode on the same texts",
    )
    args = parser.parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    run = Run("bench_ingest", args)
    data_dir = bench_dir("ingest-" + ("quick" if args.quick else "full"), args.data_dir)
    try:
        r = build(args, data_dir, run)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
    run.results = r
    rep = r["report"]
    run.table(
        f"Ingest of the evaluation archive ({'quick subset' if args.quick else 'all feeds'}; data dir {data_dir}"
        f"{'' if args.keep else ', removed'})",
        ["measure", "value"],
        [
            ["feeds ok / failed", f"{rep['feeds_ok']} / {rep['feeds_failed']}"],
            ["articles new", rep["articles_new"]],
            ["passages embedded", r["pipeline_passages"]],
            ["mean tokens per passage input", r["mean_tokens"]],
            ["model load (s)", r["model_load_s"]],
            ["pipeline time, report.seconds (s)", r["pipeline_s"]],
            ["wall time incl. model load (s)", r["wall_with_model_load_s"]],
            ["process CPU during pipeline (s)", r["pipeline_cpu_s"]],
            [
                "VmRSS / VmHWM after the ingest (MiB)",
                f"{r['rss_after_ingest_mib'].get('VmRSS', 0):.0f} / {r['rss_after_ingest_mib'].get('VmHWM', 0):.0f}",
            ],
            ["torch threads", r["torch_threads"]],
        ],
    )
    run.table(
        "Embedding throughput: pipeline vs bare model (same process, same inputs, same encode calls)",
        ["path", "passages", "seconds", "passages/s", "CPU s"],
        [
            [
                "Newsdesk.indexing.ingest(complete=True) (fetch+extract+write+embed)",
                r["pipeline_passages"],
                r["pipeline_s"],
                r["pipeline_pps"],
                r["pipeline_cpu_s"],
            ],
            [
                f"bare embedder.encode ({r['backend']}, batch_size {eval_config(data_dir).embedding.batch_size})",
                r["bare_passages"],
                r["bare_s"],
                r["bare_pps"],
                r["bare_cpu_s"],
            ],
        ]
        + (
            [
                [
                    "bare sentence-transformers model.encode (torch)",
                    r["bare_passages"],
                    r["bare_st_s"],
                    r["bare_st_pps"],
                    None,
                ]
            ]
            if r["bare_st_s"]
            else []
        ),
        note=f"ratio pipeline/bare = {r['ratio']:.3f} (target >= {PIPELINE_TARGET}: "
        f"{verdict(r['ratio'] is not None and r['ratio'] >= PIPELINE_TARGET)}); per CPU-second of this "
        f"process {r['cpu_ratio']:.3f}; inputs identical: "
        f"{r['inputs_match_pipeline']}, same order: {r['inputs_same_order']}; "
        f"{len(r['encode_calls'])} encode calls"
        + (
            f"; pipeline / bare sentence-transformers = {r['ratio_vs_sentence_transformers']:.3f}"
            if r["ratio_vs_sentence_transformers"]
            else ""
        ),
    )
    run.table(
        "Where the pipeline's time went (wall seconds inside each part; workers overlap the writer)",
        ["part", "seconds", "% of pipeline"],
        [[k, v, 100.0 * v / r["pipeline_s"] if r["pipeline_s"] else None] for k, v in r["breakdown_s"].items()],
    )
    sec = r["second_report"]
    run.table(
        "Re-ingest of the unchanged archive (conditional GETs)",
        ["measure", "value"],
        [
            ["feeds not modified (304)", f"{sec['feeds_not_modified']} of {sec['feeds_ok'] + sec['feeds_failed']}"],
            ["articles new / updated", f"{sec['articles_new']} / {sec['articles_updated']}"],
            ["passages embedded", sec["passages_embedded"]],
            ["second run, report.seconds (s)", r["second_s"]],
            ["second run, wall (s)", r["second_wall_s"]],
            ["first / second", r["reingest_ratio"]],
        ],
        note=f"target first/second >= {REINGEST_TARGET:.0f}x: "
        f"{verdict(r['reingest_ratio'] is not None and r['reingest_ratio'] >= REINGEST_TARGET)}",
    )
    run.finish()
    return r


if __name__ == "__main__":
    main()
