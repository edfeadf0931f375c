#!/usr/bin/env python3
"""The archive on SQLite and on PostgreSQL, side by side in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_archive_backends.py [--quick] [--model]
        [--pg-url URL] [--queries N] [--json PATH]

For each backend, in this order: a fresh data dir, the newsroom archive (../shared/eval, served on
loopback; ``--quick``: five of its feeds) imported from its OPML and ingested by ``indexing.ingest(complete=True)``
(the whole pipeline: fetch, parse, extract, dedupe, write, embed into an embedded Chroma); then
``Newsdesk.retriever.search`` for the first N dev questions (hybrid: dense + keyword + date filters), the
keyword half alone (FTS5 bm25 on SQLite, tsvector ts_rank on PostgreSQL) and ``latest``.

The embedder is the deterministic hash embedder unless ``--model`` (the real all-MiniLM-L6-v2):
the model costs the same on both backends and would hide the archive's share of the ingest (with
``--model`` the ingest takes ~10 minutes per backend here). Query embeddings are computed once
before the timed searches, so the latencies are the archive's and the index's.

PostgreSQL: ``--pg-url`` (a database on a running server), else a throwaway cluster from the
machine's PostgreSQL binaries (tests/support/postgres.py) with fsync on (PostgreSQL's defaults),
as a deployment would run it; SQLite runs as newsdesk runs it (WAL, synchronous=NORMAL). The
server's CPU time is not in this process's CPU column.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests"))
from _common import (  # noqa: E402
    EvalServer,
    Run,
    add_eval_feeds,
    base_parser,
    bench_dir,
    eval_config,
    load_questions,
    percentiles,
)

QUICK_FEEDS = ["left-voice-2026", "the-week-2022", "usa-today-2012", "usa-today-2013", "usa-today-2014"]


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class MemoEmbedder:
    """The configured embedder with a memo of query vectors (each query embedded once, untimed)."""

    def __init__(self, inner):
        self.inner, self.memo = inner, {}
        self.name = getattr(inner, "name", "")
        self.dimension = getattr(inner, "dimension", None)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts, batch_size: int = 64):
        import numpy as np

        key = tuple(texts)
        if len(texts) <= 2 and key in self.memo:
            return self.memo[key]
        out = self.inner.encode(texts, batch_size)
        if len(texts) <= 2:
            self.memo[key] = np.array(out, copy=True)
        return out


def run_backend(backend: str, url: str, args, questions: list[str], base: str) -> dict:
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder, load_embedder

    data_dir = bench_dir(f"backends-{backend}")
    config = eval_config(data_dir, **({} if args.model else {"model": "hash-embedder-256"}))
    if backend == "postgresql":
        config = config.replace(archive=dataclasses.replace(config.archive, url=url))
    embedder = MemoEmbedder(load_embedder(config.embedding, data_dir / "models") if args.model else HashEmbedder())
    desk = Newsdesk(config, embedder=embedder)
    out: dict = {"backend": backend, "data_dir": str(data_dir)}
    try:
        add_eval_feeds(desk, base, args.quick, QUICK_FEEDS if args.quick else None)
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        report = desk.indexing.ingest(complete=True)
        wall = time.perf_counter() - t0
        counts = desk.archive.counts()
        out |= {
            "ingest_seconds": wall,
            "ingest_cpu_seconds": cpu_seconds() - cpu0,
            "articles": counts["articles"],
            "passages": counts["passages"],
            "articles_per_s": counts["articles"] / wall,
            "passages_per_s": counts["passages"] / wall,
            "failed_feeds": report.feeds_failed,
        }
        t0 = time.perf_counter()
        report = desk.indexing.ingest(complete=True)  # unchanged feeds: conditional GETs, nothing written
        out["reingest_seconds"] = time.perf_counter() - t0

        for q in questions:  # embed every query once, untimed; warm the caches
            desk.retriever.search(q, limit=10)
        timings: dict[str, list[float]] = {"search": [], "keyword": [], "latest": []}
        for q in questions:
            t0 = time.perf_counter()
            desk.retriever.search(q, limit=10)
            t1 = time.perf_counter()
            desk.archive.keyword_search(q, limit=50, since_ts=None, until_ts=None)
            t2 = time.perf_counter()
            desk.reading.latest(limit=10)
            t3 = time.perf_counter()
            timings["search"].append((t1 - t0) * 1000)
            timings["keyword"].append((t2 - t1) * 1000)
            timings["latest"].append((t3 - t2) * 1000)
        out["ms"] = {k: percentiles(v) for k, v in timings.items()}
    finally:
        desk.close()
    return out


def main(argv=None) -> dict:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="store_true", help="ingest and search with the real model (slow)")
    parser.add_argument("--pg-url", default="", help="a PostgreSQL database to use (default: a throwaway cluster)")
    parser.add_argument("--queries", type=int, default=0, help="dev questions searched (default 300; --quick 100)")
    args = parser.parse_args(argv)
    run = Run("bench_archive_backends", args)
    questions = [q["question"] for q in load_questions(limit=args.queries or (100 if args.quick else 300))]

    cluster = None
    url = args.pg_url
    if not url:
        from support.postgres import start_cluster

        cluster = start_cluster(durable=True)
        if isinstance(cluster, str):
            raise SystemExit(f"no PostgreSQL for the benchmark: {cluster} (or give --pg-url)")
        url = cluster.create_database("bench")
    try:
        with EvalServer() as server:
            results = {b: run_backend(b, url, args, questions, server.base) for b in ("sqlite", "postgresql")}
    finally:
        if cluster is not None:
            cluster.stop()

    s, p = results["sqlite"], results["postgresql"]
    rows = [
        ["articles / passages", f"{s['articles']:,} / {s['passages']:,}", f"{p['articles']:,} / {p['passages']:,}"],
        ["ingest wall (s)", s["ingest_seconds"], p["ingest_seconds"]],
        ["ingest CPU of this process (s)", s["ingest_cpu_seconds"], p["ingest_cpu_seconds"]],
        ["passages/s", s["passages_per_s"], p["passages_per_s"]],
        ["articles/s", s["articles_per_s"], p["articles_per_s"]],
        ["re-ingest, unchanged feeds (s)", s["reingest_seconds"], p["reingest_seconds"]],
    ]
    for kind in ("search", "keyword", "latest"):
        for pct in ("p50", "p95"):
            rows.append([f"{kind} {pct} (ms)", s["ms"][kind][pct], p["ms"][kind][pct]])
    embedder = "all-MiniLM-L6-v2" if args.model else "hash embedder (no model cost)"
    run.table(
        f"bench_archive_backends: the newsroom archive, {len(questions)} queries, {embedder}",
        ["measure", "SQLite", "PostgreSQL"],
        rows,
    )
    run.results = {"sqlite": s, "postgresql": p, "queries": len(questions), "embedder": embedder}
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
