#!/usr/bin/env python3
"""Run every benchmark (``make bench`` runs ``run_all.py --quick``) and print their tables.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...] [--json-dir DIR] [--keep]

Each script runs in its own process (so model, archive and memory numbers don't mix).
bench_query reuses the archive bench_ingest built, and bench_memory the one bench_scale built;
those data dirs (under /tmp/bench-*) are removed at the end unless ``--keep``.
Without ``--quick`` this takes a long time (the full ingest alone is ~20 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import BENCH_TMP, fmt_load, loadavg  # noqa: E402

ORDER = ["ingest", "query", "scale", "memory", "loop_lag"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (what `make bench` does)")
    parser.add_argument("--only", nargs="*", choices=ORDER, help="run only these")
    parser.add_argument("--json-dir", help="write each script's JSON here (default /tmp/bench-results-<stamp>)")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_dir = Path(args.json_dir or BENCH_TMP / f"bench-results-{stamp}")
    json_dir.mkdir(parents=True, exist_ok=True)
    ingest_dir = BENCH_TMP / f"bench-runall-ingest-{stamp}"
    scale_dir = BENCH_TMP / f"bench-runall-scale-{stamp}"
    quick = ["--quick"] if args.quick else []
    wanted = args.only or ORDER
    commands = {
        "ingest": ["bench_ingest.py", *quick, "--keep", "--data-dir", str(ingest_dir)],
        "query": ["bench_query.py", *quick] + (["--data-dir", str(ingest_dir)] if "ingest" in wanted else []),
        "scale": ["bench_scale.py", *quick, "--keep", "--data-dir", str(scale_dir)],
        "memory": ["bench_memory.py", *quick] + (["--data-dir", str(scale_dir)] if "scale" in wanted else []),
        "loop_lag": ["bench_loop_lag.py", *quick],
    }
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    print(
        f"run_all ({'quick' if args.quick else 'full'}): load average {fmt_load(loadavg())} on "
        f"{os.cpu_count()} CPUs; JSON in {json_dir}",
        flush=True,
    )
    status = {}
    outputs = {}
    try:
        for name in ORDER:
            if name not in wanted:
                continue
            cmd = [
                sys.executable,
                str(HERE / commands[name][0]),
                *commands[name][1:],
                "--json",
                str(json_dir / f"{name}.json"),
            ]
            print(f"\n$ {' '.join(cmd[1:])}", flush=True)
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            outputs[name] = proc.stdout
            # the tables: everything but the model's progress bars and log noise
            print(
                "\n".join(ln for ln in proc.stdout.splitlines() if not ln.startswith(("Loading weights", "Batches"))),
                flush=True,
            )
            status[name] = (proc.returncode, time.perf_counter() - t0)
            if proc.returncode:
                print(f"!! {name} failed with exit status {proc.returncode}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(ingest_dir, ignore_errors=True)
            shutil.rmtree(scale_dir, ignore_errors=True)
    print("\nSummary")
    for name, (code, seconds) in status.items():
        print(f"  {name:<9} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:7.1f} s")
    summary = {name: {"exit": code, "seconds": round(s, 1)} for name, (code, s) in status.items()}
    (json_dir / "run_all.json").write_text(
        json.dumps({"quick": args.quick, "status": summary, "loadavg_end": loadavg()}, indent=2) + "\n"
    )
    print(f"load average at end {fmt_load(loadavg())}")
    return 1 if any(code for code, _ in status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
