"""Embedding throughput: newsdesk's embedders against bare sentence-transformers.

Over real passages of the eval archive (an ingested data dir: ``--data DIR`` or
$NEWSDESK_EVAL_DATA, e.g. the data dir `newsdesk ingest` filled from ../shared/eval; its archive.db
is copied first, the original is never written), in one run:

- passages/s: bare ``SentenceTransformer.encode`` of the passage inputs (header + text, as the
  indexer embeds them) vs newsdesk's embedder for each backend: torch, onnx fp32, onnx int8, with
  and without length bucketing, at 1 and 2 intra-op threads;
- corpus words/s: bare ``encode`` of the raw article texts (whole articles, truncated by the model
  as it would) vs newsdesk's passage path (every passage of the same articles, header and overlap
  included), both as article words per second;
- question latency p50/p95: one text per call, per backend (dev questions when present).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_embed_throughput.py [--n 2000] [--json out.json]

Skips (exit 0) when the data dir is absent.
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from pathlib import Path

from _common import EVAL_DIR, Run, base_parser, bench_dir, load_questions, percentiles  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    import os

    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="passages (whole articles until at least this many)")
    parser.add_argument("--data", default=os.environ.get("NEWSDESK_EVAL_DATA", ""))
    parser.add_argument("--questions", type=int, default=60, help="questions timed per backend")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--only", nargs="*", help="run only these rows (names as printed)")
    args = parser.parse_args(argv)
    data = Path(args.data) if args.data else None
    if data is None or not (data / "archive.db").exists():
        print(f"skipped: no ingested eval archive at {data} (set --data or NEWSDESK_EVAL_DATA)")
        return 0
    n = 300 if args.quick else args.n
    run = Run("bench_embed_throughput", args)

    import numpy as np

    from index.archive import Archive
    from index.ingest.indexing import passage_input
    from index.vectors.embedders import OnnxEmbedder, SentenceTransformerEmbedder, resolve_model_path

    work = bench_dir("embed")
    shutil.copy(data / "archive.db", work / "archive.db")
    (work / "models").mkdir()
    for onnx in (data / "models").glob("*.onnx") if (data / "models").is_dir() else []:
        shutil.copy(onnx, work / "models" / onnx.name)  # the fp32 export (and int8) reused, not redone
    archive = Archive(work / "archive.db")

    # whole articles, shuffled with a fixed seed, until there are n passages
    rows = archive.db.query("SELECT DISTINCT article_id FROM passages ORDER BY article_id")
    article_ids = [r["article_id"] for r in rows]
    random.Random(16).shuffle(article_ids)
    passages, articles = [], []
    for aid in article_ids:
        if len(passages) >= n:
            break
        passages += archive.article_passages(aid)
        articles.append(aid)
    texts = [passage_input(p) for p in passages]
    raw = [a.text for a in archive.articles_by_ids(articles).values()]
    words = sum(len(t.split()) for t in raw)
    passage_words = sum(len(t.split()) for t in texts)
    questions = [q["question"] for q in load_questions(limit=args.questions)] if EVAL_DIR.exists() else []
    questions = questions or [p.title for p in passages[: args.questions]]
    archive.close()
    print(
        f"{len(texts)} passages of {len(raw)} articles: {words:,} article words, {passage_words:,} passage words "
        f"({passage_words / max(words, 1):.2f}x: headers and overlap), {len(questions)} questions",
        flush=True,
    )

    from sentence_transformers import SentenceTransformer

    bare_model = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu", local_files_only=True)

    def bare(items):
        return bare_model.encode(items, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False)

    reference = None
    results: dict = {}
    table = []

    def measure(name: str, encode, one=None):
        nonlocal reference
        if args.only and name not in args.only and not name.startswith("bare"):
            return
        encode(texts[: args.batch_size])  # warm-up: first-call allocations
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - t0
        if reference is None:
            reference = vectors
        cos = (vectors * reference).sum(1)
        latency = []
        for q in questions if one else []:
            t = time.perf_counter()
            one(q)
            latency.append((time.perf_counter() - t) * 1000)
        lat = percentiles(latency, (50, 95)) if latency else {}
        results[name] = {
            "passages_per_s": len(texts) / seconds,
            "article_words_per_s": words / seconds,
            "seconds": seconds,
            "cosine_to_bare_min": float(cos.min()),
            "cosine_to_bare_mean": float(cos.mean()),
            "question_p50_ms": lat.get("p50"),
            "question_p95_ms": lat.get("p95"),
            "load1_at_start": round(load0, 2),
        }
        r = results[name]
        table.append(
            [
                name,
                r["passages_per_s"],
                r["article_words_per_s"],
                r["cosine_to_bare_min"],
                r["question_p50_ms"],
                r["question_p95_ms"],
                r["load1_at_start"],
            ]
        )
        print(f"  {name}: {r['passages_per_s']:.1f} passages/s, question p50 {r['question_p50_ms']} ms", flush=True)

    measure("bare encode (passages)", bare, lambda q: bare([q]))
    # the bare model over whole articles: fewer, longer texts, each cut at the model's 256 tokens
    t0 = time.perf_counter()
    bare(raw)
    seconds = time.perf_counter() - t0
    results["bare encode (raw articles)"] = {
        "articles_per_s": len(raw) / seconds,
        "article_words_per_s": words / seconds,
        "seconds": seconds,
    }
    table.append(["bare encode (raw articles)", None, words / seconds, None, None, None, round(os.getloadavg()[0], 2)])

    torch_embedder = SentenceTransformerEmbedder()
    measure("newsdesk torch", lambda t: torch_embedder.encode(t, args.batch_size), lambda q: torch_embedder.encode([q]))
    for quantized in (False, True):
        kind = "int8" if quantized else "fp32"
        for threads in (2, 1):
            embedder = OnnxEmbedder(cache_dir=work / "models", threads=threads, quantized=quantized)
            for bucketing in (True, False):
                if not bucketing and threads != 2:
                    continue
                embedder.bucketing = bucketing
                measure(
                    f"newsdesk onnx {kind}, {threads} threads{'' if bucketing else ', no bucketing'}",
                    lambda t, e=embedder: e.encode(t, args.batch_size),
                    (lambda q, e=embedder: e.encode([q])) if threads == 2 and bucketing else None,
                )

    run.table(
        f"Embedding throughput: {len(texts)} passages of {len(raw)} articles ({words:,} article words)",
        ["path", "passages/s", "article words/s", "cos to bare (min)", "question p50 ms", "p95 ms", "load1"],
        table,
        note="article words/s: the articles' own words per second of encoding (passages: header + overlap "
        "included; raw articles: truncated at 256 tokens by the model). Question latency: one text per call "
        "(onnx: its one-thread session).",
    )
    run.results = {
        "passages": len(texts),
        "articles": len(raw),
        "article_words": words,
        "passage_words": passage_words,
        "rows": results,
    }
    run.finish()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
