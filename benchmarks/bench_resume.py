#!/usr/bin/env python3
"""An interrupted ingest keeps what it did: `newsdesk ingest` killed with -9, then run to the end.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_resume.py [--quick] [--kills 60,120,180] [--keep] [--json PATH]

Everything runs as the user would run it: ``newsdesk`` subprocesses (``python -m index``) over the
evaluation archive served on loopback (``../shared/eval/serve.py --port 0``), the real model.

1. Uninterrupted: a fresh data dir, ``feeds import <BASE>/archive.opml`` (``--quick``: five feeds),
   ``ingest --json`` timed from process start to exit, while this process samples
   ``stats --json`` (a second process reading the archive) every ``--sample`` seconds.
2. Kill schedule: another fresh data dir, ``ingest`` killed with SIGKILL after 60, 120 and 180 s
   (process start to kill), reading ``stats --json`` after each kill; then one run to the end.

Targets: after each kill the archive keeps >= 70% of the embedded passages the uninterrupted run
had at the same total ingest time (cumulative seconds of the killed runs, interpolated between
samples); the final run takes <= (uninterrupted time - time already spent) x 1.15. Afterwards
``doctor --json`` is clean, the archive holds the same articles and passages as the uninterrupted
one, each once, and no passage was embedded twice (embedded after the last kill + recovered +
embedded by the final run = passages).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    QUICK_FEEDS,
    ROOT,
    EvalServer,
    Run,
    base_parser,
    bench_dir,
    loadavg,
    verdict,
)

KEPT_TARGET = 0.70
FINAL_SLACK = 1.15


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["NEWSDESK_ALLOW_PRIVATE_NETWORKS"] = "1"
    e.pop("NEWSDESK_DATA_DIR", None)
    e.setdefault("HF_HUB_OFFLINE", "1")
    return e


def newsdesk_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "index", "--config", str(config), *args]


def newsdesk(config: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        newsdesk_cmd(config, *args), env=env(), capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


def stats(config: Path) -> dict:
    done = newsdesk(config, "stats", "--json", timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"stats failed: {done.stderr[-1000:]}")
    return json.loads(done.stdout)


def setup(data_dir: Path, base: str, quick: bool, feeds: list[str] | None = None) -> Path:
    config = data_dir / "newsdesk.toml"
    config.write_text(f'[data]\ndir = "{data_dir / "data"}"\n')
    if quick or feeds:
        for name in feeds or QUICK_FEEDS:
            added = newsdesk(config, "feeds", "add", f"{base}/feeds/{name}.xml")
            assert added.returncode == 0, added.stderr[-2000:]
    else:
        imported = newsdesk(config, "feeds", "import", f"{base}/archive.opml")
        assert imported.returncode == 0, imported.stderr[-2000:]
    return config


def start_ingest(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        newsdesk_cmd(config, "ingest", "--json"),
        env=env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log, "a"),
        text=True,
    )


def uninterrupted(config: Path, log: Path, sample: float) -> dict:
    samples = [(0.0, 0, 0)]  # (seconds since start, embedded passages, passages)
    t0 = time.monotonic()
    proc = start_ingest(config, log)
    next_sample = t0 + sample
    while proc.poll() is None:
        if time.monotonic() >= next_sample:
            s = stats(config)
            samples.append((time.monotonic() - t0, s["embedded_passages"], s["passages"]))
            next_sample += sample
        time.sleep(0.2)
    wall = time.monotonic() - t0
    out = proc.stdout.read()
    assert proc.returncode == 0, f"uninterrupted ingest failed rc={proc.returncode}: {log.read_text()[-2000:]}"
    report = json.loads(out)
    final = stats(config)
    samples.append((wall, final["embedded_passages"], final["passages"]))
    return {"seconds": wall, "report": report, "stats": final, "samples": samples}


def embedded_at(samples: list, t: float) -> float:
    """Embedded passages of the uninterrupted run at t seconds, interpolated between samples."""
    for (t1, e1, _), (t2, e2, _) in itertools.pairwise(samples):
        if t1 <= t <= t2:
            return e1 + (e2 - e1) * ((t - t1) / (t2 - t1) if t2 > t1 else 1.0)
    return samples[-1][1]


def killed_runs(config: Path, log: Path, kills: list[float]) -> dict:
    rows = []
    spent = 0.0
    for after in kills:
        with open(log, "a") as f:
            f.write(f"\n=== run killed after {after} s ===\n")
        t0 = time.monotonic()
        proc = start_ingest(config, log)
        while proc.poll() is None and time.monotonic() - t0 < after:
            time.sleep(0.05)
        if proc.poll() is not None:
            raise SystemExit(f"ingest ended before its kill at {after} s (rc={proc.returncode}); use shorter --kills")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        ran = time.monotonic() - t0
        spent += ran
        s = stats(config)
        rows.append(
            {
                "killed_after_s": ran,
                "cumulative_s": spent,
                "articles": s["articles"],
                "passages": s["passages"],
                "embedded_passages": s["embedded_passages"],
                "loadavg": loadavg(),
            }
        )
    with open(log, "a") as f:
        f.write("\n=== final run ===\n")
    t0 = time.monotonic()
    proc = start_ingest(config, log)
    out, _ = proc.communicate(timeout=3600)
    final_s = time.monotonic() - t0
    assert proc.returncode == 0, f"final ingest failed rc={proc.returncode}: {log.read_text()[-2000:]}"
    return {
        "kills": rows,
        "spent_s": spent,
        "final_s": final_s,
        "final_report": json.loads(out),
        "final_stats": stats(config),
    }


def archive_facts(config: Path) -> dict:
    import sqlite3

    data_dir = Path(config.read_text().split('"')[1])
    conn = sqlite3.connect(f"file:{data_dir / 'archive.db'}?mode=ro", uri=True)
    try:

        def q(sql):
            return conn.execute(sql).fetchone()[0]

        return {
            "articles": q("SELECT count(*) FROM articles"),
            "distinct_guids": q("SELECT count(DISTINCT guid) FROM articles"),
            "passages": q("SELECT count(*) FROM passages"),
            "passage_texts": q("SELECT count(DISTINCT article_id || '/' || seq) FROM passages"),
            "inflight_records": q("SELECT count(*) FROM meta WHERE key LIKE 'embed_inflight:%'"),
        }
    finally:
        conn.close()


def main(argv=None) -> dict:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--kills", default="60,120,180", help="seconds after which each killed run is killed")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between stats samples (uninterrupted run)")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs")
    parser.add_argument(
        "--feeds",
        nargs="*",
        help="only these feeds (names like cnn-2022), e.g. when the machine "
        "is too loaded for the whole archive in the time there is",
    )
    args = parser.parse_args(argv)
    kills = [float(x) for x in args.kills.split(",") if x.strip()]
    run = Run("bench_resume", args)
    root = bench_dir("resume-" + ("quick" if args.quick else "subset" if args.feeds else "full"))
    (root / "a").mkdir()
    (root / "b").mkdir()
    log = root / "ingest.log"
    try:
        with EvalServer() as server:
            config_a = setup(root / "a", server.base, args.quick, args.feeds)
            config_b = setup(root / "b", server.base, args.quick, args.feeds)
            print(f"uninterrupted ingest ({root / 'a'}) …", flush=True)
            base = uninterrupted(config_a, log, args.sample)
            print(
                f"  {base['seconds']:.0f} s, {base['stats']['embedded_passages']} passages; kill schedule …", flush=True
            )
            resumed = killed_runs(config_b, log, kills)
            doctor = newsdesk(config_b, "doctor", "--json", timeout=900)
            doctor_result = (
                json.loads(doctor.stdout)
                if doctor.stdout.strip().startswith("{")
                else {"ok": False, "problems": [doctor.stderr[-500:]]}
            )
        facts_a, facts_b = archive_facts(config_a), archive_facts(config_b)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    rows, kept_ok = [], True
    for k in resumed["kills"]:
        same_time = embedded_at(base["samples"], k["cumulative_s"])
        share = k["embedded_passages"] / same_time if same_time else None
        k["uninterrupted_embedded_same_time"] = same_time
        k["kept_share"] = share
        # nothing embedded yet by the uninterrupted run either (process start, model load): nothing to lose
        ok = share >= KEPT_TARGET if share is not None else True
        kept_ok &= ok
        rows.append(
            [
                f"killed after {k['killed_after_s']:.0f} s",
                k["cumulative_s"],
                k["articles"],
                k["passages"],
                k["embedded_passages"],
                same_time,
                share,
                verdict(ok) + ("" if share is not None else " (none yet)"),
            ]
        )
    target = (base["seconds"] - resumed["spent_s"]) * FINAL_SLACK
    final_ok = resumed["final_s"] <= target
    fin = resumed["final_report"]
    last_embedded = resumed["kills"][-1]["embedded_passages"] if resumed["kills"] else 0
    accounted = last_embedded + fin["passages_embedded"] + fin.get("passages_recovered", 0)
    once_ok = accounted == facts_b["passages"]
    same_ok = (facts_a["articles"], facts_a["passages"]) == (facts_b["articles"], facts_b["passages"])
    unique_ok = facts_b["articles"] == facts_b["distinct_guids"] and facts_b["passages"] == facts_b["passage_texts"]
    doctor_ok = bool(doctor_result.get("ok")) and not doctor_result.get("problems")
    rows.append(
        [
            "final run",
            resumed["spent_s"] + resumed["final_s"],
            resumed["final_stats"]["articles"],
            resumed["final_stats"]["passages"],
            resumed["final_stats"]["embedded_passages"],
            float(base["stats"]["embedded_passages"]),
            None,
            "",
        ]
    )
    run.results = {
        "uninterrupted": base,
        "resumed": resumed,
        "doctor": doctor_result,
        "archive_uninterrupted": facts_a,
        "archive_resumed": facts_b,
        "final_target_s": target,
        "kept_ok": kept_ok,
        "final_ok": final_ok,
        "embedded_once": once_ok,
        "same_archive": same_ok,
        "doctor_ok": doctor_ok,
    }
    run.table(
        f"Uninterrupted ingest: {base['seconds']:.0f} s, {base['stats']['articles']} articles, "
        f"{base['stats']['embedded_passages']} passages embedded (stats sampled every {args.sample:.0f} s)",
        ["seconds", "embedded passages", "passages archived"],
        [[t, e, p] for t, e, p in base["samples"][:: max(1, len(base["samples"]) // 12)]] + [list(base["samples"][-1])],
    )
    run.table(
        "Killed with -9, then resumed (kept = embedded after the kill / uninterrupted at the same total time)",
        ["run", "total s", "articles", "passages", "embedded", "uninterrupted", "kept", f">= {KEPT_TARGET:.0%}"],
        rows,
        note=(
            f"final run {resumed['final_s']:.0f} s vs target ({base['seconds']:.0f} - "
            f"{resumed['spent_s']:.0f}) x {FINAL_SLACK} = {target:.0f} s: {verdict(final_ok)}; "
            f"final run embedded {fin['passages_embedded']}, recovered {fin.get('passages_recovered', 0)} "
            f"from the index; embedded once (after last kill + final + recovered = passages): "
            f"{accounted} vs {facts_b['passages']} {verdict(once_ok)}; same archive as uninterrupted "
            f"({facts_b['articles']} articles, {facts_b['passages']} passages): {verdict(same_ok)}; "
            f"each once: {verdict(unique_ok)}; doctor clean: {verdict(doctor_ok)}"
            + ("" if doctor_ok else f" {doctor_result.get('problems')}")
        ),
    )
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
