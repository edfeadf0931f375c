"""Many machines: two bot processes and a worker, each with its own data directory,
sharing nothing but a PostgreSQL archive and a `chroma run` server (all on 127.0.0.1).

* every new article is auto-posted once over both bots, every feed-health notice is sent once,
  and both bots give the same answer to the same question;
* a bot that polls, killed with SIGKILL in the middle of an ingest, leaves nothing half-done: no
  article without its passages, no duplicate; the next worker run finishes the work, every passage
  ends up embedded exactly once in Chroma, and ``newsdesk doctor`` finds no problem.

The servers are the tests' own: a throwaway PostgreSQL cluster (tests/support/postgres.py) and a
real Chroma server (tests/support/chroma.py); the tests skip when either cannot be started.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.config import write_toml
from support.newsroom import METRO, FeedServer, make_feed

from index.archive import Archive
from index.config import load_config

NEWSDESK = Path(sys.executable).with_name("newsdesk")
PASS = 61  # virtual seconds: one posting pass and one health pass (both 60 s)
QUESTION = "What happened with the metro line extension?"
FLAKY = ("Ferry timetable changes", "The ferry operator changed its winter timetable, adding two sailings.", 1)


@pytest.fixture(scope="module")
def server():
    server = FeedServer()
    yield server
    server.close()


class Machines:
    """Three machines' configs: bot-a, bot-b and worker, each its own data dir and config file."""

    def __init__(self, root: Path, archive_url: str, chroma_url: str, admin_channel: int = 0):
        self.root, self.archive_url, self.chroma_url = root, archive_url, chroma_url
        self.collection = f"mm_{root.name[-12:].replace('-', '_')}"
        self.write(admin_channel)

    def write(self, admin_channel: int) -> None:
        for name in ("bot-a", "bot-b", "worker"):
            (self.root / name).mkdir(exist_ok=True)
            write_toml(
                self.path(name),
                data={"dir": str(self.root / name / "data")},
                archive={"url": self.archive_url},
                index={"chroma_url": self.chroma_url, "collection": self.collection},
                embedding={"model": "hash-embedder-256"},
                discord={"admin_channel": admin_channel},
                feeds={
                    "fetch_full_text": "never",
                    "allow_private_networks": True,
                    "retries": 0,
                    "timeout_seconds": 10.0,
                    # `worker --once` is one poll: the killed bot's 243-entry feed must be finished by one worker run
                    "max_entries_per_poll": 1000,
                },
            )

    def path(self, name: str) -> Path:
        return self.root / name / "newsdesk.toml"

    def archive(self) -> Archive:
        return Archive(self.archive_url)


def new_desk(config):
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder

    return Newsdesk(config, embedder=HashEmbedder())


def new_env(config, desk, poll: bool = False):
    import simcord

    from bot import create_bot

    return simcord.Env(create_bot(config, desk, poll=poll))


def world(env):
    """The same world in every process (simcord ids are deterministic: same calls, same ids)."""
    guild = env.create_guild("Newsroom")
    news = guild.create_text_channel("news")
    admin_log = guild.create_text_channel("admin-log")
    member = guild.add_member(env.create_user("reader"))
    return guild, news, admin_log, member


