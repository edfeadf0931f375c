#!/usr/bin/env python3
"""Scale: a synthetic archive of 100,000 passages (``--quick`` 20,000; ``--million`` 1,000,000).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_scale.py [--quick | --million | --passages N]
        [--keep] [--data-dir DIR] [--queries N] [--real-query] [--build-only] [--json PATH]

Build (in a child process, so the measuring process starts clean): articles of random but
plausible text (a Zipf vocabulary of 4,000 pseudo-words plus English function words), 20 outlets
with two feeds each (a third of the feeds belong to guild 1001, a third to guild 1002, the rest
are global), dates spread over 10 years. Articles are written through the Archive API exactly
as the pipeline writes them (``write_article`` inside ``archive.transaction()``, one article per
transaction, PassageRow ids as in ``Pipeline._passages``); their vectors are random unit vectors
(384-d float32) put into the VectorStore with ``store.upsert`` + ``archive.mark_embedded`` +
``archive.bump_generation``. No model is needed.

Measure (this process): open the archive and rebuild the dense mirror from Chroma; RSS; disk;
``Retriever.search`` latency unfiltered, with a date filter (since/until), an outlet filter
(``source=``), guild scope (``Scope(1001, everything=False)``) and all three at once, with a
query embedding that costs nothing (a random unit vector per query text; ``--real-query`` embeds
the queries with the real model beforehand and serves them from memory). Target: filtered p50 /
unfiltered p50 <= 2. Chroma's own ``collection.query(where=...)`` is timed as the naive baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    Run,
    TextGen,
    Timer,
    base_parser,
    bench_dir,
    dir_size,
    eval_config,
    percentiles,
    proc_status,
    verdict,
)

DIM = 384
MODEL = "all-MiniLM-L6-v2"  # the name the real model has, so bench_memory can open the store with it
N_OUTLETS = 20
GUILD_A, GUILD_B = 1001, 1002
RATIO_TARGET = 2.0
OUTLET_NAMES = [
    "Daily Courier",
    "Morning Ledger",
    "Evening Standard Post",
    "The Harbor Times",
    "Valley Tribune",
    "Northern Gazette",
    "Capital Wire",
    "Metro Observer",
    "Coastal Herald",
    "Prairie Sentinel",
    "The Civic Record",
    "Lakeside Journal",
    "River City News",
    "Summit Dispatch",
    "Global Bulletin",
    "Union Chronicle",
    "Bay Examiner",
    "Highland Press",
    "Central Monitor",
    "Western Review",
]


class RandomQueryEmbedder:
    """Free query vectors: a random unit vector seeded by the text. Named like the real model."""

    name = MODEL
    dimension = DIM
    max_tokens = 256

    topics = None  # with the archive's topic centres, a query lands near one of them (like a real question)

    def encode(self, texts, batch_size: int = 64):
        import numpy as np

        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            v = rng.standard_normal(DIM).astype(np.float32)
            if self.topics is not None:
                v = self.topics[int(rng.integers(0, len(self.topics)))] + v * (ARTICLE_SPREAD / np.sqrt(DIM))
            out[i] = v / np.linalg.norm(v)
        return out

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


class MemoEmbedder(RandomQueryEmbedder):
    """The real model's vectors for known texts, computed before timing (``--real-query``)."""

    def __init__(self, vectors: dict):
        self.vectors = vectors

    def encode(self, texts, batch_size: int = 64):
        import numpy as np

        return np.stack(
            [self.vectors[t] if t in self.vectors else super(MemoEmbedder, self).encode([t])[0] for t in texts]
        )


# -- build ---------------------------------------------------------------------------------------
BULK_ARTICLES = 500
ARTICLE_SPREAD = 0.8  # an article's offset from its topic (norm, relative to the unit topic centre)
PASSAGE_SPREAD = 0.5  # a passage's offset from its article
# so: passage-topic cosine ~0.73, two passages of one topic ~0.53, of one article ~0.87 (< SAME_STORY)


