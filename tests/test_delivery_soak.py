"""The delivery soak: the real bot, polling, in a child process (tests/support/soak_child.py) against
feeds on 127.0.0.1 that change over rounds — new items, a burst of 20, an edited item, a feed that
answers 500 and then recovers — with an auto-post channel, a topic follow and a watch. The child
is killed with SIGKILL twice during the burst (right after "Discord" stored a post, before the bot
could record it) and restarted on the same archive; what the channels hold is the journal the
children write at send time (restored into each new child's simcord world).

At the end: every new article was posted once in the channel, every alert the archive counts as
sent once (and nothing else), each watch notice once, the feed's failure and recovery each
announced once — and nothing is left unsettled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support.config import write_toml
from support.newsroom import METRO, FeedServer, make_feed
from support.watching import AGAIN, QUESTION, RELATED, UNRELATED

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "tests" / "support" / "soak_child.py"
BURST = 20


def probe_world() -> dict:
    """The child's channel and guild ids (simcord's ids are deterministic), read in this process."""
    import simcord

    sys.path.insert(0, str(CHILD.parent))
    try:
        from soak_child import world
    finally:
        sys.path.remove(str(CHILD.parent))

    import discord

    env = simcord.Env(discord.Client(intents=discord.Intents.default()))
    guild, channels, editor = world(env)
    return {"guild": guild.id, "editor": editor.id, **{name: c.id for name, c in channels.items()}}


def write_config(tmp_path: Path, admin_channel: int) -> Path:
    return write_toml(
        tmp_path / "newsdesk.toml",
        data={"dir": str(tmp_path / "data")},
        embedding={"model": "hash-embedder-256"},
        feeds={
            "fetch_full_text": "never",
            "retries": 0,
            "timeout_seconds": 10.0,
            "workers": 2,
            "poll_interval_minutes": 1,
        },
        discord={"admin_channel": admin_channel},
    )


class Child:
    def __init__(self, tmp_path: Path, config: Path):
        self.journal = tmp_path / "journal.jsonl"
        self.stop = tmp_path / "stop"
        self.heartbeat = tmp_path / "heartbeat"
        self.config = config
        self.log = tmp_path / "child.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.heartbeat.unlink(missing_ok=True)
        env = dict(
            os.environ,
            NEWSDESK_ALLOW_PRIVATE_NETWORKS="1",
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        )
        env.pop("NEWSDESK_DATA_DIR", None)
        paths = (self.config, self.journal, self.stop, self.heartbeat)
        args = [sys.executable, "-m", "support.soak_child", *map(str, paths)]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))

    def ticks(self) -> int:
        try:
            return int(self.heartbeat.read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"the child exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")

    def wait(self, condition, what: str, limit: float = 40.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.alive()
            if condition():
                return
            time.sleep(0.002)
        pytest.fail(f"never happened: {what}\n{self.log.read_text()[-3000:]}")

    def kill_when(self, condition, what: str) -> None:
        self.wait(condition, what)
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def finish(self) -> None:
        self.stop.write_text("stop")
        assert self.proc is not None
        self.proc.wait(60)
        assert self.proc.returncode == 0, self.log.read_text()[-3000:]


def journal(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def urls_in(entries: list[dict], channel_id: int) -> list[str]:
    return [e["embeds"][0].get("url") for e in entries if e["channel_id"] == channel_id and e["embeds"]]


def rows(config_dir: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{config_dir / 'archive.db'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def unrecorded(data: Path, journal_path: Path, channel_id: int) -> bool:
    """Whether the channel's last stored post is unknown to the archive (no message id yet): the
    kill fell between Discord taking the post and the bot recording it."""
    last = urls_in(journal(journal_path), channel_id)[-1]
    found = rows(
        data,
        f"""SELECT p.message_id FROM posts p JOIN articles a ON a.id = p.article_id
            WHERE p.channel_id = {int(channel_id)} AND a.url = '{last.replace("'", "''")}'""",
    )
    return not found or found[0][0] is None


def story(i: int) -> tuple[str, str]:
    return (
        f"Council notes number {i} on roads and parks",
        f"Notes {i}: the council published its weekly notes on roads, parks and the library opening "
        f"hours for residents, with change number {i} to the bus timetable.",
    )


