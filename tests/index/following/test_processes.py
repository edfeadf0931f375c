"""Several OS processes (bots, a worker) plan and claim topic alerts on one archive together:
every alert is planned as one process alone would plan it, and claimed exactly once."""

from __future__ import annotations

import multiprocessing
import shutil

from support.config import make_config
from support.newsroom import STORIES, make_feed

HASH_THRESHOLD = 0.3  # the hash embedder's scale (see test_alerts.py)
PROCESSES = 4


def new_desk(data_dir: str):
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder

    desk = Newsdesk(make_config(data_dir), embedder=HashEmbedder())
    desk.following.threshold = HASH_THRESHOLD
    return desk


def deliver_all(desk) -> list[tuple[int, int, str]]:
    """What one process's delivery passes claim: (follow, article, sent|summarised)."""
    claimed = []
    for _ in range(10):
        desk.following.plan()
        batches = desk.following.batches()
        if not batches:
            break
        for batch in batches:
            for alert in batch.alerts:
                if desk.following.claim(batch.follow.id, alert.article.id):
                    desk.following.sent(batch.follow.id, alert.article.id, 1)
                    claimed.append((batch.follow.id, alert.article.id, "sent"))
            for alert in batch.overflow:
                if desk.following.summarise(batch.follow.id, alert.article.id):
                    claimed.append((batch.follow.id, alert.article.id, "summarised"))
    return claimed


def _process(data_dir: str, barrier, results) -> None:
    """All plan together, then all list the queued alerts, then all claim them together."""
    try:
        desk = new_desk(data_dir)
        barrier.wait(120)
        desk.following.plan()
        barrier.wait(120)
        batches = desk.following.batches()
        barrier.wait(120)
        claimed = []
        for batch in batches:
            for alert in batch.alerts:
                if desk.following.claim(batch.follow.id, alert.article.id):
                    claimed.append((batch.follow.id, alert.article.id, "sent"))
            for alert in batch.overflow:
                if desk.following.summarise(batch.follow.id, alert.article.id):
                    claimed.append((batch.follow.id, alert.article.id, "summarised"))
        results.put((len([a for b in batches for a in b.alerts + b.overflow]), claimed))
        desk.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"{exc.__class__.__name__}: {exc}")


def test_processes_plan_and_claim_each_alert_once(tmp_path, feed_server):
    data = tmp_path / "data"
    desk = new_desk(str(data))
    planet = make_feed(feed_server, "planet", "Daily Planet", STORIES, "/race")
    wire = make_feed(feed_server, "wire", "Wire Service", STORIES[:1], "/race")
    desk.feeds.add(planet.url, "Daily Planet")
    desk.feeds.add(wire.url, "Wire Service")
    desk.indexing.ingest()
    desk.following.add("volcano eruption", guild_id=1, channel_id=10)
    desk.following.add("volcano eruption", user_id=20)
    desk.following.add("interest rates inflation", guild_id=1, channel_id=11)
    places = ["Hekla", "Katla", "Askja", "Grimsvotn", "Krafla", "Eyjafjallajokull", "Bardarbunga"]
    for i, place in enumerate(places):
        planet.add_item(
            f"{place} volcano eruption begins",
            f"The {place} volcano began an eruption; {' '.join(f'{place.lower()}{j}' for j in range(i + 8))}.",
            slug=f"v{i}",
        )
    wire.add_item("Hekla volcano eruption begins", "Wire: the Hekla volcano began an eruption overnight.", slug="w")
    planet.add_item("Inflation eases as interest rates bite", "Inflation eased as interest rates bite.", slug="i")
    planet.add_item("Tram timetable changes", "Trams run less often on Sunday.", slug="t")
    desk.indexing.ingest()
    desk.close()

    alone = tmp_path / "alone"
    shutil.copytree(data, alone / "data")
    single = new_desk(str(alone / "data"))
    expected = deliver_all(single)  # one pass: the per-target cap splits sent and summarised the same way
    single.close()
    assert len(expected) == 2 * len(places) + 1  # each volcano story per follow (Hekla's copy folded), one on rates

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_process, args=(str(data), barrier, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    out = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(isinstance(o, tuple) for o in out), out
    assert all(listed == len(expected) for listed, _ in out)  # every process saw every queued alert
    claimed = [c for _, o in out for c in o]
    assert len(claimed) == len(set(claimed))  # ...and each was claimed by exactly one of them
    assert sorted(claimed) == sorted(expected)  # planned together as one process alone plans