def synthetic_topics(passages: int, seed: int):
    """Topic centres (unit vectors): one per ~500 passages, at least 50."""
    import numpy as np

    rng = np.random.default_rng(seed + 1)
    topics = rng.standard_normal((max(50, passages // 500), DIM)).astype(np.float32)
    return topics / np.linalg.norm(topics, axis=1, keepdims=True)


def _unit_noise(rng, n: int, scale: float):
    import numpy as np

    noise = rng.standard_normal((n, DIM)).astype(np.float32)
    return noise * (scale / np.sqrt(DIM))


def clustered_vectors(article_ids: list[int], topics, article_vec: dict, rng):
    """Unit vectors: each article drawn around a random topic, its passages around the article."""
    import numpy as np

    out = np.empty((len(article_ids), DIM), dtype=np.float32)
    for i, aid in enumerate(article_ids):
        base = article_vec.get(aid)
        if base is None:
            base = topics[int(rng.integers(0, len(topics)))] + _unit_noise(rng, 1, ARTICLE_SPREAD)[0]
            article_vec[aid] = base
        out[i] = base
    out += _unit_noise(rng, len(article_ids), PASSAGE_SPREAD)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _feeds(archive) -> list:
    """The 20 outlets' 40 feeds (a third of guild 1001, a third of guild 1002, the rest global)."""
    feeds = []
    for o, outlet in enumerate(OUTLET_NAMES[:N_OUTLETS]):
        for section in ("news", "world"):
            k = len(feeds)
            guild = GUILD_A if k % 3 == 0 else GUILD_B if k % 3 == 1 else None
            feed, _ = archive.add_feed(
                f"https://feeds.example/{o}/{section}.xml", f"{outlet} {section}", guild_id=guild
            )
            feeds.append((feed, outlet))
    return feeds


def write_passages(archive, feeds, gen, rng, passages: int, guid_prefix: str = "", progress: bool = True) -> dict:
    """Articles of 1-6 passages through the Archive API, as the pipeline writes them (one article
    per inner transaction, many per outer one), dated over the last 10 years."""
    from index.archive.sql import now_iso
    from index.models import PassageRow
    from index.text.clean import content_hash

    now = datetime.now(UTC)
    start = now - timedelta(days=3650)
    span = (now - start).total_seconds()
    write_s = gen_s = 0.0
    written = articles = 0
    t_build = time.perf_counter()
    next_report = max(passages // 5, 1)
    bulk = None
    while written < passages:
        t0 = time.perf_counter()
        n_pass = int(min(passages - written, rng.choice([1, 2, 3, 4, 5, 6], p=[0.15, 0.2, 0.25, 0.2, 0.12, 0.08])))
        chunks = [gen.sentences(int(rng.integers(110, 175))) for _ in range(n_pass)]
        title = gen.title()
        fi = int(rng.integers(0, len(feeds)))
        feed, outlet = feeds[fi]
        published = start + timedelta(seconds=float(rng.random()) * span)
        ts = published.timestamp()
        text = "\n\n".join(chunks)
        rows = []
        for s, chunk in enumerate(chunks):
            digest = hashlib.sha1(f"{title}\n{chunk}".encode()).hexdigest()[:10]
            rows.append(
                PassageRow(
                    id=f"a{{article}}-{s}-{digest}",
                    article_id=0,
                    seq=s,
                    title=title,
                    text=chunk,
                    published_ts=ts,
                    outlet=outlet,
                )
            )
        guid = f"https://news.example/{guid_prefix}{fi}/{articles}"
        record = {
            "guid": guid,
            "url": guid,
            "title": title,
            "outlet": outlet,
            "authors": "[]",
            "published": published.isoformat(timespec="seconds"),
            "published_ts": ts,
            "date_source": "feed",
            "fetched_at": now_iso(),
            "updated_at": now_iso(),
            "language": "en",
            "summary": chunks[0][:300],
            "text": text,
            "text_source": "feed-content",
            "content_hash": content_hash(title + "\n" + text),
            "entry_hash": hashlib.sha256(guid.encode()).hexdigest()[:32],
            "feed_id": feed.id,
        }
        t1 = time.perf_counter()
        gen_s += t1 - t0
        if articles % BULK_ARTICLES == 0:  # many articles per outer transaction (the pipeline's own
            if bulk is not None:  # transactions nest inside it): 1M passages in minutes, not an hour
                bulk.__exit__(None, None, None)
            bulk = archive.transaction()
            bulk.__enter__()
        with archive.transaction():
            article_id = archive.write_article(record, rows)
            archive.link_feed(article_id, feed.id)
        write_s += time.perf_counter() - t1
        written += n_pass
        articles += 1
        if progress and written >= next_report:
            print(f"  … {written:,} passages written ({time.perf_counter() - t_build:.0f} s)", flush=True)
            next_report += max(passages // 5, 1)
    if bulk is not None:
        bulk.__exit__(None, None, None)
    return {"passages": written, "articles": articles, "generate_text_s": gen_s, "archive_write_s": write_s}


def embed_pending(archive, store, topics, article_vec: dict, rng, direct: bool, progress: bool = True) -> dict:
    """Clustered vectors for the passages waiting for one, into the store (``direct``: straight to
    Chroma in big calls, for building; else ``VectorStore.upsert``'s small pages, as the pipeline)."""
    from index.models import PassageRow

    upsert_s = mark_s = 0.0
    page = 5000
    done = 0
    after = 0
    while True:
        if direct:  # by rowid: passages_to_embed sorts every waiting passage per call (hours at 1M waiting)
            rows = archive.db.execute(
                "SELECT rowid, id, article_id, published_ts, outlet FROM passages "
                "WHERE embedded = 0 AND rowid > ? ORDER BY rowid LIMIT ?",
                [after, page],
            ).fetchall()
            batch = [PassageRow(r[1], r[2], 0, "", "", r[3], r[4] or "") for r in rows]
            after = rows[-1][0] if rows else after
        else:
            batch = archive.passages_to_embed(page)
        if not batch:
            break
        vectors = clustered_vectors([p.article_id for p in batch], topics, article_vec, rng)
        ids = [p.id for p in batch]
        metas = [{"article_id": p.article_id, "published_ts": p.published_ts or 0.0, "outlet": p.outlet} for p in batch]
        t0 = time.perf_counter()
        if direct:
            for start in range(0, len(ids), 2500):
                end = start + 2500
                store.collection.upsert(ids=ids[start:end], embeddings=vectors[start:end], metadatas=metas[start:end])
        else:
            store.upsert(ids, vectors, metas)
        t1 = time.perf_counter()
        archive.mark_embedded(ids)
        archive.bump_generation()
        mark_s += time.perf_counter() - t1
        upsert_s += t1 - t0
        done += len(batch)
        if progress and done % 25000 < page:
            print(f"  … {done:,} vectors in Chroma ({upsert_s:.0f} s)", flush=True)
    return {"vectors": done, "chroma_upsert_s": upsert_s, "mark_embedded_s": mark_s}


def build(data_dir: Path, passages: int, seed: int = 11) -> dict:
    import numpy as np

    from index.archive import Archive
    from index.vectors.chroma import VectorStore

    config = eval_config(data_dir)
    gen = TextGen(seed=seed)
    rng = np.random.default_rng(seed)
    archive = Archive(config.archive_path)
    feeds = _feeds(archive)
    t_build = time.perf_counter()
    written_before = archive.db.execute("SELECT count(*) FROM passages").fetchone()[0]
    if written_before >= passages:  # a build stopped after writing: only the vectors are left to do
        wrote = (
            json.loads((data_dir / "bench-writes.json").read_text())
            if (data_dir / "bench-writes.json").exists()
            else {
                "passages": written_before,
                "articles": archive.db.execute("SELECT count(*) FROM articles").fetchone()[0],
                "generate_text_s": None,
                "archive_write_s": None,
                "resumed": True,
            }
        )
    else:
        wrote = write_passages(archive, feeds, gen, rng, passages)
        (data_dir / "bench-writes.json").write_text(json.dumps(wrote) + "\n")
    # vectors: clustered like a news archive's (topics with spread, an article's passages close to each
    # other), straight into the store as the pipeline's embed step would put them
    store = VectorStore(config.index, config.chroma_path, MODEL, DIM)
    topics = synthetic_topics(passages, seed)
    np.save(data_dir / "topics.npy", topics)
    emb = embed_pending(archive, store, topics, {}, rng, direct=True)
    archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()
    info = {
        "passages": wrote["passages"],
        "articles": wrote["articles"],
        "feeds": len(feeds),
        "outlets": N_OUTLETS,
        "generate_text_s": wrote["generate_text_s"],
        "archive_write_s": wrote["archive_write_s"],
        "archive_passages_per_s": wrote["passages"] / wrote["archive_write_s"] if wrote["archive_write_s"] else None,
        "chroma_upsert_s": emb["chroma_upsert_s"],
        "chroma_vectors_per_s": emb["vectors"] / emb["chroma_upsert_s"] if emb["chroma_upsert_s"] else None,
        "mark_embedded_s": emb["mark_embedded_s"],
        "build_wall_s": time.perf_counter() - t_build,
        "build_peak_rss_mib": proc_status().get("VmHWM"),
        "vectors": "clustered",
    }
    (data_dir / "bench-build.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


# -- measure ---------------------------------------------------------------------------------------
def loop_stalls(store, archive, n: int) -> dict:
    """How long an asyncio loop stalls while a worker thread makes Chroma calls (the bot's situation:
    its service calls run in threads). Chroma's bindings hold the GIL while they work."""
    import asyncio

    import numpy as np

    import index.vectors.chroma as chroma
    from index.vectors.mirror import DenseMirror

    rows = archive.embedded_passage_rows()  # with the neighbour lists stored by the first refresh
    rng = np.random.default_rng(5)
    extra = [f"bench-extra-{i}" for i in range(512)]
    vecs = rng.standard_normal((512, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    metas = [{"article_id": 0, "published_ts": 0.0, "outlet": "bench"} for _ in extra]

    async def stalled(fn) -> dict:
        samples: list[float] = []
        stop = asyncio.Event()

        async def probe():
            while not stop.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                samples.append((time.perf_counter() - t - 0.01) * 1000)

        task = asyncio.get_running_loop().create_task(probe())
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        await asyncio.to_thread(fn)
        seconds = time.perf_counter() - t0
        stop.set()
        await task
        return {"seconds": seconds, "lag_ms": percentiles(samples)}

    async def main():
        out = {}
        mirror = DenseMirror(density_penalty=0.3)
        out[
            f"dense mirror rebuild from Chroma ({n:,} vectors, pages of 2,000, stored neighbour lists)"
        ] = await stalled(lambda: mirror.refresh(rows, store, "x"))
        out[
            f"VectorStore.upsert of 512 vectors (one pipeline batch; Chroma calls of {chroma._WRITE_PAGE})"
        ] = await stalled(lambda: store.upsert(extra, vecs, metas))
        grown = rows + [(pid, -1, 0.0, "bench", None) for pid in extra]
        out[
            "dense mirror refresh with those 512 new (their neighbours against all, the lists they enter)"
        ] = await stalled(lambda: mirror.refresh(grown, store, "y"))
        out[f"VectorStore.delete of 512 vectors (Chroma calls of {chroma._WRITE_PAGE})"] = await stalled(
            lambda: store.delete(extra)
        )
        return out

    return asyncio.run(main())


def measure(args, data_dir: Path, build_info: dict, run: Run) -> dict:
    rss_start = proc_status()

    from index.models import Scope
    from index.service import Newsdesk

    gen = TextGen(seed=99)
    queries = list(dict.fromkeys(gen.query() for _ in range(args.queries * 2)))[: args.queries]
    embedder = RandomQueryEmbedder()
    if args.real_query:
        from index.vectors.embedders import SentenceTransformerEmbedder

        real = SentenceTransformerEmbedder()
        vecs = real.encode(queries)
        embedder = MemoEmbedder(dict(zip(queries, vecs, strict=True)))
        del real
    out: dict = {
        "data_dir": str(data_dir),
        "build": build_info,
        "queries": len(queries),
        "query_vectors": "real model (precomputed)" if args.real_query else "random unit vectors",
    }
    config = eval_config(data_dir)
    t0 = time.perf_counter()
    desk = Newsdesk(config, embedder=embedder)
    store = desk.parts.store_or_open()
    out["open_s"] = time.perf_counter() - t0
    counts = desk.archive.counts()
    out["counts"] = counts
    n = counts["passages"]

    # the dense mirror, rebuilt from Chroma (what the first search after a start does)
    t0 = time.perf_counter()
    rows = desk.archive.embedded_passage_rows()
    t1 = time.perf_counter()
    generation = desk.archive.get_meta("index_generation") or "0"
    updates = desk.retriever.mirror.refresh(rows, store, generation)
    t2 = time.perf_counter()
    desk.archive.save_neighbours(updates)  # the density lists: all-pairs on a first run, stored after
    out["neighbours_computed"], out["neighbours_store_s"] = len(updates), time.perf_counter() - t2
    out["mirror_rows_sql_s"], out["mirror_fetch_build_s"], out["mirror_rebuild_s"] = t1 - t0, t2 - t1, t2 - t0
    del rows
    out["rss_after_open_mib"] = proc_status()
    # after a generation bump with nothing new (every ingest batch bumps it; the next search pays this)
    desk.archive.bump_generation()
    t0 = time.perf_counter()
    desk.retriever.refresh_mirror()
    out["mirror_refresh_no_change_s"] = time.perf_counter() - t0

    out["loop_stalls"] = loop_stalls(store, desk.archive, n)

    outlets = [o["outlet"] for o in desk.archive.outlets()]
    now = datetime.now(UTC)
    year_since = (now - timedelta(days=5 * 365)).date().isoformat()
    year_until = (now - timedelta(days=4 * 365)).date().isoformat()
    month_since = (now - timedelta(days=3 * 365 + 30)).date().isoformat()
    month_until = (now - timedelta(days=3 * 365)).date().isoformat()
    scope = Scope(GUILD_A, everything=False)
    conditions = [
        ("unfiltered", {}),
        (f"date filter, 1 year (since {year_since} until {year_until})", {"since": year_since, "until": year_until}),
        ("date filter, 30 days", {"since": month_since, "until": month_until}),
        (f"outlet filter (source={outlets[0]!r})", {"source": outlets[0]}),
        (f"guild scope (Scope({GUILD_A}, everything=False))", {"scope": scope}),
        (
            "date 1 year + outlet + guild scope",
            {"since": year_since, "until": year_until, "source": outlets[0], "scope": scope},
        ),
    ]
    retr, archive = desk.retriever, desk.archive
    parts = {
        "dense mask": (retr.mirror, "mask"),
        "dense search": (retr.mirror, "search"),
        "keyword FTS5": (archive, "keyword_search"),
        "scope rows (cached mask)": (retr, "scope_rows"),
        "outlets()": (archive, "outlets"),
        "fetch rows (passages/articles/counts)": None,
        "group_stories": (retr, "group_stories"),
    }
    timers = {}
    for name, target in parts.items():
        timers[name] = Timer()
        if target is None:
            for attr in ("passages_by_ids", "articles_by_ids", "passage_counts"):
                setattr(archive, attr, timers[name].wrap(getattr(archive, attr)))
        else:
            setattr(target[0], target[1], timers[name].wrap(getattr(target[0], target[1])))
    for q in queries[:5]:  # warm-up
        desk.retriever.search(q, limit=10)
    lat: dict[str, list[float]] = {}
    part_means: dict[str, dict[str, float]] = {}
    hits_count: dict[str, float] = {}
    for label, kw in conditions:
        before = {k: t.seconds for k, t in timers.items()}
        times, nhits = [], 0
        for q in queries:
            t0 = time.perf_counter()
            res = desk.retriever.search(q, limit=10, **kw)
            times.append((time.perf_counter() - t0) * 1000)
            nhits += len(res.hits)
        lat[label] = times
        part_means[label] = {k: 1000 * (t.seconds - before[k]) / len(queries) for k, t in timers.items()}
        hits_count[label] = nhits / len(queries)
    stats = {k: percentiles(v) for k, v in lat.items()}
    base_p50 = stats["unfiltered"]["p50"]
    out["search_ms"] = stats
    out["search_parts_mean_ms"] = part_means
    out["ratios_p50"] = {k: v["p50"] / base_p50 for k, v in stats.items()}

    # the dense part alone on the mirror vs Chroma's own filtered query (the naive baseline)
    ts_since = datetime.fromisoformat(year_since).replace(tzinfo=UTC).timestamp()
    ts_until = datetime.fromisoformat(year_until).replace(tzinfo=UTC).timestamp() + 86399
    mirror = retr.mirror
    qvecs = [embedder.encode([q])[0] for q in queries]
    k = config.retrieval.candidates
    baseline_conditions = [
        ("no filter", None, (None, None, None)),
        (
            "date range 1 year",
            {"$and": [{"published_ts": {"$gte": ts_since}}, {"published_ts": {"$lte": ts_until}}]},
            (ts_since, ts_until, None),
        ),
        ("outlet", {"outlet": outlets[0]}, (None, None, [outlets[0]])),
    ]
    baseline = {}
    n_base = min(len(queries), 20 if args.quick else 40)
    for label, where, (a, b, o) in baseline_conditions:
        mt, ct = [], []
        for qv in qvecs[:n_base]:
            t0 = time.perf_counter()
            mirror.search(qv, k, mirror.mask(a, b, o, None))
            mt.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            kwargs = {"query_embeddings": [qv.tolist()], "n_results": k, "include": ["distances"]}
            if where is not None:
                kwargs["where"] = where
            store.collection.query(**kwargs)
            ct.append((time.perf_counter() - t0) * 1000)
        baseline[label] = {"mirror": percentiles(mt), "chroma": percentiles(ct)}
    out["dense_baseline_ms"] = baseline
    out["rss_after_queries_mib"] = proc_status()
    out["rss_start_mib"] = rss_start
    db_bytes = sum(p.stat().st_size for p in data_dir.glob("archive.db*"))
    chroma_bytes = dir_size(data_dir / "chroma")
    out["disk"] = {
        "archive_db_bytes": db_bytes,
        "chroma_bytes": chroma_bytes,
        "per_100k_passages_mib": (db_bytes + chroma_bytes) / n * 100_000 / 2**20 if n else None,
        "archive_per_100k_mib": db_bytes / n * 100_000 / 2**20 if n else None,
        "chroma_per_100k_mib": chroma_bytes / n * 100_000 / 2**20 if n else None,
    }
    desk.close()

    # -- tables
    run.table(
        f"Synthetic archive: {n:,} passages, {counts['articles']:,} articles, {N_OUTLETS} outlets, 10 years "
        f"({data_dir})",
        ["measure", "value"],
        [
            ["archive writes: seconds (1 article per transaction)", build_info["archive_write_s"]],
            ["archive writes: passages/s", build_info["archive_passages_per_s"]],
            ["Chroma upsert of random vectors: seconds", build_info["chroma_upsert_s"]],
            ["Chroma upsert: vectors/s", build_info["chroma_vectors_per_s"]],
            ["mark_embedded + bump_generation: seconds", build_info["mark_embedded_s"]],
            ["open archive + Chroma (s)", out["open_s"]],
            ["dense mirror rebuild from Chroma (s)", out["mirror_rebuild_s"]],
            [
                "  of which SQL rows / Chroma fetch + arrays (s)",
                f"{out['mirror_rows_sql_s']:.2f} / {out['mirror_fetch_build_s']:.2f}",
            ],
            ["mirror refresh after a generation bump, nothing new (s)", out["mirror_refresh_no_change_s"]],
            ["VmRSS at start (MiB)", rss_start.get("VmRSS")],
            ["VmRSS after opening + mirror (MiB)", out["rss_after_open_mib"].get("VmRSS")],
            [
                "VmRSS / VmHWM after queries (MiB)",
                "{:.0f} / {:.0f}".format(*(out["rss_after_queries_mib"].get(k, 0) for k in ("VmRSS", "VmHWM"))),
            ],
            ["disk: archive.db (MiB)", db_bytes / 2**20],
            ["disk: chroma dir (MiB)", chroma_bytes / 2**20],
            ["disk per 100k passages (MiB)", out["disk"]["per_100k_passages_mib"]],
        ],
    )
    rows = []
    for label, _ in conditions:
        s = stats[label]
        ratio = out["ratios_p50"][label]
        rows.append(
            [
                label,
                s["p50"],
                s["p95"],
                s["p99"],
                s["max"],
                ratio,
                hits_count[label],
                "" if label == "unfiltered" else verdict(ratio <= RATIO_TARGET),
            ]
        )
    run.table(
        f"Retriever.search latency, {len(queries)} distinct queries each ({out['query_vectors']})",
        ["condition", "p50 ms", "p95 ms", "p99 ms", "max ms", "p50 / unfiltered", "hits", "<= 2x"],
        rows,
    )
    run.table(
        "Event-loop stalls while a worker thread makes Chroma calls (probe sleeps 10 ms)",
        ["call in a worker thread", "call s", "lag p50 ms", "lag p99 ms", "lag max ms", "samples"],
        [
            [k, v["seconds"], v["lag_ms"]["p50"], v["lag_ms"]["p99"], v["lag_ms"]["max"], v["lag_ms"]["n"]]
            for k, v in out["loop_stalls"].items()
        ],
    )
    part_names = list(timers)
    run.table(
        "Mean ms per search by part",
        ["condition"] + part_names,
        [[label[:40]] + [part_means[label][p] for p in part_names] for label, _ in conditions],
    )
    run.table(
        f"Dense candidates (k={k}) alone: the NumPy mirror vs Chroma's collection.query(where=…), {n_base} queries",
        ["filter", "mirror p50 ms", "mirror p95 ms", "Chroma p50 ms", "Chroma p95 ms", "Chroma / mirror p50"],
        [
            [
                label,
                v["mirror"]["p50"],
                v["mirror"]["p95"],
                v["chroma"]["p50"],
                v["chroma"]["p95"],
                v["chroma"]["p50"] / v["mirror"]["p50"] if v["mirror"]["p50"] else None,
            ]
            for label, v in baseline.items()
        ],
    )
    return out


def measure_scale(args, data_dir: Path, build_info: dict, run: Run) -> dict:
    """The scale targets' numbers for one dense mode: neighbour lists, search latency unfiltered and
    filtered, the searching process's peak RSS, adding 10,000 passages with the event-loop lag
    meanwhile, and (with the mirror loaded) recall@10 of the ANN neighbour lists against exact."""
    import asyncio

    import numpy as np

    from index.archive import Archive
    from index.service import Newsdesk
    from index.vectors.density import SAME_STORY
    from index.vectors.neighbours import ann_lists, recall_at

    rss_start = proc_status()
    topics_path = data_dir / "topics.npy"
    RandomQueryEmbedder.topics = np.load(topics_path) if topics_path.exists() else None
    embedder = RandomQueryEmbedder()
    queries = bench_queries(args.queries)
    config = eval_config(data_dir)
    config = config.replace(
        index=dataclasses.replace(config.index, dense=args.mode, neighbours=args.neighbours, chroma_url=args.chroma_url)
    )
    desk = Newsdesk(config, embedder=embedder)
    retr = desk.retriever
    store = desk.parts.store_or_open()
    n = desk.archive.embedded_passage_count()
    stored_before = desk.archive.db.execute("SELECT count(*) FROM passage_neighbours").fetchone()[0]
    sampled = None
    if args.neighbour_sample and stored_before < n:
        # the lists of a sample of passages, timed and extrapolated (at 1M the whole catch-up takes
        # longer than a session); the searches then run with the other lists missing (penalty = mean)
        sample_rows = desk.archive.embedded_without_neighbours(0, args.neighbour_sample)
        vecs = store.vectors([r[1] for r in sample_rows])
        rows_ok = [r for r in sample_rows if r[1] in vecs]
        t0 = time.perf_counter()
        ann_lists(store, [r[1] for r in rows_ok], np.stack([vecs[r[1]] for r in rows_ok]), [r[2] for r in rows_ok])
        per = (time.perf_counter() - t0) / len(rows_ok)
        sampled = {
            "sample": len(rows_ok),
            "seconds_per_passage": per,
            "extrapolated_seconds": per * (n - stored_before),
        }
        skip_neighbour_catch_up(desk)  # catch-up: only what is added from here
    t0 = time.perf_counter()
    retr.refresh_mirror()  # the first search's work: mirror load or engine catch-up, neighbour lists
    first_refresh = time.perf_counter() - t0
    mode = "engine" if retr.uses_engine else "mirror"
    out: dict = {
        "passages": n,
        "mode": mode,
        "mode_config": args.mode,
        "neighbours_config": args.neighbours,
        "build_seconds": build_info.get("build_wall_s"),
        "build": build_info,
        "first_refresh_seconds": first_refresh,
        "neighbour_lists_stored_before": stored_before,
        "query_vectors": "near a topic centre" if RandomQueryEmbedder.topics is not None else "random unit vectors",
    }
    # neighbours_seconds: computing every passage's list (when none were stored), else loading them
    out["neighbours_seconds"] = first_refresh if sampled is None else sampled["extrapolated_seconds"]
    if sampled is not None:
        out["neighbours_sampled"] = sampled
    out["neighbours_computed"] = desk.archive.db.execute("SELECT count(*) FROM passage_neighbours").fetchone()[0] - (
        stored_before
    )

    if mode == "mirror" and len(retr.mirror) and args.recall_sample:
        m = retr.mirror
        rng = np.random.default_rng(3)
        sample = rng.choice(len(m), size=min(args.recall_sample, len(m)), replace=False)
        exact_ids = []
        for i in sample:
            sims = m.matrix @ m.matrix[i]
            sims[m.article == m.article[i]] = -np.inf
            sims[sims >= SAME_STORY] = -np.inf
            best = np.argpartition(-sims, 10)[:10]
            exact_ids.append([m.ids[j] for j in best if np.isfinite(sims[j])])
        t0 = time.perf_counter()
        lists = ann_lists(store, [m.ids[i] for i in sample], m.matrix[sample], m.article[sample].tolist())
        out["ann_query_ms_per_passage"] = (time.perf_counter() - t0) * 1000 / len(sample)
        out["neighbour_recall_at_10"] = recall_at(lists.neighbour_ids, exact_ids)
        out["recall_sample"] = len(sample)

    conditions = search_conditions(desk)
    for q in queries[:5]:
        desk.retriever.search(q, limit=10)
    lat = {}
    paths: dict[str, dict[str, int]] = {}
    for label, kw in conditions.items():
        times = []
        for q in queries:
            t0 = time.perf_counter()
            desk.retriever.search(q, limit=10, **kw)
            times.append((time.perf_counter() - t0) * 1000)
            path = retr.engine.last_path if retr.uses_engine else "mirror"
            paths.setdefault(label, {}).setdefault(path, 0)
            paths[label][path] += 1
        lat[label] = percentiles(times)
    out["search_ms"] = lat
    out["search_p50_ms"] = lat["unfiltered"]["p50"]
    out["search_p95_ms"] = lat["unfiltered"]["p95"]
    out["filtered_p50_ms"] = {k: v["p50"] for k, v in lat.items() if k != "unfiltered"}
    out["filtered_p95_ms"] = {k: v["p95"] for k, v in lat.items() if k != "unfiltered"}
    out["engine_paths"] = paths
    out["rss_mib"] = proc_status().get("VmHWM")  # the searching process's peak after the searches
    if args.json:  # a checkpoint: the add below is long at 1M
        Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    out["rss_after_searches"] = proc_status()
    out["rss_start"] = rss_start

    # add 10,000 passages: written, embedded (VectorStore.upsert's pages), the next search's refresh
    # (its neighbour lists), all in a worker thread while an asyncio loop is probed every 10 ms
    add = args.add
    if add:
        archive2 = Archive(config.archive_path)
        feeds = _feeds(archive2)
        rng = np.random.default_rng(int(time.time()))
        topics = RandomQueryEmbedder.topics if RandomQueryEmbedder.topics is not None else synthetic_topics(n, 11)
        parts: dict[str, float] = {}

        def add_work():
            t0 = time.perf_counter()
            if not args.chroma_url:
                write_passages(
                    archive2, feeds, TextGen(seed=int(time.time())), rng, add, f"add{int(time.time())}-", False
                )
            t1 = time.perf_counter()
            if not args.chroma_url:
                embed_pending(archive2, store, topics, {}, rng, direct=False, progress=False)
            else:  # as a `newsdesk worker` beside the bot: another process writes and embeds
                cmd = [sys.executable, __file__, "--add-only", str(add), "--data-dir", str(data_dir)]
                cmd += ["--chroma-url", args.chroma_url]
                subprocess.run(cmd, check=True, env=os.environ)
            t2 = time.perf_counter()
            retr.refresh_mirror()
            t3 = time.perf_counter()
            desk.retriever.search(queries[0] + " after", limit=10)
            parts.update(write_s=t1 - t0, embed_s=t2 - t1, refresh_s=t3 - t2, next_search_s=time.perf_counter() - t3)

        async def probed():
            samples: list[float] = []
            stop = asyncio.Event()

            async def probe():
                while not stop.is_set():
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    samples.append((time.perf_counter() - t - 0.01) * 1000)

            task = asyncio.get_running_loop().create_task(probe())
            t0 = time.perf_counter()
            await asyncio.to_thread(add_work)
            seconds = time.perf_counter() - t0
            stop.set()
            await task
            return seconds, percentiles(samples)

        seconds, lag = asyncio.run(probed())
        out[f"add_{add // 1000}k_seconds"] = seconds
        out["add_10k_seconds"] = seconds * 10_000 / add
        out["add_parts_s"] = parts
        out["add_writer"] = "another process (the worker)" if args.chroma_url else "this process (a worker thread)"
        out["add_loop_lag_ms"] = lag
        out["rss_mib_after_add"] = proc_status().get("VmHWM")
        archive2.close()
    desk.close()

    rows = [["passages", n], ["mode", mode], ["first refresh / neighbour lists (s)", out["neighbours_seconds"]]]
    rows.append(["neighbour lists computed", out["neighbours_computed"]])
    if "neighbour_recall_at_10" in out:
        rows.append(
            [f"ANN neighbour recall@10 vs exact ({out['recall_sample']} passages)", out["neighbour_recall_at_10"]]
        )
    for label, v in lat.items():
        rows.append([f"search p50 / p95 ms: {label} ({paths.get(label)})", f"{v['p50']:.1f} / {v['p95']:.1f}"])
    rows.append(["peak RSS after the searches (MiB)", out["rss_mib"]])
    if add:
        rows.append([f"add {add:,} passages (s)", out[f"add_{add // 1000}k_seconds"]])
        rows.append(
            [
                "  write / embed / refresh (s)",
                " / ".join(f"{parts[k]:.1f}" for k in ("write_s", "embed_s", "refresh_s")),
            ]
        )
        rows.append(["  loop lag p50 / p99 / max (ms)", f"{lag['p50']:.1f} / {lag['p99']:.1f} / {lag['max']:.1f}"])
    run.table(f"bench_scale: {n:,} passages, dense = {args.mode} ({mode})", ["measure", "value"], rows)
    return out


def skip_neighbour_catch_up(desk) -> None:
    """The engine's next refresh computes no neighbour lists for the passages already embedded:
    neither past its watermark nor the full pass it makes when lists are missing behind it (at 1M
    the ~30 minutes that a timed sample stands in for); passages added later still get theirs."""
    engine = desk.retriever.engine
    engine._watermark = desk.archive.max_passage_rowid()
    engine._missing_after_full = desk.archive.embedded_passage_count() - desk.archive.neighbour_list_count()


def bench_queries(n: int) -> list[str]:
    """The scale benchmarks' n distinct queries (the same every run)."""
    gen = TextGen(seed=99)
    return list(dict.fromkeys(gen.query() for _ in range(n * 2)))[:n]


def search_conditions(desk) -> dict[str, dict]:
    """The searches timed: unfiltered, a 30-day and a 1-year window (3 and 4-5 years back), the
    first outlet, and guild A's scope; each as keyword arguments of ``Newsdesk.retriever.search``."""
    from index.models import Scope

    outlets = [o["outlet"] for o in desk.archive.outlets()]
    now = datetime.now(UTC)

    def day(days_back: int) -> str:
        return (now - timedelta(days=days_back)).date().isoformat()

    return {
        "unfiltered": {},
        "date window 30 days": {"since": day(3 * 365 + 30), "until": day(3 * 365)},
        "date window 1 year": {"since": day(5 * 365), "until": day(4 * 365)},
        "outlet": {"source": outlets[0]},
        "server scope": {"scope": Scope(GUILD_A, everything=False)},
    }


def start_chroma_server(path: Path):
    """`chroma run` on 127.0.0.1 serving ``path``; (process, url) once it answers its heartbeat."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    log = open(path.parent / "chroma-server.log", "w")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"chroma run exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("chroma run did not answer within 300 s")


def main(argv=None) -> dict:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, help="archive size (default 100,000; --quick 20,000)")
    parser.add_argument("--million", action="store_true", help="1,000,000 passages (slow: hours; not run by default)")
    parser.add_argument(
        "--data-dir",
        help="where to build (default /tmp/bench-scale-<n>-<stamp>); an existing built dir is reused as it is",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir (for bench_memory.py)")
    parser.add_argument("--build-only", action="store_true", help="build the archive and stop")
    parser.add_argument("--queries", type=int, help="distinct queries per condition (default 100; --quick 50)")
    parser.add_argument("--real-query", action="store_true", help="embed the queries with the real model (beforehand)")
    parser.add_argument("--mode", default="auto", choices=["auto", "mirror", "engine"], help="index.dense")
    parser.add_argument("--neighbours", default="auto", choices=["auto", "exact", "ann"], help="index.neighbours")
    parser.add_argument("--add", type=int, default=10_000, help="passages added while the loop is probed (0: none)")
    parser.add_argument("--recall-sample", type=int, default=1000, help="passages for the ANN recall@10 (mirror mode)")
    parser.add_argument(
        "--neighbour-sample",
        type=int,
        default=0,
        help="engine: time ANN lists for this many passages and extrapolate, instead of computing all",
    )
    parser.add_argument(
        "--server",
        action="store_true",
        help="serve the archive's Chroma directory with `chroma run` on 127.0.0.1 and search through it; "
        "the add is then written by another process (as a `newsdesk worker` would)",
    )
    parser.add_argument("--chroma-url", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--add-only", type=int, default=0, help="(internal) write and embed N passages into --data-dir, and stop"
    )
    parser.add_argument("--details", action="store_true", help="also the older detailed tables (mirror only)")
    args = parser.parse_args(argv)
    passages = args.passages or (1_000_000 if args.million else 20_000 if args.quick else 100_000)
    args.queries = args.queries or (50 if args.quick else 100)

    if args.add_only:  # the worker's part of an add: write and embed (VectorStore.upsert's pages)
        import numpy as np

        from index.archive import Archive
        from index.vectors.chroma import VectorStore

        data_dir = Path(args.data_dir)
        config = eval_config(data_dir)
        config = config.replace(index=dataclasses.replace(config.index, chroma_url=args.chroma_url))
        archive = Archive(config.archive_path)
        rng = np.random.default_rng(int(time.time()))
        stamp = int(time.time())
        write_passages(archive, _feeds(archive), TextGen(seed=stamp), rng, args.add_only, f"add{stamp}-", False)
        store = VectorStore(config.index, config.chroma_path, MODEL, DIM)
        topics = np.load(data_dir / "topics.npy") if (data_dir / "topics.npy").exists() else synthetic_topics(1, 11)
        embed_pending(archive, store, topics, {}, rng, direct=False, progress=False)
        archive.close()
        return {}

    if args.build_only:
        data_dir = bench_dir(f"scale-{passages}", args.data_dir)
        info = build(data_dir, passages)
        print(json.dumps(info))
        return info

    run = Run("bench_scale", args)
    reuse = args.data_dir and (Path(args.data_dir) / "bench-build.json").exists()
    if reuse:
        data_dir = Path(args.data_dir)
        build_info = json.loads((data_dir / "bench-build.json").read_text())
        print(f"reusing the archive in {data_dir} ({build_info['passages']:,} passages)")
    else:
        data_dir = bench_dir(f"scale-{passages}", args.data_dir)
        print(f"building {passages:,} passages in {data_dir} (child process) …", flush=True)
        cmd = [sys.executable, __file__, "--build-only", "--passages", str(passages), "--data-dir", str(data_dir)]
        subprocess.run(cmd, check=True, env=os.environ)
        build_info = json.loads((data_dir / "bench-build.json").read_text())
    server = None
    try:
        if args.server:
            server, args.chroma_url = start_chroma_server(data_dir / "chroma")
        run.results = measure(args, data_dir, build_info, run) if args.details else {}
        run.results.update(measure_scale(args, data_dir, build_info, run))
        run.results["chroma"] = args.chroma_url or "embedded"
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if not args.keep and not reuse:
            shutil.rmtree(data_dir, ignore_errors=True)
    run.finish()
    return run.results


if __name__ == "__main__":
    main()
