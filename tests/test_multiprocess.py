"""A worker and several bots on one archive: every new article is auto-posted once.

* a real ``newsdesk worker --once`` subprocess ingests (first run = backlog, never posted);
* bots started with ``poll=False`` (each with its own Newsdesk on the same data dir) post what
  the worker archived — one after the other in one simcord world, and at the same time in two
  OS processes with a simcord world each (simcord's ids are deterministic, so both worlds have
  the same channel id);
* N OS processes race ``pending_posts`` + ``claim_post`` on one archive file;
* in-process: ingest outside the bot, restart, a feed re-dating old items.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.config import write_toml
from support.newsroom import METRO, FeedServer, make_feed

from index.archive import Archive
from index.archive.sql import now_iso
from index.config import load_config

# spawned children import this module: the bot stack (discord.py, simcord, chromadb) only where needed


def new_desk(config):
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder

    return Newsdesk(config, embedder=HashEmbedder())


def new_env(config, desk):
    """A simcord world around a bot that does not poll (the worker does)."""
    import simcord

    return simcord.Env(new_bot(config, desk))


def new_bot(config, desk):
    from bot import create_bot

    return create_bot(config, desk, poll=False)


NEWSDESK = Path(sys.executable).with_name("newsdesk")
POST_WAIT = 61  # virtual seconds: one posting pass (POST_INTERVAL_SECONDS)


@pytest.fixture(scope="module")
def server():
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def config_path(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.delenv("NEWSDESK_DATA_DIR", raising=False)
    return write_toml(
        tmp_path / "newsdesk.toml",
        data={"dir": str(tmp_path / "data")},
        embedding={"model": "hash-embedder-256"},
        feeds={"fetch_full_text": "never", "retries": 0, "timeout_seconds": 5.0, "workers": 2},
    )


def run_worker(config_path: Path) -> str:
    """One `newsdesk worker --once` in its own process; returns its log."""
    env = dict(os.environ, NEWSDESK_ALLOW_PRIVATE_NETWORKS="1")
    proc = subprocess.run(
        [str(NEWSDESK), "--config", str(config_path), "worker", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def make_due(config_path: Path) -> None:
    archive = Archive(load_config(config_path).archive_path)
    archive.db.execute("UPDATE feeds SET next_poll_at = 0")
    archive.close()


def new_stories(feed, tag: str, n: int) -> list[str]:
    return [
        feed.add_item(
            f"{tag} story number {i}: the council announces change {i}",
            f"Story {i} of {tag}: the city council announced change number {i} to the bus "
            "timetable, effective next month, after a consultation with residents.",
            slug=f"{tag}-{i}",
        )
        for i in range(n)
    ]


def world(env):
    """The same world in every env (simcord ids are deterministic: same calls, same ids)."""
    guild = env.create_guild("Newsroom")
    news = guild.create_text_channel("news")
    return guild, news


def posted_urls(news, bot_id) -> list[str]:
    return [m.embeds[0].url for m in news.history() if m.author.id == bot_id and m.embeds]


def posts_rows(config) -> list[tuple]:
    conn = sqlite3.connect(str(config.archive_path))
    try:
        return conn.execute("SELECT channel_id, article_id, message_id FROM posts ORDER BY article_id").fetchall()
    finally:
        conn.close()


# -- (a) a worker process, then two bots one after the other in one world -----------------------------
async def test_worker_ingests_and_bots_that_do_not_poll_post_each_new_article_once(server, config_path):
    config = load_config(config_path)
    metro = make_feed(server, "metro", "Metro News", METRO, "/a1")
    desk_a = new_desk(config)
    env = new_env(config, desk_a)
    guild, news = world(env)
    desk_a.feeds.add(metro.url, "Metro", guild_id=guild.id, channel_id=news.id)

    log = await asyncio.to_thread(run_worker, config_path)  # the backlog
    assert "poll: 1 ok, 0 failed, 2 new articles" in log, log
    await env.start()
    try:
        bot_a = env.bot
        await env.advance_time(POST_WAIT * 2)
        assert news.history() == []  # backlog: never posted

        links = new_stories(metro, "first", 3)
        make_due(config_path)
        log = await asyncio.to_thread(run_worker, config_path)
        assert "3 new articles" in log, log
        await env.advance_time(POST_WAIT)
        assert sorted(posted_urls(news, bot_a.user.id)) == sorted(links)
        assert bot_a.get_cog("Polling").runs == 0  # it never ingested itself

        # a second bot process (its own Newsdesk on the same data dir) posts nothing again
        desk_b = new_desk(config)
        await env.restart_bot(new_bot(config, desk_b))
        await env.advance_time(POST_WAIT * 3)
        assert len(news.history()) == 3

        more = new_stories(metro, "second", 2)
        make_due(config_path)
        await asyncio.to_thread(run_worker, config_path)
        await env.advance_time(POST_WAIT)
        urls = [m.embeds[0].url for m in news.history()]
        assert sorted(urls) == sorted(links + more) and len(urls) == len(set(urls))
        rows = posts_rows(config)
        assert len(rows) == 5 and all(r[0] == news.id and r[2] for r in rows)
    finally:
        await env.shutdown()
        desk_a.close()


# -- (a) two bot processes at the same time, each in its own simcord world ----------------------------------
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
    _, news = world(env)
    await env.start()
    try:
        await env.advance_time(POST_WAIT)  # only backlog so far: nothing to post
        before = len(news.history())
        await asyncio.to_thread(barrier.wait, 120)  # ready
        await asyncio.to_thread(barrier.wait, 300)  # the worker archived new articles
        await env.advance_time(POST_WAIT)  # both bots run their posting pass now
        await env.advance_time(POST_WAIT)
        return {
            "channel": news.id,
            "before": before,
            "urls": posted_urls(news, env.bot.user.id),
            "messages": len(news.history()),
            "pid": os.getpid(),
        }
    finally:
        await env.shutdown()
        desk.close()


def test_two_bot_processes_and_a_worker_post_each_new_article_once(server, config_path):
    config = load_config(config_path)
    metro = make_feed(server, "metro", "Metro News", METRO, "/a2")

    async def channel_id() -> int:
        probe_desk = new_desk(config)
        try:
            return world(new_env(config, probe_desk))[1].id
        finally:
            probe_desk.close()

    news_id = asyncio.run(channel_id())
    desk = new_desk(config)
    desk.feeds.add(metro.url, "Metro", channel_id=news_id)
    desk.close()
    run_worker(config_path)  # backlog

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    results = ctx.Queue()
    procs = [ctx.Process(target=_bot_process, args=(str(config_path), barrier, results)) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        barrier.wait(120)
        links = new_stories(metro, "news", 6)
        make_due(config_path)
        log = run_worker(config_path)
        assert "6 new articles" in log, log
        barrier.wait(120)
        out = [results.get(timeout=300) for _ in procs]
    finally:
        for p in procs:
            p.join(60)
            if p.is_alive():
                p.kill()
    assert not any("error" in o for o in out), out
    assert all(o["channel"] == news_id and o["before"] == 0 for o in out), out
    urls = [u for o in out for u in o["urls"]]
    assert sorted(urls) == sorted(links), out  # each new article once, over both bots together
    rows = posts_rows(config)
    assert len(rows) == 6 and {r[0] for r in rows} == {news_id} and all(r[2] for r in rows)


# -- (a) N processes race for the same claims -------------------------------------------------------------
def _claimer(path: str, barrier, results) -> None:
    archive = Archive(path)
    claimed = []
    try:
        barrier.wait(60)
        while True:
            rows = archive.pending_posts(limit=25)
            if not rows:
                break
            for channel_id, feed_id, article_id in rows:
                if archive.claim_post(channel_id, article_id, feed_id):
                    claimed.append((channel_id, article_id))
                    archive.record_post(channel_id, article_id, os.getpid())
        results.put(claimed)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"{exc.__class__.__name__}: {exc}")
    finally:
        archive.close()


def _race(target, path: Path, n: int) -> list[list]:
    """Start n spawned processes running target(path, barrier, results) together; the list each one put."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(str(path), barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    out = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
    assert all(isinstance(o, list) for o in out), out
    return out


