"""Digests, timelines and story comparison over an ingested archive: wall time of each,
warm (the vector mirror loaded once first), median of --repeat runs.

    NEWSDESK_DATA_DIR=/tmp/copy-of-data-eval python benchmarks/bench_following.py [--repeat 5]

Never point it at a shared archive you must not write to: opening an archive applies migrations.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.config import load_config  # noqa: E402
from index.service import Newsdesk  # noqa: E402

CASES = [
    ("digest, one week (2023-01-01..07)", lambda d: d.digests.make(since="2023-01-01", until="2023-01-07")),
    ("digest, one year (2022)", lambda d: d.digests.make(since="2022-01-01", until="2022-12-31")),
    (
        "digest, two months on a topic",
        lambda d: d.digests.make(since="2022-06-01", until="2022-07-31", topic="Boris Johnson resignation"),
    ),
    ("timeline 'ukraine' 2022-2026, counts", lambda d: d.stories.timeline("ukraine", since="2022-01-01", render=False)),
    ("timeline 'ukraine' 2022-2026, with chart", lambda d: d.stories.timeline("ukraine", since="2022-01-01")),
    ("compare (a query)", lambda d: d.stories.compare("Finland happiest country World Happiness Report")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    desk = Newsdesk(load_config(None))
    desk.digests.make(since="2023-01-01", until="2023-01-02")  # loads the mirror
    desk.stories.compare("Finland happiest country")  # loads the model
    out = {}
    for name, fn in CASES:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn(desk)
            times.append((time.perf_counter() - start) * 1000)
        out[name] = round(statistics.median(times), 1)
        print(f"{name:45s} {out[name]:8.1f} ms (median of {args.repeat})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