def run_worker(config_path: Path) -> str:
    env = dict(os.environ, NEWSDESK_ALLOW_PRIVATE_NETWORKS="1")
    env.pop("NEWSDESK_DATA_DIR", None)
    env.pop("NEWSDESK_ARCHIVE_URL", None)
    proc = subprocess.run(
        [str(NEWSDESK), "--config", str(config_path), "worker", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def make_due(machines: Machines) -> None:
    archive = machines.archive()
    archive.db.execute("UPDATE feeds SET next_poll_at = 0")
    archive.close()


def ids_of_world(config) -> tuple[int, int]:
    """The news and admin-log channel ids every process's world will have."""

    async def probe() -> tuple[int, int]:
        desk = new_desk(config)
        try:
            _, news, admin_log, _ = world(new_env(config, desk))
            return news.id, admin_log.id
        finally:
            desk.close()

    return asyncio.run(probe())


# -- two bots and a worker ---------------------------------------------------------------------------------
def _bot_process(config_path: str, barrier, results) -> None:
    os.environ["NEWSDESK_ALLOW_PRIVATE_NETWORKS"] = "1"
    try:
        results.put(asyncio.run(_bot_main(config_path, barrier)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put({"error": f"{exc.__class__.__name__}: {exc}"})
        barrier.abort()


async def _bot_main(config_path: str, barrier) -> dict:
    config = load_config(config_path)
    desk = new_desk(config)
    env = new_env(config, desk)
    _, news, admin_log, member = world(env)
    await env.start()
    try:
        await env.advance_time(PASS)  # only the backlog so far: nothing to post or announce
        before = len(news.history()), len(admin_log.history())
        await asyncio.to_thread(barrier.wait, 120)  # ready
        await asyncio.to_thread(barrier.wait, 300)  # the worker archived new articles; a feed broke
        await env.advance_time(PASS)  # both bots run their posting and health passes now
        await env.advance_time(PASS)
        urls = [m.embeds[0].url for m in news.history() if m.author.id == env.bot.user.id and m.embeds]
        answer = await member.slash(news, "ask", question=QUESTION)
        embed = answer.response.embeds[0] if answer.response.embeds else None
        return {
            "pid": os.getpid(),
            "before": before,
            "urls": urls,
            "notices": [m.content for m in admin_log.history() if m.author.id == env.bot.user.id],
            "answer": (answer.response.content or "", embed.description if embed else "", embed.url if embed else ""),
            "index": desk.health.stats()["index"],
            "articles": desk.health.stats()["articles"],
        }
    finally:
        await env.shutdown()
        desk.close()


def test_two_bots_and_a_worker_on_postgresql_and_a_chroma_server(server, postgres_url, chroma_server, tmp_path):
    machines = Machines(tmp_path, postgres_url, chroma_server.url)
    news_id, admin_id = ids_of_world(load_config(machines.path("worker")))
    machines.write(admin_id)
    metro = make_feed(server, "metro", "Metro News", METRO, "/mm1")
    flaky = make_feed(server, "flaky", "Flaky Wire", [FLAKY], "/mm1")
    worker_config = load_config(machines.path("worker"))
    desk = new_desk(worker_config)
    desk.feeds.add(metro.url, "Metro", channel_id=news_id)
    desk.feeds.add(flaky.url, "Flaky")
    desk.close()
    log = run_worker(machines.path("worker"))  # the backlog: archived, never posted
    assert "poll: 2 ok, 0 failed" in log, log

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_bot_process, args=(str(machines.path(name)), barrier, results))
        for name in ("bot-a", "bot-b")
    ]
    for p in procs:
        p.start()
    try:
        barrier.wait(180)
        links = [
            metro.add_item(
                f"Metro line extension update {i}: the line reaches station {i}",
                f"The metro line extension reached station {i} on Monday; passengers can ride the new metro "
                f"line to station {i} from next week, the transit authority said.",
                slug=f"ext-{i}",
            )
            for i in range(5)
        ]
        flaky.fail(500)
        make_due(machines)
        log = run_worker(machines.path("worker"))
        assert "5 new articles" in log and "1 failed" in log, log
        barrier.wait(180)
        out = [results.get(timeout=300) for _ in procs]
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
    assert not any("error" in o for o in out), out
    assert len({o["pid"] for o in out}) == 2 and all(o["before"] == (0, 0) for o in out), out
    assert all(o["index"] == chroma_server.url and o["articles"] == 8 for o in out), out  # 2 + 1 + 5
    # every new article posted once, over both bots together
    urls = [u for o in out for u in o["urls"]]
    assert sorted(urls) == sorted(links), out
    # the broken feed announced once, by one of them
    notices = [n for o in out for n in o["notices"]]
    assert len(notices) == 1 and "Flaky" in notices[0] and "failing" in notices[0], notices
    # the same answer from both bots, citing one of the new articles
    assert out[0]["answer"] == out[1]["answer"], out
    assert "metro" in out[0]["answer"][1].lower(), out
    archive = machines.archive()
    try:
        rows = archive.db.execute("SELECT channel_id, article_id, message_id FROM posts").fetchall()
        assert len(rows) == 5 and {r[0] for r in rows} == {news_id} and all(r[2] for r in rows)
    finally:
        archive.close()
    # nothing was written to any machine's own disk but its models/logs: no SQLite archive, no local Chroma
    for name in ("bot-a", "bot-b", "worker"):
        data = tmp_path / name / "data"
        assert not (data / "archive.db").exists() and not (data / "chroma").exists(), list(data.glob("*"))


# -- a polling bot killed mid-ingest -----------------------------------------------------------------------
def _polling_bot(config_path: str) -> None:
    os.environ["NEWSDESK_ALLOW_PRIVATE_NETWORKS"] = "1"

    async def main() -> None:
        config = load_config(config_path)
        desk = new_desk(config)
        env = new_env(config, desk, poll=True)
        world(env)
        await env.start()
        while True:  # polls (and ingests) until it is killed
            await env.advance_time(PASS)

    asyncio.run(main())


def _progress(archive_url: str) -> tuple[int, int, int]:
    """(articles, passages, unembedded) as another machine sees them."""
    import psycopg

    with psycopg.connect(archive_url, autocommit=True) as conn:
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        passages, waiting = conn.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN embedded = 0 THEN 1 ELSE 0 END), 0) FROM passages"
        ).fetchone()
    return int(articles), int(passages), int(waiting)