def _seed(archive: Archive, feeds: dict[int, int], n: int) -> None:
    """n new articles, each carried by every feed in ``feeds`` ({feed_id: channel_id})."""
    for i in range(n):
        with archive.transaction():
            article_id = archive.write_article(
                {
                    "guid": f"race-{i}",
                    "url": f"https://example.org/race-{i}",
                    "title": f"Race {i}",
                    "outlet": "Race",
                    "published_ts": time.time(),
                    "published": now_iso(),
                    "fetched_at": now_iso(),
                    "text": f"story {i}",
                    "content_hash": f"h{i}",
                    "entry_hash": f"e{i}",
                },
                [],
            )
            for feed_id in feeds:
                archive.link_feed(article_id, feed_id)


def test_concurrent_processes_claim_every_post_exactly_once(tmp_path):
    path = tmp_path / "archive.db"
    archive = Archive(path)
    feeds = {}
    for i, channel in enumerate((111, 111, 222)):  # two feeds share channel 111: still one post there
        feed, _ = archive.add_feed(f"https://example.org/feed{i}.xml", f"feed {i}", channel_id=channel)
        archive.mark_feed_first_ok(feed.id)  # an (empty) first fetch
        feeds[feed.id] = channel
    _seed(archive, feeds, 150)
    expected = {(c, a) for c, _, a in archive.pending_posts(limit=10_000)}
    assert len(expected) == 300  # 150 articles x 2 channels
    archive.close()

    out = _race(_claimer, path, 6)
    claimed = [c for o in out for c in o]
    assert len(claimed) == len(set(claimed)) == 300 and set(claimed) == expected
    assert sum(1 for o in out if o) >= 2, "expected the work to be shared between processes"

    archive = Archive(path)
    rows = archive.db.execute(
        "SELECT channel_id, article_id, count(*), min(message_id) FROM posts GROUP BY channel_id, article_id"
    ).fetchall()
    assert len(rows) == 300 and all(r[2] == 1 and r[3] for r in rows)
    assert archive.pending_posts() == []
    assert archive.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert archive.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    archive.close()


