"""What following another process's writes costs a long-lived process on the embedded index:
``VectorStore.follow`` opens the Chroma directory anew (chromadb keeps the HNSW index in the
memory of the process that opened it), and the first query after it loads the collection's HNSW
from disk. Measured on a collection of random 384-dimension vectors, against the same query on
a client that is already open.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_reopen.py [--quick] [--sizes 5000,20000]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._common import Run, base_parser, bench_dir  # noqa: E402
from index.config import IndexConfig  # noqa: E402
from index.vectors.chroma import VectorStore  # noqa: E402

DIM = 384


def build(path: Path, n: int) -> float:
    store = VectorStore(IndexConfig(), path, "bench-random", DIM)
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for start in range(0, n, 2048):
        count = min(2048, n - start)
        vectors = rng.standard_normal((count, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = [f"p{start + i}" for i in range(count)]
        store.upsert(ids, vectors, [{"article_id": start + i} for i in range(count)])
    return time.perf_counter() - started


def measure(path: Path, rounds: int) -> dict:
    store = VectorStore(IndexConfig(), path, "bench-random", DIM)
    query = np.ones((1, DIM), dtype=np.float32)
    store.nearest(query, 10, metadata=False)  # warm: the HNSW is loaded
    warm = []
    for _ in range(rounds):
        started = time.perf_counter()
        store.nearest(query, 10, metadata=False)
        warm.append(time.perf_counter() - started)
    reopened = []
    store.follow("g0")
    for i in range(rounds):
        started = time.perf_counter()
        store.follow(f"g{i + 1}")  # another process moved the generation
        store.nearest(query, 10, metadata=False)
        reopened.append(time.perf_counter() - started)
    assert store.reopened == rounds
    return {"warm_query_ms": statistics.median(warm) * 1000, "reopen_and_query_ms": statistics.median(reopened) * 1000}


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None, help="collection sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("2000,10000" if args.quick else "10000,50000")).split(",")]
    run = Run("bench_reopen", args)
    rows = []
    for n in sizes:
        path = bench_dir(f"reopen-{n}")
        try:
            built = build(path / "chroma", n)
            got = measure(path / "chroma", args.rounds)
        finally:
            shutil.rmtree(path, ignore_errors=True)
        run.results[str(n)] = got | {"build_seconds": built}
        rows.append([n, f"{got['warm_query_ms']:.2f}", f"{got['reopen_and_query_ms']:.1f}"])
    run.table(
        "embedded index: a query on an open client vs reopen + first query (median ms)",
        ["vectors", "open client", "reopened"],
        rows,
        note="paid once per change of the index generation by another process, not per search",
    )
    run.finish()


if __name__ == "__main__":
    main()
