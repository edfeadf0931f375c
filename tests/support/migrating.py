"""For the migrate-archive tests: a SQLite archive built through the real pipeline from
feeds served on 127.0.0.1 (articles, passages, embedded with the hash embedder, neighbour lists
from a search), then a row in every other table through the Archive API: claims, deliveries,
follows and their alerts, digests, watches and their notices, answers and votes."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from index.models import ChannelLimits, PostTemplate

from .feeds import Item, long_text, rss20
from .http import Site

GUILD = 987654321098765432  # a real Discord id needs 64 bits
CHANNEL = 876543210987654321
USER = 765432109876543210
NOW = datetime.now(UTC)


@dataclass
class Built:
    path: Path
    feed_id: int
    article_id: int  # the article claimed for CHANNEL
    passage_id: str  # a passage with a neighbour list
    watch_id: int


def serve(site: Site, name: str, topics: list[str], copies: int = 1) -> str:
    """A feed of each topic ``copies`` times (distinct stories: their own guid, title and last line)."""
    items = [
        Item(
            f"{t.title()} news {k}",
            long_text(t, 6) + f" This was report number {k} from the {name} desk.",
            link=site.url(f"/{name}/{t}-{k}.html"),
            guid=f"{name}-{t}-{k}",
            date=NOW - timedelta(days=i + 1, minutes=k),
        )
        for k in range(copies)
        for i, t in enumerate(topics)
    ]
    return site.serve(f"/{name}.xml", rss20(f"{name.title()} Post", items))


def build_archive(desk, site: Site, copies: int = 1) -> Built:
    """The desk's SQLite archive with rows in every table (asserted); ``copies`` times 4 articles."""
    feed, _ = desk.feeds.add(serve(site, "north", ["volcano", "bank"], copies), guild_id=GUILD, channel_id=CHANNEL)
    other, _ = desk.feeds.add(serve(site, "south", ["octopus", "football"], copies))
    report = desk.indexing.ingest()
    assert report.articles_new == 4 * copies and not report.errors, report
    desk.retriever.search("volcano eruption")  # the vector mirror stores every passage's neighbour list
    a = desk.archive
    articles = [r[0] for r in a.db.execute("SELECT id FROM articles ORDER BY id").fetchall()]
    first, second, last = articles[0], articles[1], articles[-1]
    assert a.claim_post(CHANNEL, first, feed.id)
    a.record_post(CHANNEL, first, 111)
    a.claim_feed_notice(other.id, "error")
    a.add_filter(feed.id, CHANNEL, "exclude", "title", "bank", False, False, False, USER)
    a.set_channel_limits(ChannelLimits(CHANNEL, per_window=3, window_seconds=600, daily_max=20), GUILD)
    a.log_delivery(CHANNEL, second, feed.id, "filtered", "excluded: title has bank")
    a.set_template(PostTemplate(feed.id, "**{title}** {url}", "text", "Europe/Berlin"), USER)
    a.set_ping(feed.id, GUILD, 555, "title", "volcano", False, True, USER)
    a.set_feed_options(feed.id, True, "edit", "{title}", [("volcano", "tag-1")])
    a.record_article_update(first, feed.id)
    update_id = a.db.execute("SELECT max(id) FROM delivery_updates").fetchone()[0]
    assert a.claim_update(CHANNEL, first, update_id)
    assert a.claim_channel_notice(CHANNEL + 1, "missing permissions")
    a.queue_backfill(feed.id, CHANNEL, [second])
    follow = a.add_follow("volcano", GUILD, CHANNEL, None, USER)
    a.queue_alerts(follow.id, [(first, "queued", None, 0.75)], a.newest_article_seq())
    schedule = a.add_digest_schedule(GUILD, CHANNEL, "daily", 480, 0, None, USER, 5)
    assert a.claim_digest_run(schedule.id, "2026-12-02")
    watch = a.add_watch(GUILD, CHANNEL, None, "What erupted?", USER, (0, 0), [], "fp0", 10, 10)
    assert a.claim_watch_notice(watch.id, "fp0", "fp1", [["A volcano erupted.", first]], (first, 0))
    asked = a.record_asked(GUILD, "slash", "What erupted?", None, [first], False, b"\x00\x01\xfe\xff")
    a.set_vote(asked, "voter-hash", 1)
    with a.transaction():  # an article re-written: its old passages wait for their vectors' delete
        a._delete_passages(last)
    passage = a.db.execute(
        "SELECT n.passage_id FROM passage_neighbours n JOIN passages p ON p.id = n.passage_id WHERE p.article_id = ?",
        [first],
    ).fetchone()[0]
    empty = [t for t, n in table_counts(a.path).items() if n == 0]
    assert empty == [], f"tables without rows: {empty}"
    return Built(a.path, feed.id, first, passage, watch.id)


def data_tables(path: Path) -> list[str]:
    """The SQLite archive's tables holding data (not FTS5's nor the migrations record)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    finally:
        conn.close()
    return [n for n in names if not n.startswith(("passages_fts", "sqlite_")) and n != "migrations"]


def table_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in data_tables(path)}
    finally:
        conn.close()