def test_kills_and_restarts_during_a_burst_deliver_everything_exactly_once(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.delenv("NEWSDESK_DATA_DIR", raising=False)
    ids = probe_world()
    config = write_config(tmp_path, ids["admin-log"])
    server = FeedServer()
    try:
        metro = make_feed(server, "metro", "Metro News", METRO, "/soak")
        wire = make_feed(server, "wire", "Wire Service", METRO[:1], "/soak")
        from index.config import load_config
        from index.service import Newsdesk
        from index.vectors.embedders import HashEmbedder

        desk = Newsdesk(load_config(config), embedder=HashEmbedder())
        desk.feeds.add(metro.url, "Metro", guild_id=ids["guild"], channel_id=ids["news"])
        desk.feeds.add(wire.url, "Wire", guild_id=ids["guild"])
        desk.indexing.ingest()  # the backlog: never posted
        desk.following.add("volcano eruption", guild_id=ids["guild"], channel_id=ids["alerts"], created_by=1)
        desk.watches.add(QUESTION, guild_id=ids["guild"], channel_id=ids["watch"], created_by=ids["editor"])
        desk.close()
        data = tmp_path / "data"
        child = Child(tmp_path, config)
        news = lambda: len(urls_in(journal(child.journal), ids["news"]))  # noqa: E731

        child.start()
        child.wait(lambda: child.ticks() >= 2, "the first child polled")
        links = [metro.add_item(*RELATED, slug="ended"), metro.add_item(*UNRELATED, slug="ferry")]
        child.wait(lambda: news() >= 2, "round 1 posted")

        # round 2: a burst of 20 (one of them on the followed topic); the wire feed fails
        wire.fail(500)
        links += [metro.add_item(*story(i), slug=f"burst-{i}") for i in range(BURST - 1)]
        links.append(metro.add_item(*AGAIN, slug="again"))
        child.kill_when(lambda: news() >= 2 + 4, "a post of the burst was stored")  # mid-burst
        in_the_window = [unrecorded(data, child.journal, ids["news"])]
        child.start()  # on the same archive; the channels hold what the killed child sent
        child.kill_when(lambda: news() >= 2 + 13, "a post of the burst's second pass was stored")
        in_the_window.append(unrecorded(data, child.journal, ids["news"]))
        child.start()

        # round 3: an edited item, the wire feed recovers, two more items
        (edited,) = [item for item in metro.items if item["link"] == links[1]]
        edited["title"] = "Ferry timetable changes for the summer (updated)"
        metro.publish()
        wire.publish()
        links += [metro.add_item(*story(100 + i), slug=f"late-{i}") for i in range(2)]
        child.wait(lambda: news() >= len(links), "every new article posted", limit=60)
        settle_from = child.ticks()
        child.wait(lambda: child.ticks() >= settle_from + 4, "four more passes (nothing left to send)")
        child.finish()
    finally:
        server.close()

    # each kill came after "Discord" stored a post and before the archive recorded it
    assert all(in_the_window), in_the_window
    entries = journal(child.journal)
    # every new article once in its channel (the edited item is not posted again: updates are ignored)
    posted = urls_in(entries, ids["news"])
    assert sorted(posted) == sorted(links), Counter(posted).most_common(3)
    # every alert the archive counts as sent, once, and nothing else
    sent_alerts = rows(
        data,
        "SELECT a.url FROM follow_alerts f JOIN articles a ON a.id = f.article_id WHERE f.state = 'sent'",
    )
    alerted = urls_in(entries, ids["alerts"])
    assert sorted(alerted) == sorted(u for (u,) in sent_alerts) and len(alerted) == len(set(alerted))
    assert {links[0], links[-3]} <= set(alerted)  # the two volcano stories
    assert rows(data, "SELECT count(*) FROM follow_alerts WHERE state IN ('queued', 'sending')") == [(0,)]
    # each watch notice once (one per change of the answer the archive recorded)
    notices = [json.dumps(e["embeds"], sort_keys=True) for e in entries if e["channel_id"] == ids["watch"]]
    recorded = rows(data, "SELECT count(*) FROM watch_notices WHERE message_id IS NOT NULL")[0][0]
    assert notices and len(notices) == len(set(notices)) == recorded
    # the wire feed's failure and recovery, each announced once
    admin = [e["content"] for e in entries if e["channel_id"] == ids["admin-log"]]
    assert len([t for t in admin if "Wire" in t and "is failing" in t]) == 1, admin
    assert len([t for t in admin if "Wire" in t and "working again" in t]) == 1, admin
    # what the channel holds, the archive knows: no post left "claimed, outcome unknown" (to be sent
    # again blindly later)
    unknown = rows(data, f"SELECT count(*) FROM posts WHERE channel_id = {ids['news']} AND message_id IS NULL")
    assert unknown == [(0,)]
    # nothing left half-done in the outbox
    assert rows(data, "SELECT count(*) FROM delivery_outbox WHERE state NOT IN ('sent', 'failed')") == [(0,)]