def test_pending_posts_rules(tmp_path):
    archive = Archive(tmp_path / "archive.db")
    feed, _ = archive.add_feed("https://example.org/a.xml", "a", channel_id=5)
    quiet, _ = archive.add_feed("https://example.org/b.xml", "b")  # no channel: never posted
    _seed(archive, {feed.id: 5, quiet.id: None}, 2)  # before the first successful fetch
    assert archive.pending_posts() == []
    archive.mark_feed_first_ok(feed.id)
    archive.mark_feed_first_ok(quiet.id)
    first_ok = archive.db.execute("SELECT first_ok_at FROM feeds WHERE id = ?", [feed.id]).fetchone()[0]
    archive.mark_feed_first_ok(feed.id)  # only the first one counts
    assert archive.db.execute("SELECT first_ok_at FROM feeds WHERE id = ?", [feed.id]).fetchone()[0] == first_ok
    assert archive.pending_posts() == []  # the backlog

    with archive.transaction():  # new after the first fetch, within the same second: still news
        new_id = archive.write_article(
            {
                "guid": "n",
                "url": "https://example.org/n",
                "title": "N",
                "published_ts": time.time(),
                "content_hash": "n",
            },
            [],
        )
        old_id = archive.write_article(
            {
                "guid": "o",
                "url": "https://example.org/o",
                "title": "O",
                "published_ts": time.time() - 3 * 86400,
                "content_hash": "o",
            },
            [],
        )
        stale_id = archive.write_article(
            {
                "guid": "s",
                "url": "https://example.org/s",
                "title": "S",
                "published_ts": time.time(),
                "content_hash": "s",
            },
            [],
        )
        for article_id in (new_id, old_id, stale_id):
            archive.link_feed(article_id, feed.id)
            archive.link_feed(article_id, quiet.id)
        three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
        archive.db.execute(
            "UPDATE article_feeds SET first_seen_at = ? WHERE article_id = ?", [three_days_ago, stale_id]
        )
    # old_id: published long before the feed was added; stale_id: first seen 3 days ago (downtime)
    assert archive.pending_posts() == [(5, feed.id, new_id)]
    assert archive.claim_post(5, new_id, feed.id) and not archive.claim_post(5, new_id, feed.id)
    assert archive.pending_posts() == []
    archive.close()
    # the migration is idempotent and recorded once
    archive = Archive(tmp_path / "archive.db")
    assert archive.migrate() == []
    names = [r[0] for r in archive.db.execute("SELECT name FROM migrations").fetchall()]
    assert names.count("m002_feed_first_ok") == 1
    archive.close()