def test_a_bot_killed_mid_ingest_on_postgresql_leaves_nothing_half_done(server, postgres_url, chroma_server, tmp_path):
    machines = Machines(tmp_path, postgres_url, chroma_server.url)
    wire = make_feed(server, "wire", "Wire", METRO, "/mm2")
    for i in range(240):
        wire.add_item(
            f"Wire story {i}: the harbour council votes on plan {i}",
            " ".join(f"Paragraph {p} of story {i}: the harbour council debated plan {i} for hours." for p in range(40)),
            slug=f"w-{i}",
        )
    desk = new_desk(load_config(machines.path("bot-a")))
    desk.feeds.add(wire.url, "Wire")
    desk.close()

    ctx = multiprocessing.get_context("spawn")
    bot = ctx.Process(target=_polling_bot, args=(str(machines.path("bot-a")),))
    bot.start()
    seen = (0, 0, 0)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            seen = _progress(postgres_url)
            if 0 < seen[0] < len(METRO) + 240 and seen[2] > 0:  # part of the feed written, part of it not yet embedded
                os.kill(bot.pid, signal.SIGKILL)
                break
            if not bot.is_alive():
                pytest.fail(f"the bot exited before the kill point (exit code {bot.exitcode})")
            time.sleep(0.01)
        else:
            pytest.fail(f"kill point never reached: {seen}")
    finally:
        bot.join(30)
        if bot.is_alive():
            bot.kill()
    assert bot.exitcode == -signal.SIGKILL

    archive = machines.archive()
    try:
        # nothing half-done: every article has its passages, every passage its article, no duplicate
        orphan_articles = (
            "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.article_id = a.id)"
        )
        assert archive.db.execute(orphan_articles).fetchone()[0] == 0
        orphan_passages = (
            "SELECT count(*) FROM passages p WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = p.article_id)"
        )
        assert archive.db.execute(orphan_passages).fetchone()[0] == 0
        dupes = "SELECT count(*) FROM (SELECT guid FROM articles GROUP BY guid HAVING count(*) > 1) d"
        assert archive.db.execute(dupes).fetchone()[0] == 0
        after_kill = _progress(postgres_url)
        assert 0 < after_kill[0] < len(METRO) + 240, after_kill
    finally:
        archive.close()

    make_due(machines)
    run_worker(machines.path("worker"))  # another machine finishes the work
    articles, passages, waiting = _progress(postgres_url)
    assert articles == len(METRO) + 240 and waiting == 0 and passages > articles  # METRO's first story and the 240
    desk = new_desk(load_config(machines.path("worker")))
    try:
        store = desk.parts.store_or_open()
        assert store.count() == passages  # each passage once in Chroma: none lost, none twice
        report = desk.health.doctor()
        assert report.ok and report.problems == [], report.problems
        assert desk.retriever.search("harbour council plan 7").hits
    finally:
        desk.close()
    env = dict(os.environ, NEWSDESK_ALLOW_PRIVATE_NETWORKS="1")
    doctor = subprocess.run(
        [str(NEWSDESK), "--config", str(machines.path("bot-b")), "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
