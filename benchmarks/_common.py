"""Shared helpers for the benchmark scripts (not a test module; nothing here is collected by pytest).

Every script prints plain-text tables and can write its numbers as JSON (``--json PATH``).
Machine load is recorded at the start and the end of each run: the benchmark box has two
cores and test suites may be running next to it, so a number is only meaningful together
with the load it was measured under.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

EVAL_DIR = Path(os.environ.get("NEWSDESK_EVAL_DIR", ROOT.parent / "shared" / "eval"))
QUICK_FEEDS = ["left-voice-2026", "usa-today-2012", "usa-today-2013", "usa-today-2014", "the-week-2022"]
BENCH_TMP = Path(os.environ.get("NEWSDESK_BENCH_TMP", "/tmp"))


# -- arguments and output -------------------------------------------------------------------
def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a short run on a small subset")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    return parser


def bench_dir(name: str, given: str | None = None, fresh: bool = True) -> Path:
    """A data directory under /tmp/bench-*: the given path, or a new /tmp/bench-<name>-<stamp>."""
    if given:
        path = Path(given)
    else:
        path = BENCH_TMP / f"bench-{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    if fresh and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


class Run:
    """Collects a script's results; prints the load line and writes the JSON at the end."""

    def __init__(self, name: str, args: argparse.Namespace):
        self.name = name
        self.args = args
        self.started = time.time()
        self.load_start = loadavg()
        self.results: dict = {}
        self.tables: list[str] = []
        print(
            f"== {name} ({'quick' if getattr(args, 'quick', False) else 'full'}) — "
            f"load average at start {fmt_load(self.load_start)} on {os.cpu_count()} CPUs",
            flush=True,
        )

    def table(self, title: str, headers: list[str], rows: list[list], note: str | None = None) -> str:
        text = render_table(title, headers, rows, note)
        self.tables.append(text)
        print(text, flush=True)
        return text

    def finish(self) -> dict:
        load_end = loadavg()
        out = {
            "benchmark": self.name,
            "quick": bool(getattr(self.args, "quick", False)),
            "args": {k: v for k, v in vars(self.args).items()},
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
            "wall_seconds": round(time.time() - self.started, 2),
            "loadavg_start": self.load_start,
            "loadavg_end": load_end,
            "machine": machine(),
            "results": self.results,
        }
        print(f"load average at end {fmt_load(load_end)}; {self.name} took {out['wall_seconds']:.1f} s", flush=True)
        if getattr(self.args, "json", None):
            Path(self.args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(self.args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
            print(f"results written to {self.args.json}")
        return out


def fmt_load(load: list[float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load) if load else "n/a"


def render_table(title: str, headers: list[str], rows: list[list], note: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        cells = enumerate(zip(row, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in cells).rstrip()

    out = [f"\n{title}", line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    if note:
        out.append(note)
    return "\n".join(out)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("ok" if ok else "MISSED")


# -- statistics -------------------------------------------------------------------------------
def percentiles(values_ms: list[float], ps=(50, 95, 99)) -> dict:
    import numpy as np

    if not values_ms:
        return {f"p{p}": None for p in ps} | {"mean": None, "max": None, "n": 0}
    arr = np.asarray(values_ms, dtype=float)
    out = {f"p{p}": float(np.percentile(arr, p)) for p in ps}
    out.update(mean=float(arr.mean()), max=float(arr.max()), n=int(arr.size))
    return out


class Timer:
    """Accumulates wall time spent in wrapped calls (thread-safe)."""

    def __init__(self):
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.perf_counter() - t0
                with self._lock:
                    self.seconds += dt
                    self.calls += 1

        return timed


# -- process memory --------------------------------------------------------------------------
def proc_status(pid: int | str = "self") -> dict:
    """VmRSS / VmHWM (and friends) of a process in MiB, from /proc/<pid>/status."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS", "VmHWM", "VmSize", "VmPeak", "RssAnon", "RssFile")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def dir_size(path: Path) -> int:
    total = 0
    for p in Path(path).rglob("*"):
        try:
            if p.is_file():
                total += p.stat().st_size
        except OSError:
            pass
    return total


# -- the evaluation archive --------------------------------------------------------------------
class EvalServer:
    """``python3 ../shared/eval/serve.py --port 0`` on loopback; the base URL is its first line."""

    def __init__(self):
        if not (EVAL_DIR / "serve.py").exists():
            raise SystemExit(f"the evaluation archive is not at {EVAL_DIR} (set NEWSDESK_EVAL_DIR)")
        self.proc = subprocess.Popen(
            [sys.executable, str(EVAL_DIR / "serve.py"), "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        self.base = self.proc.stdout.readline().strip()
        if not self.base.startswith("http://"):
            self.close()
            raise SystemExit("the evaluation server did not start")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def eval_config(data_dir: Path, **embedding_changes):
    """Default config (the real model), data in data_dir, loopback allowed for the eval server."""
    from index.config import Config, DataConfig

    config = Config()
    return config.replace(
        data=DataConfig(dir=str(data_dir)),
        # the default poll share: ``ingest(complete=True)`` (as `newsdesk ingest`) reads each feed whole
        feeds=dataclasses.replace(config.feeds, allow_private_networks=True),
        embedding=dataclasses.replace(config.embedding, **embedding_changes),
    )


def add_eval_feeds(desk, base: str, quick: bool, feeds: list[str] | None = None) -> dict:
    """Import the archive's OPML (all 26 feeds), or only the named/quick subset of its outlines."""
    import httpx

    from index.feeds.opml import parse_opml

    opml = httpx.get(f"{base}/archive.opml", timeout=30).content
    wanted = feeds or (QUICK_FEEDS if quick else None)
    if wanted is None:
        result = desk.feeds.import_opml(opml)
        return {"added": len(result["added"]), "refused": result["refused"]}
    added = 0
    for outline in parse_opml(opml):
        name = outline.url.rsplit("/", 1)[-1].removesuffix(".xml")
        if name in wanted:
            desk.feeds.add(outline.url, outline.name)
            added += 1
    return {"added": added, "refused": {}}


def load_questions(path: Path | None = None, limit: int | None = None) -> list[dict]:
    path = path or EVAL_DIR / "questions-dev.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows[:limit] if limit else rows


# -- synthetic text ------------------------------------------------------------------------------
_SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ga ge gi go ka ke ki ko la le li lo lu ma me mi mo "
    "na ne ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to tu va ve vi vo za ze zo "
    "bar ben cor dan fel gor han kel lin mar nor pol ran sen tor val ver wil"
).split()
FUNCTION_WORDS = (
    "the of and to in a for on that with as by at from is was said has have will its it be are "
    "were after over but not more than this who which their they he she new also about into "
    "could would first two last year week government officials people state city"
).split()


class TextGen:
    """Plausible-looking news text: a Zipf-distributed vocabulary of pseudo-words mixed with
    English function words, sentences of 8-25 words, capitalised names sprinkled in."""

    def __init__(self, vocab_size: int = 4000, seed: int = 7):
        import numpy as np

        self.rng = np.random.default_rng(seed)
        words = set()
        while len(words) < vocab_size:
            n = int(self.rng.integers(2, 5))
            words.add("".join(self.rng.choice(_SYLLABLES, n)))
        self.vocab = sorted(words)
        self.rng.shuffle(self.vocab)
        ranks = np.arange(1, len(self.vocab) + 1)
        weights = 1.0 / ranks**1.05
        self.p = weights / weights.sum()
        self.names = [w.capitalize() for w in self.vocab[200:600]]

    def words(self, n: int) -> list[str]:
        content = self.rng.choice(len(self.vocab), size=n, p=self.p)
        func = self.rng.random(n) < 0.4
        fw = self.rng.integers(0, len(FUNCTION_WORDS), size=n)
        names = self.rng.random(n) < 0.05
        nm = self.rng.integers(0, len(self.names), size=n)
        out = []
        for i in range(n):
            if func[i]:
                out.append(FUNCTION_WORDS[fw[i]])
            elif names[i]:
                out.append(self.names[nm[i]])
            else:
                out.append(self.vocab[content[i]])
        return out

    def sentences(self, n_words: int) -> str:
        words = self.words(n_words)
        out, i = [], 0
        while i < len(words):
            k = int(self.rng.integers(8, 26))
            chunk = words[i : i + k]
            i += k
            chunk[0] = chunk[0].capitalize()
            out.append(" ".join(chunk) + ".")
        return " ".join(out)

    def title(self) -> str:
        words = self.words(int(self.rng.integers(5, 11)))
        return " ".join(w.capitalize() if j == 0 or self.rng.random() < 0.3 else w for j, w in enumerate(words))

    def query(self) -> str:
        return " ".join(self.words(int(self.rng.integers(5, 10)))) + "?"


# -- a small feed server (bench_loop_lag) -----------------------------------------------------------
class FeedServer:
    """Serves RSS bodies from a dict on 127.0.0.1 (no conditional requests: every fetch sees the body)."""

    def __init__(self):
        import http.server

        self.files: dict[str, bytes] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = files.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                body = body if body is not None else b"not found"
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, path: str, title: str, items: list[dict]) -> str:
        from email.utils import format_datetime
        from xml.sax.saxutils import escape

        parts = [
            f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
            f'<guid isPermaLink="false">{escape(i["guid"])}</guid><pubDate>{format_datetime(i["date"])}</pubDate>'
            f"<description>{escape(i['text'])}</description></item>"
            for i in items
        ]
        self.files[path] = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>{self.base}</link><description>bench</description>"
            f"{''.join(parts)}</channel></rss>"
        ).encode()
        return self.base + path

    def close(self):
        self.httpd.shutdown()


@contextmanager
def timed():
    box = {}
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - t0


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
