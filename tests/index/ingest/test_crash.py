"""Crash consistency: `newsdesk ingest` killed with SIGKILL at several points, then run again to
completion. Afterwards `newsdesk doctor --json` is ok, no article is archived twice, and the
archive's passages are exactly the vectors in Chroma."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from support.config import make_config, newsdesk, start_newsdesk, write_config
from support.feeds import Item, long_text, rss20
from support.http import delayed, hang, static
from support.kills import archive_is_sound, counts, kill_when

from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

NOW = datetime.now(UTC)
TOPICS = ("volcano", "bank", "octopus", "football")
FEEDS = 5


class Served:
    """FEEDS feeds on the test server; each round adds items, so every run has new work."""

    def __init__(self, site, server):
        self.site, self.server = site, server
        self.items: dict[int, list[Item]] = {f: [] for f in range(FEEDS)}

    def add_round(self, round_no: int, per_feed: int) -> None:
        for f in range(FEEDS):
            for i in range(per_feed):
                n = len(self.items[f])
                topic = TOPICS[(f + n) % len(TOPICS)]
                self.items[f].append(
                    Item(
                        f"Feed {f} round {round_no} item {i}: {topic}",
                        f"Round {round_no}, feed {f}, item {i}. " + long_text(topic, 24),
                        link=self.site.url(f"/crash/{f}/{n}.html"),
                        guid=f"crash-{f}-{n}",
                        date=NOW - timedelta(minutes=n),
                    )
                )
            # later feeds answer later, so writing and embedding are spread over the run
            self.site.route(
                f"/crash/{f}.xml", delayed(static(rss20(f"Crash Feed {f}", self.items[f])), 0.15 * f, self.server)
            )

    def url(self, f: int) -> str:
        return self.site.url(f"/crash/{f}.xml")

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.items.values())


@pytest.fixture
def crash_env(site, http_server, tmp_path):
    data_dir = tmp_path / "data"
    config = write_config(tmp_path / "newsdesk.toml", timeout_seconds=10.0, fetch_full_text="never")
    served = Served(site, http_server)
    served.add_round(1, 30)
    desk = Newsdesk(make_config(data_dir), embedder=HashEmbedder())
    for f in range(FEEDS):
        desk.feeds.add(served.url(f))
    desk.close()
    return data_dir, config, served


def test_ingest_killed_at_several_points_recovers_to_a_consistent_index(crash_env, site, http_server):
    data_dir, config, served = crash_env
    archive = data_dir / "archive.db"

    # 1. while passages are being written, before they are embedded
    proc = start_newsdesk(["ingest", "--json"], data_dir, config)
    kill_when(proc, lambda: counts(archive)[1] > 0, "passages archived but not embedded")
    archive_is_sound(archive)

    # 2. in the middle of embedding: some of the new passages have vectors, some not
    served.add_round(2, 30)
    before = counts(archive)
    proc = start_newsdesk(["ingest", "--json"], data_dir, config)
    kill_when(
        proc,
        lambda: (lambda c: c[0] > before[0] and 0 < c[1] < c[0] - before[0] + before[1])(counts(archive)),
        "embedding under way",
    )
    archive_is_sound(archive)

    # 3. while a slow server keeps a feed's fetch open
    served.add_round(3, 10)
    slow_path = site.path("/crash/0.xml")
    http_server.routes[slow_path] = hang(http_server, 30)
    hits_before = len(site.hits("/crash/0.xml"))
    proc = start_newsdesk(["ingest", "--json"], data_dir, config)
    kill_when(proc, lambda: len(site.hits("/crash/0.xml")) > hits_before, "slow fetch in progress")
    archive_is_sound(archive)
    served.add_round(4, 5)  # the slow feed answers again (and every feed has news)

    # 4. shortly after start, wherever that is
    proc = start_newsdesk(["ingest", "--json"], data_dir, config)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    archive_is_sound(archive)

    # then one run to the end
    done = newsdesk(["ingest", "--json"], data_dir, config, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["errors"] == {} and report["feeds_ok"] == FEEDS

    doctor = newsdesk(["doctor", "--json"], data_dir, config)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr[-2000:]
    result = json.loads(doctor.stdout)
    assert result["ok"] is True and result["problems"] == [], result
    assert result["counts"]["vectors"] == result["counts"]["passages"] == result["counts"]["embedded_passages"]

    desk = Newsdesk(make_config(data_dir), embedder=HashEmbedder())
    try:
        db = desk.archive.db
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == served.total
        assert db.execute("SELECT count(DISTINCT guid) FROM articles").fetchone()[0] == served.total
        assert db.execute("SELECT count(DISTINCT url) FROM articles").fetchone()[0] == served.total
        assert desk.archive.all_passage_ids() == desk.parts.store_or_open().all_ids()
        assert desk.archive.pending_vector_deletes() == []
        assert desk.retriever.search("deep-sea octopus broods eggs").hits[0].article.title.endswith("octopus")
    finally:
        desk.close()
