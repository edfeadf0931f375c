#!/usr/bin/env python3
"""What one /timeline topic match reads: the bounded match against the unbounded one it replaced.

    .venv/bin/python benchmarks/bench_timeline_postings.py [--passages 100000] [--rare 20]

A SQLite archive of ``--passages`` one-passage articles that all hold a common word ("said"),
``--rare`` of them also "volcano", split between two servers. It times, for the topic
"said volcano" seen from one server: the match as it was (every posting of every word across the
whole archive: an INTERSECT of the words' matches and a BM25 pass over the OR of them), and
``topic_articles`` now (the rarest word's newest postings, narrowed to the server's scope first,
the other words and the score looked up on those passages only). It also times the topic "said"
alone, which now reads at most ``TOPIC_POSTINGS`` passages. Prints seconds and the matches."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from index.archive import Archive
from index.archive.digests import TOPIC_POSTINGS
from index.models import PassageRow, Scope

T0 = 1_780_000_000.0


def build(path: Path, passages: int, rare: int) -> tuple[Archive, Scope]:
    archive = Archive(path)
    mine, _ = archive.add_feed("https://mine.example/feed.xml", guild_id=1)
    theirs, _ = archive.add_feed("https://theirs.example/feed.xml", guild_id=2)
    step = max(1, passages // rare)
    for start in range(0, passages, 2000):
        with archive.transaction():
            for i in range(start, min(passages, start + 2000)):
                text = f"Officials said the harbour {i} reopened." + (" A volcano erupted." if i % step == 0 else "")
                feed = mine if i % 2 == 0 else theirs
                aid = archive.write_article(
                    {
                        "guid": f"g{i}",
                        "url": f"https://example.org/{i}",
                        "title": f"Report {i}",
                        "outlet": "Example",
                        "published_ts": T0 + i,
                        "text": text,
                        "feed_id": feed.id,
                    },
                    [PassageRow("{article}:0", 0, 0, f"Report {i}", text, T0 + i, "Example")],
                )
                archive.link_feed(aid, feed.id)
    return archive, Scope(1, everything=False)


OLD_MATCH = """WITH matched AS (
    SELECT p.article_id FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid WHERE passages_fts MATCH ?
    INTERSECT
    SELECT p.article_id FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid WHERE passages_fts MATCH ?)
  SELECT a.id FROM articles a JOIN matched m ON m.article_id = a.id
  WHERE a.published_ts IS NOT NULL AND a.id IN (SELECT af.article_id FROM article_feeds af JOIN feeds f
        ON f.id = af.feed_id WHERE f.guild_id IS NULL OR f.guild_id = ?)"""
OLD_MATCH_ONE = """SELECT a.id FROM articles a WHERE a.published_ts IS NOT NULL
  AND a.id IN (SELECT p.article_id FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
               WHERE passages_fts MATCH ?)
  AND a.id IN (SELECT af.article_id FROM article_feeds af JOIN feeds f
               ON f.id = af.feed_id WHERE f.guild_id IS NULL OR f.guild_id = ?)"""
OLD_SCORE = """SELECT p.article_id, -bm25(passages_fts, 2.0, 1.0) FROM passages_fts
    JOIN passages p ON p.rowid = passages_fts.rowid WHERE passages_fts MATCH ?"""


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--rare", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        built, (archive, scope) = timed(lambda: build(Path(tmp) / "archive.db", args.passages, args.rare))
        db = archive.db

        def old() -> int:
            found = db.execute(OLD_MATCH, ['"said"', '"volcano"', scope.guild_id]).fetchall()
            scored = db.execute(OLD_SCORE, ['"said" OR "volcano"']).fetchall()
            return len(found) + 0 * len(scored)

        def old_one() -> int:
            found = db.execute(OLD_MATCH_ONE, ['"said"', scope.guild_id]).fetchall()
            scored = db.execute(OLD_SCORE, ['"said"']).fetchall()
            return len(found) + 0 * len(scored)

        old_s, old_n = timed(old)
        old_one_s, old_one_n = timed(old_one)
        new_s, new = timed(lambda: archive.topic_articles("said volcano", None, None, scope=scope))
        common_s, common = timed(lambda: archive.topic_articles("said", None, None, scope=scope))
        print(
            json.dumps(
                {
                    "passages": args.passages,
                    "build_seconds": round(built, 1),
                    "said_volcano_before_seconds": round(old_s, 4),
                    "said_volcano_before_matches": old_n,
                    "said_volcano_now_seconds": round(new_s, 4),
                    "said_volcano_now_matches": len(new),
                    "said_alone_before_seconds": round(old_one_s, 4),
                    "said_alone_before_matches": old_one_n,
                    "said_alone_now_seconds": round(common_s, 4),
                    "said_alone_now_matches": len(common),
                    "topic_postings_cap": TOPIC_POSTINGS,
                },
                indent=2,
            )
        )
        archive.close()


if __name__ == "__main__":
    main()
