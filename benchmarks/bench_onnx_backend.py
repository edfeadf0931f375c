"""newsdesk's own ONNX embedder against sentence-transformers' ONNX backend, side by side in one run.

Rows: torch (the reference vectors), newsdesk's ``OnnxEmbedder`` fp32 and int8 (``embedding.backend =
"onnx"`` / ``"onnx-int8"``), and sentence-transformers' ``SentenceTransformer(path, backend="onnx")``
fp32 and its ``export_dynamic_quantized_onnx_model`` int8. For each:

- question latency p50/p95: one short question per call, on one thread (~200 dev questions);
- batch throughput: passages/s over ~1,000 passages of ~200 words (eval articles), batch 32,
  on every core;
- cosine to the torch vectors (min / mean over questions and passages).

Latency and throughput are measured twice (two rounds), since the machine is shared; within a round
the rows are interleaved (each question, and each block of two batches, through every row in turn,
the order rotating), so a load spike hits every row alike. Nothing is downloaded: every model is
the packaged all-MiniLM-L6-v2, exported locally.

sentence-transformers' ONNX backend needs ``optimum-onnx[onnxruntime]``, whose only release requires
transformers < 4.58, while sentence-transformers 6 requires transformers >= 5: ``pip install
"sentence-transformers[onnx]"`` resolves to sentence-transformers 5.7 and transformers 4.57. The
library's side is therefore measured from an overlay holding exactly what pip resolves, leaving the
project's venv alone:

    .venv/bin/pip install --no-deps --target /tmp/st5 sentence-transformers==5.7.0 transformers==4.57.6 \\
        tokenizers==0.22.2 huggingface_hub==0.36.2 optimum==2.1.0 optimum-onnx==0.1.0
    PYTHONPATH=/tmp/st5 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_onnx_backend.py [--json out.json]

Without the overlay only newsdesk's rows run. ``--arena`` adds newsdesk's fp32 with onnxruntime's
CPU arena on in its batch session (a diagnostic: the setting behind the library's batch lead).
Skips (exit 0) when ../shared/eval is absent.
"""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path

from _common import EVAL_DIR, Run, base_parser, bench_dir, percentiles  # noqa: E402

WORDS_PER_PASSAGE = 200
TAG = re.compile(r"<[^>]{0,2000}>")  # bounded: a stray "<" never scans the whole page


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--arena",
        action="store_true",
        help="also newsdesk's fp32 with onnxruntime's CPU arena on in its batch session (off in newsdesk)",
    )
    args = parser.parse_args(argv)
    if not (EVAL_DIR / "questions-dev.jsonl").exists():
        print(f"skipped: no eval set at {EVAL_DIR}")
        return 0
    if args.quick:
        args.questions, args.passages, args.rounds = 40, 128, 1
    run = Run("bench_onnx_backend", args)

    import numpy as np

    questions, passages = load_texts(args.questions, args.passages)
    print(
        f"{len(questions)} questions ({np.mean([len(q.split()) for q in questions]):.0f} words), "
        f"{len(passages)} passages ({np.mean([len(p.split()) for p in passages]):.0f} words), "
        f"batch {args.batch_size}, {args.rounds} round(s)",
        flush=True,
    )
    work = bench_dir("onnx-backend")
    rows = build_rows(work, arena=args.arena)
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()), flush=True)

    reference = rows.pop("torch")
    ref_q = reference.encode_questions(questions)
    t0 = time.perf_counter()
    ref_p = reference.encode_batch(passages, args.batch_size)
    torch_rate = len(passages) / (time.perf_counter() - t0)

    results: dict[str, dict] = {"torch": {"passages_per_s": [torch_rate]}}
    for name, row in rows.items():
        row.encode_batch(passages[: args.batch_size], args.batch_size)  # warm-up: sessions, arenas
        results[name] = {"p50": [], "p95": [], "passages_per_s": []}
    names = list(rows)
    for round_no in range(args.rounds):
        # interleaved: every question, and every block of two batches, goes through each row in turn
        # (the order rotating), so a load spike on the shared machine hits every row alike
        latencies: dict[str, list[float]] = {n: [] for n in names}
        vectors: dict[str, list] = {n: [] for n in names}
        for i, text in enumerate(questions):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                t0 = time.perf_counter()
                vectors[name].append(rows[name].encode_questions([text]))
                latencies[name].append((time.perf_counter() - t0) * 1000)
        seconds = dict.fromkeys(names, 0.0)
        batches: dict[str, list] = {n: [] for n in names}
        block = args.batch_size * 2
        for b, start in enumerate(range(0, len(passages), block)):
            chunk = passages[start : start + block]
            for name in names[b % len(names) :] + names[: b % len(names)]:
                t0 = time.perf_counter()
                batches[name].append(rows[name].encode_batch(chunk, args.batch_size))
                seconds[name] += time.perf_counter() - t0
        for name in names:
            stats = percentiles(latencies[name])
            rate = len(passages) / seconds[name]
            results[name]["p50"].append(stats["p50"])
            results[name]["p95"].append(stats["p95"])
            results[name]["passages_per_s"].append(rate)
            q, p = np.concatenate(vectors[name]), np.concatenate(batches[name])
            cos = np.concatenate([(q * ref_q).sum(1), (p * ref_p).sum(1)])
            results[name].update(cos_min=float(cos.min()), cos_mean=float(cos.mean()))
            print(f"round {round_no + 1} {name}: p50 {stats['p50']:.2f} ms, {rate:.1f} passages/s", flush=True)

    table = []
    for name, r in results.items():
        table.append(
            [
                name,
                " / ".join(f"{x:.2f}" for x in r.get("p50", [])) or None,
                " / ".join(f"{x:.2f}" for x in r.get("p95", [])) or None,
                " / ".join(f"{x:.1f}" for x in r["passages_per_s"]),
                f"{r.get('cos_min', 1.0):.4f}",
                f"{r.get('cos_mean', 1.0):.4f}",
            ]
        )
    run.table(
        "ONNX backends (each round's number, separated by /)",
        ["row", "question p50 ms", "question p95 ms", "passages/s", "cos min", "cos mean"],
        table,
        note="question: one text per call on one thread; passages/s: batch "
        f"{args.batch_size} on every core; cosine to torch over questions and passages",
    )
    run.results = {"versions": versions(), "rows": results}
    run.finish()
    shutil.rmtree(work, ignore_errors=True)
    return 0


