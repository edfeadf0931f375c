#!/usr/bin/env python3
"""Hostile input: how long one crafted input holds the code that reads it.

    .venv/bin/python benchmarks/bench_hostile_input.py [--quick] [--timeout 30] [--json PATH]

Each input goes through the project's own code path, in a child process killed after
``--timeout`` seconds (then shown as "> N s"), at growing sizes up to the cap the code applies
(a growth of ~4x per doubling is quadratic; 2x linear):

* ``filter (a+)+$``: an admin's regex filter, via ``index.delivery.filters.evaluate``, on a title of
  ``a`` * n + ``!`` (Python's backtracking ``re`` doubles per character);
* ``feed <link``: ``parse_feed`` on ``<html>`` + ``<link `` * n (the HTML-not-a-feed check reads
  the first 200 KB);
* ``feed <!---->``: ``parse_feed`` on a run of empty HTML comments (the leading-comment skip);
* ``discovery <link``: ``page_links`` on a page of ``<link `` * n (reads 500 KB);
* ``page <meta``: ``page_published_time`` on ``<meta `` * n (reads 200 KB);
* ``trailer``: ``strip_trailers`` on 1 MB of "The post … appeared first on …" text.

Then the event loop's largest gap between 10 ms ticks while ``/feeds filter test``'s work (the
filters' ``evaluate`` over a feed's recent articles, in ``asyncio.to_thread`` as the bot's
``bot.call`` runs it) meets ``(a+)+$`` on a title of ``--lag-title`` characters.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (setup code making `data` for size n, the call timed, cap size, sizes tried)
CASES: dict[str, tuple[str, str, int]] = {
    "filter (a+)+$": (
        "from index.delivery import filters\n"
        "from index.models import Article\n"
        "rule = filters.FilterRule(1, 1, None, 'exclude', 'title', '(a+)+$', regex=True)\n"
        "art = Article(id=1, guid='g', url='u', title='a' * n + '!', outlet='o', authors=(), published=None,"
        " published_ts=None, date_source='feed', fetched_at='', language='en', summary='', text='t',"
        " text_source='feed')\n",
        "filters.evaluate([rule], art)",
        28,
    ),
    "feed <link": (
        "from index.feeds.parse import parse_feed\nfrom index.errors import FeedError\n"
        "data = (b'<html>' + b'<link ' * n)[:n * 6]\n",
        "try:\n    parse_feed(data, 'http://x/', 'text/xml')\nexcept FeedError:\n    pass",
        200_000 // 6,
    ),
    "feed <!---->": (
        "from index.feeds.parse import parse_feed\nfrom index.errors import FeedError\ndata = b'<!---->' * n + b'x'\n",
        "try:\n    parse_feed(data, 'http://x/', 'text/xml')\nexcept FeedError:\n    pass",
        2000 // 7,
    ),
    "discovery <link": (
        "from index.delivery.discovery import page_links\ndata = '<html>' + '<link ' * n\n",
        "page_links(data, 'http://x/')",
        500_000 // 6,
    ),
    "page <meta": (
        "from index.feeds.extract import page_published_time\ndata = '<html>' + '<meta ' * n\n",
        "page_published_time(data)",
        200_000 // 6,
    ),
    "trailer": (
        "from index.text.clean import strip_trailers\ndata = 'Intro.\\n\\n' + 'The post x appeared first on y ' * n\n",
        "strip_trailers(data)",
        1_000_000 // 31,
    ),
}


def timed(setup: str, call: str, n: int, timeout: float) -> float | None:
    """Seconds the call took in a fresh process at size n; None when killed at the timeout."""
    code = f"import time\nn = {n}\n{setup}t0 = time.perf_counter()\n{call}\nprint(time.perf_counter() - t0)\n"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def loop_lag(title_chars: int, timeout: float) -> float | None:
    """The event loop's largest tick gap (s) while the hostile filter runs in a worker thread."""
    code = f"""
import asyncio, time
from index.delivery import filters
from index.models import Article
rule = filters.FilterRule(1, 1, None, 'exclude', 'title', '(a+)+$', regex=True)
arts = [Article(id=i, guid='g', url='u', title='a' * {title_chars} + '!', outlet='o', authors=(), published=None,
        published_ts=None, date_source='feed', fetched_at='', language='en', summary='', text='t',
        text_source='feed') for i in range(3)]
async def main():
    worst, last, stop = 0.0, time.perf_counter(), False
    async def tick():
        nonlocal worst, last
        while not stop:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst, last = max(worst, now - last), now
    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    await asyncio.to_thread(lambda: [filters.evaluate([rule], a) for a in arts])
    await asyncio.sleep(0.05)
    stop = True
    await ticker
    print(worst)
asyncio.run(main())
"""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return float(done.stdout.strip().splitlines()[-1])


def show(seconds: float | None, timeout: float) -> str:
    return f"> {timeout:g} s" if seconds is None else f"{seconds:.4f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the cap size (and the smallest)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a child is killed")
    parser.add_argument("--lag-title", type=int, default=24, help="title length for the loop-lag run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    results: dict[str, dict] = {}
    print(f"{'input':<18} {'size':>9} {'bytes/chars':>12} {'time':>12}")
    for name, (setup, call, cap) in CASES.items():
        if name.startswith("filter"):
            sizes = [20, 22, 24, 26, cap] if not args.quick else [20, cap]
        else:
            sizes = [cap // 8, cap // 4, cap // 2, cap] if not args.quick else [cap // 8, cap]
        results[name] = {}
        for n in sizes:
            seconds = timed(setup, call, n, args.timeout)
            results[name][n] = seconds
            unit = n if name.startswith("filter") else n * (7 if "<!--" in name else 6 if "<" in name else 31)
            print(f"{name:<18} {n:>9} {unit:>12} {show(seconds, args.timeout):>12}", flush=True)
            if seconds is None:
                break  # larger sizes only take longer
    lag = loop_lag(args.lag_title, args.timeout * 2)
    results["loop lag"] = {args.lag_title: lag}
    print(f"event loop max lag, filter test on a {args.lag_title}-character title: {show(lag, args.timeout * 2)}")
    print(f"load average at end: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
