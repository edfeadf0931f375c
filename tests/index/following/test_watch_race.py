"""Several OS processes check the same watches at once on one archive: each change is claimed by
exactly one of them (the watch-id + fingerprint claim and the compare-and-swap of the stored answer)."""

from __future__ import annotations

import multiprocessing

from support.config import make_config
from support.newsroom import STORIES, WIRE_STORIES, make_feed

from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

QUESTIONS = (
    "What happened with the volcano eruption near Grindavik?",
    "Were the residents of Grindavik evacuated from the volcano?",
)
RELATED = (
    "Grindavik volcano eruption ends as lava stops flowing",
    "The volcano eruption near Grindavik ended on Thursday when the lava stopped flowing from the fissure, "
    "geologists said, and residents of Grindavik were allowed to return to the town after the evacuation.",
)


def _checker(config, barrier, results) -> None:
    try:
        desk = Newsdesk(config, embedder=HashEmbedder())
        desk.reading.ask(QUESTIONS[0])  # warm: the mirror loaded before the race
        barrier.wait(120)
        results.put([c.watch.id for c in desk.watches.check()])
        desk.close()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"{exc.__class__.__name__}: {exc}")
        barrier.abort()


def test_processes_racing_on_one_archive_claim_each_change_once(tmp_path, feed_server):
    config = make_config(tmp_path / "data")
    planet = make_feed(feed_server, "planet", "Daily Planet", STORIES, "/race")
    wire = make_feed(feed_server, "wire", "Wire Service", WIRE_STORIES, "/race")
    desk = Newsdesk(config, embedder=HashEmbedder())
    desk.feeds.add(planet.url)
    desk.feeds.add(wire.url)
    desk.indexing.ingest()
    watches = [desk.watches.add(q)[0] for q in QUESTIONS]
    planet.add_item(*RELATED, slug="ended")
    desk.indexing.ingest()
    desk.close()

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_checker, args=(config, barrier, results)) for _ in range(3)]
    for p in procs:
        p.start()
    out = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(isinstance(o, list) for o in out), out
    claimed = sorted(i for o in out for i in o)
    assert claimed == sorted(w.id for w in watches), out  # each watch's change once, over all processes
    check = Newsdesk(config, embedder=HashEmbedder())
    assert all(len(check.archive.watch_notices(w.id)) == 1 for w in watches)
    check.close()