def load_texts(n_questions: int, n_passages: int) -> tuple[list[str], list[str]]:
    """Dev questions (fixed shuffle) and ~200-word windows of eval article text."""
    from index.feeds.extract import extract_article

    lines = (EVAL_DIR / "questions-dev.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    random.Random(29).shuffle(questions)
    passages: list[str] = []
    for page in sorted((EVAL_DIR / "site" / "articles").glob("*.html")):
        if len(passages) >= n_passages:
            break
        raw = page.read_text(errors="replace")
        extracted = extract_article(raw)
        text = extracted.text if extracted else html.unescape(TAG.sub(" ", raw))
        words = text.split()
        for start in range(0, len(words) - WORDS_PER_PASSAGE // 2, WORDS_PER_PASSAGE):
            passages.append(" ".join(words[start : start + WORDS_PER_PASSAGE]))
    return questions[:n_questions], passages[:n_passages]


class NewsdeskRow:
    def __init__(self, embedder):
        self.embedder = embedder

    def encode_questions(self, texts: list[str]):
        import numpy as np

        # one text per call, as a question is embedded (the one-thread session)
        return np.concatenate([self.embedder.encode([t]) for t in texts])

    def encode_batch(self, texts: list[str], batch_size: int):
        return self.embedder.encode(texts, batch_size)


class LibraryRow:
    """sentence-transformers' ONNX backend: one model on one thread for questions, one on every core."""

    def __init__(self, path: Path, file_name: str):
        import onnxruntime as ort
        from sentence_transformers import SentenceTransformer

        one = ort.SessionOptions()
        one.intra_op_num_threads = 1
        kwargs = {"file_name": file_name, "provider": "CPUExecutionProvider"}
        self.questions = SentenceTransformer(
            str(path), backend="onnx", local_files_only=True, model_kwargs=kwargs | {"session_options": one}
        )
        self.batches = SentenceTransformer(str(path), backend="onnx", local_files_only=True, model_kwargs=kwargs)

    def encode_questions(self, texts: list[str]):
        import numpy as np

        return np.concatenate([self._encode(self.questions, [t], 1) for t in texts])

    def encode_batch(self, texts: list[str], batch_size: int):
        return self._encode(self.batches, texts, batch_size)

    @staticmethod
    def _encode(model, texts, batch_size):
        return model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )


def build_rows(work: Path, arena: bool = False) -> dict:
    from index.vectors.embedders import OnnxEmbedder, SentenceTransformerEmbedder, resolve_model_path

    rows: dict = {"torch": NewsdeskRow(SentenceTransformerEmbedder())}
    rows["newsdesk onnx fp32"] = NewsdeskRow(OnnxEmbedder(cache_dir=work / "newsdesk", batches="onnx"))
    if arena:
        rows["newsdesk onnx fp32, batch arena on"] = NewsdeskRow(
            with_batch_arena(OnnxEmbedder(cache_dir=work / "newsdesk"))
        )
    rows["newsdesk onnx int8"] = NewsdeskRow(OnnxEmbedder(cache_dir=work / "newsdesk", quantized=True))
    try:
        import optimum.onnxruntime  # noqa: F401
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model
    except ImportError as exc:
        print(f"sentence-transformers' ONNX backend unavailable ({exc}); see the docstring for the overlay")
        return rows
    model = work / "library"
    shutil.copytree(resolve_model_path("all-MiniLM-L6-v2"), model)
    exported = SentenceTransformer(str(model), backend="onnx", local_files_only=True)  # exports to ONNX
    exported.save_pretrained(str(model))
    rows["library onnx fp32"] = LibraryRow(model, "onnx/model.onnx")
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    config = "avx512_vnni" if "avx512_vnni" in flags else "avx2"
    export_dynamic_quantized_onnx_model(exported, config, str(model))
    rows[f"library onnx int8 ({config})"] = LibraryRow(model, f"onnx/model_qint8_{config}.onnx")
    return rows


def with_batch_arena(embedder):
    """A diagnostic: the embedder's batch session rebuilt with onnxruntime's CPU memory arena on
    (newsdesk turns it off so that a batch's buffers are not kept after ingest), to show how much
    of a batch-speed difference that one setting makes. Reaches into the embedder on purpose."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = True
    options.log_severity_level = 3
    path = embedder._query_session._model_path
    embedder._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return embedder


def versions() -> dict:
    """The versions actually imported (an overlay on PYTHONPATH wins over the venv's)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("sentence-transformers", "transformers", "onnxruntime", "optimum-onnx", "torch"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