# -- (b) in one simcord world: ingest outside the bot, restart, re-dated items ------------------------------
async def test_ingest_outside_the_bot_posts_once_across_restart_and_redating(server, config_path):
    config = load_config(config_path)
    metro = make_feed(server, "metro", "Metro News", METRO, "/b")
    desk = new_desk(config)
    env = new_env(config, desk)
    guild, news = world(env)
    feed, _ = desk.feeds.add(metro.url, "Metro", guild_id=guild.id, channel_id=news.id)
    await env.start()
    try:
        await asyncio.to_thread(desk.indexing.ingest, due_only=True)  # the worker's job; the first fetch is backlog
        await env.advance_time(POST_WAIT)
        assert news.history() == []

        links = new_stories(metro, "fresh", 2)
        desk.archive.update_feed(feed.id, next_poll_at=0)
        report = await asyncio.to_thread(desk.indexing.ingest, due_only=True)
        assert report.articles_new == 2
        assert news.history() == []  # the bot did not ingest: it posts on its own schedule
        await env.advance_time(POST_WAIT)
        assert [m.embeds[0].url for m in news.history()] == links
        await env.advance_time(POST_WAIT * 5)
        assert len(news.history()) == 2

        await env.restart_bot(new_bot(config, desk))
        await env.advance_time(POST_WAIT * 5)
        assert len(news.history()) == 2

        # the feed re-dates everything (same GUIDs, new pubDate): nothing is posted again
        for item in metro.items:
            item["date"] = datetime.now(UTC)
        metro.publish()
        desk.archive.update_feed(feed.id, next_poll_at=0)
        report = await asyncio.to_thread(desk.indexing.ingest, due_only=True)
        assert report.articles_new == 0 and report.feeds_ok == 1
        await env.advance_time(POST_WAIT * 2)
        assert [m.embeds[0].url for m in news.history()] == links
        rows = posts_rows(config)
        assert len(rows) == 2 and all(r[2] for r in rows)
    finally:
        await env.shutdown()
        desk.close()


def _open_archive(path: str) -> list[str]:
    from index.archive import Archive

    archive = Archive(path)
    return [r[0] for r in archive.db.execute("SELECT name FROM migrations ORDER BY name").fetchall()]


def test_processes_opening_a_new_archive_together_migrate_it_once(tmp_path):
    import multiprocessing

    path = str(tmp_path / "archive.db")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_open_archive, [path] * 4)
    from index.archive import MIGRATIONS

    expected = sorted(fn.__name__ for fn in MIGRATIONS)
    assert all(r == expected for r in results)


# -- feed health notices: each change is announced by one process ---------------------------------------
def _announcer(path: str, barrier, results) -> None:
    archive = Archive(path)
    won = []
    try:
        barrier.wait(60)
        for feed in archive.unannounced_feed_health():
            if archive.claim_feed_notice(feed.id, "error" if feed.status == "error" else "ok"):
                won.append((feed.id, feed.status))
        results.put(won)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"{exc.__class__.__name__}: {exc}")
    finally:
        archive.close()


def _race_announcers(path: Path, n: int = 5) -> list:
    return [w for o in _race(_announcer, path, n) for w in o]


def test_processes_announce_each_feed_health_change_once(tmp_path):
    path = tmp_path / "archive.db"
    archive = Archive(path)
    ids = [archive.add_feed(f"https://example.org/h{i}.xml", f"h{i}")[0].id for i in range(12)]
    failing = ids[::3]
    for feed_id in failing:
        archive.update_feed(feed_id, status="error", last_error="HTTP 500")
    archive.close()

    won = _race_announcers(path)
    assert sorted(w[0] for w in won) == failing and all(w[1] == "error" for w in won)
    assert _race_announcers(path) == []  # nothing changed since: nothing to announce

    archive = Archive(path)
    for feed_id in failing[:2]:
        archive.update_feed(feed_id, status="ok", last_error=None)
    archive.close()
    won = _race_announcers(path)
    assert sorted(won) == sorted((f, "ok") for f in failing[:2])
