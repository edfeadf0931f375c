#!/usr/bin/env python3
"""Memory: RSS of a process that loads the real model, opens a scale archive and answers queries.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_memory.py [--quick] [--data-dir DIR] [--keep] [--json PATH]

``--data-dir`` names an archive left by ``bench_scale.py --keep`` (100,000 passages by default).
Without it one is built first in a child process (100,000 passages; ``--quick`` 20,000), so this
process holds nothing but what a running newsdesk would. VmRSS is read from /proc/self/status
after each stage and VmHWM (the peak) at the end. Target: VmHWM <= 1.5 GB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    Run,
    TextGen,
    base_parser,
    bench_dir,
    eval_config,
    proc_status,
    verdict,
)

TARGET_MIB = 1.5 * 1024


def main(argv=None) -> dict:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="an archive from bench_scale.py --keep")
    parser.add_argument(
        "--passages", type=int, help="size of the archive to build when no --data-dir (default 100,000; --quick 20,000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the archive this script builds")
    parser.add_argument("--queries", type=int, default=10, help="searches and asks to run (default 10)")
    args = parser.parse_args(argv)
    run = Run("bench_memory", args)
    stages: list[tuple[str, dict]] = [("start (interpreter + benchmark helpers)", proc_status())]

    built = False
    if args.data_dir:
        data_dir = Path(args.data_dir)
        if not (data_dir / "archive.db").exists():
            raise SystemExit(f"{data_dir} has no archive.db (build one with bench_scale.py --keep)")
    else:
        passages = args.passages or (20_000 if args.quick else 100_000)
        data_dir = bench_dir(f"memory-scale-{passages}")
        print(f"building a {passages:,}-passage scale archive in {data_dir} (child process) …", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("bench_scale.py")),
                "--build-only",
                "--passages",
                str(passages),
                "--data-dir",
                str(data_dir),
            ],
            check=True,
            env=os.environ,
        )
        built = True
    try:
        out = measure(args, data_dir, stages)
    finally:
        if built and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    run.results = out
    peak = out["final"].get("VmHWM")
    run.table(
        f"Memory of one process: real model + archive of {out['counts']['passages']:,} passages ({data_dir})",
        ["stage", "VmRSS MiB", "VmHWM MiB", "seconds"],
        [[name, s.get("VmRSS"), s.get("VmHWM"), s.get("seconds")] for name, s in stages],
        note=f"peak VmHWM {peak:.0f} MiB (target <= {TARGET_MIB:.0f} MiB: {verdict(peak <= TARGET_MIB)}); "
        f"mirror matrix {out['mirror_matrix_mib']:.0f} MiB; torch threads {out['torch_threads']}",
    )
    run.finish()
    return out


def measure(args, data_dir: Path, stages: list) -> dict:
    def stage(name: str, t0: float):
        status = proc_status()
        status["seconds"] = time.perf_counter() - t0
        stages.append((name, status))
        print(f"  {name}: VmRSS {status.get('VmRSS', 0):.0f} MiB", flush=True)

    t0 = time.perf_counter()
    import torch

    from index.service import Newsdesk

    stage("imports (torch, chromadb via index.service)", t0)
    config = eval_config(data_dir)
    t0 = time.perf_counter()
    desk = Newsdesk(config)
    desk.parts.embedder_or_load()
    stage("real model loaded (all-MiniLM-L6-v2)", t0)
    t0 = time.perf_counter()
    desk.parts.store_or_open()
    desk.retriever.refresh_mirror()
    stage("archive + Chroma opened, dense mirror filled", t0)
    gen = TextGen(seed=5)
    queries = [gen.query() for _ in range(args.queries)]
    t0 = time.perf_counter()
    for q in queries:
        desk.retriever.search(q, limit=10)
    stage(f"{len(queries)} searches", t0)
    t0 = time.perf_counter()
    for q in [gen.query() for _ in range(args.queries)]:
        desk.reading.ask(q)
    stage(f"{len(queries)} asks", t0)
    final = proc_status()
    out = {
        "data_dir": str(data_dir),
        "counts": desk.archive.counts(),
        "stages": [{"stage": n, **s} for n, s in stages],
        "final": final,
        "mirror_matrix_mib": desk.retriever.mirror.matrix.nbytes / 2**20,
        "torch_threads": torch.get_num_threads(),
    }
    desk.close()
    return out


if __name__ == "__main__":
    main()
