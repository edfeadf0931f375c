#!/usr/bin/env python3
"""A longer delivery soak than the test's: the real bot (polling) in a child process under simcord
(tests/support/soak_child.py), feeds on 127.0.0.1 that get ``--rounds`` bursts of ``--burst``
items, and a SIGKILL at a random moment of each burst (right after "Discord" stored a post, or
anywhere), each followed by a restart on the same archive.

    .venv/bin/python benchmarks/bench_delivery_soak.py [--rounds 6] [--burst 25] [--seed 1] [--keep] [--json PATH]

Prints, from the journal the children write at send time: posts expected / in the channel /
duplicated / missing, alerts sent (archive) / in the channel / duplicated, kills that fell
between Discord storing a post and the bot recording it, and the wall time. Target: no
duplicate and nothing missing.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from support.newsroom import METRO, FeedServer, make_feed  # noqa: E402
from support.watching import QUESTION  # noqa: E402
from test_delivery_soak import Child, journal, probe_world, rows, story, unrecorded, urls_in, write_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--burst", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-delivery-soak-"))
    started = time.monotonic()
    ids = probe_world()
    config = write_config(tmp, ids["admin-log"])
    server = FeedServer()
    in_window = 0
    try:
        import os

        os.environ["NEWSDESK_ALLOW_PRIVATE_NETWORKS"] = "1"
        from index.config import load_config
        from index.service import Newsdesk
        from index.vectors.embedders import HashEmbedder

        metro = make_feed(server, "metro", "Metro News", METRO, "/bench")
        desk = Newsdesk(load_config(config), embedder=HashEmbedder())
        desk.feeds.add(metro.url, "Metro", guild_id=ids["guild"], channel_id=ids["news"])
        desk.indexing.ingest()
        desk.following.add("council notes", guild_id=ids["guild"], channel_id=ids["alerts"], created_by=1)
        desk.watches.add(QUESTION, guild_id=ids["guild"], channel_id=ids["watch"], created_by=ids["editor"])
        desk.close()
        child = Child(tmp, config)
        links: list[str] = []

        def posted() -> int:
            return len(urls_in(journal(child.journal), ids["news"]))

        child.start()
        child.wait(lambda: child.ticks() >= 2, "the first child polled", limit=120)
        for r in range(args.rounds):
            before = posted()
            links += [metro.add_item(*story(r * 1000 + i), slug=f"r{r}-{i}") for i in range(args.burst)]
            at = before + rng.randint(1, args.burst - 1)
            child.kill_when(lambda at=at: posted() >= at, f"post {at} stored")
            in_window += unrecorded(tmp / "data", child.journal, ids["news"])
            child.start()
        child.wait(lambda: posted() >= len(links), "every article posted", limit=600)
        settle = child.ticks()
        child.wait(lambda: child.ticks() >= settle + 4, "four more passes", limit=120)
        child.finish()
    finally:
        server.close()
    entries = journal(child.journal)
    news = urls_in(entries, ids["news"])
    alerts = urls_in(entries, ids["alerts"])
    sent_alerts = rows(tmp / "data", "SELECT count(*) FROM follow_alerts WHERE state = 'sent'")[0][0]
    out = {
        "rounds": args.rounds,
        "burst": args.burst,
        "posts_expected": len(links),
        "posts_in_channel": len(news),
        "posts_duplicated": sum(n - 1 for n in Counter(news).values() if n > 1),
        "posts_missing": len(set(links) - set(news)),
        "alerts_sent_in_archive": sent_alerts,
        "alerts_in_channel": len(alerts),
        "alerts_duplicated": len(alerts) - len(set(alerts)),
        "kills": args.rounds,
        "kills_between_store_and_record": in_window,
        "seconds": round(time.monotonic() - started, 1),
    }
    for key, value in out.items():
        print(f"{key:32} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp}")


if __name__ == "__main__":
    main()
