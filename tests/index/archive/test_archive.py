"""The archive: a plain SQLite file, idempotent migrations, and a keyword search that never
raises on what users type."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from support.config import make_config
from support.feeds import Item, long_text, rss20
from support.http import Site

from index.archive import MIGRATIONS, Archive, fts_query
from index.errors import ArchiveError
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

NOW = datetime.now(UTC)


def fill(http_server, data_dir, prefix: str) -> Newsdesk:
    """An archive of two articles, one long, fetched from a feed over HTTP."""
    site = Site(http_server, prefix)
    desk = Newsdesk(make_config(data_dir), embedder=HashEmbedder())
    desk.feeds.add(
        site.serve(
            "/feed.xml",
            rss20(
                "Archive Times",
                [
                    Item(
                        "Volcano erupts",
                        long_text("volcano", 12),
                        link=site.url("/v.html"),
                        guid="v",
                        date=NOW - timedelta(days=1),
                    ),
                    Item(
                        "Rates rise",
                        long_text("bank", 12),
                        link=site.url("/b.html"),
                        guid="b",
                        date=NOW - timedelta(days=2),
                    ),
                ],
            ),
        )
    )
    report = desk.indexing.ingest()
    assert report.articles_new == 2
    return desk


@pytest.fixture(scope="module")
def filled(http_server, tmp_path_factory):
    """One archive with two articles for the whole module (the tests only read it)."""
    desk = fill(http_server, tmp_path_factory.mktemp("archive") / "data", "/archive-module")
    yield desk
    desk.close()


def test_migrations_are_idempotent(tmp_path):
    path = tmp_path / "archive.db"
    first = Archive(path)
    first.close()
    second = Archive(path)
    assert second.migrate() == []
    names = [r[0] for r in second.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(fn.__name__ for fn in MIGRATIONS)
    second.close()


def test_reopening_keeps_the_data(filled):
    path = filled.config.archive_path
    counts = filled.archive.counts()
    again = Archive(path)  # a second handle, as another process would open it
    assert again.migrate() == []
    assert again.counts() == counts
    again.close()


def test_the_archive_is_a_plain_sqlite_file(filled):
    path = filled.config.archive_path
    filled.archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"feeds", "articles", "passages", "article_feeds", "migrations"} <= tables
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
        assert conn.execute("SELECT title FROM articles ORDER BY published_ts DESC").fetchall() == [
            ("Volcano erupts",),
            ("Rates rise",),
        ]
        assert conn.execute("SELECT count(*) FROM passages WHERE embedded = 1").fetchone()[0] >= 2
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"


def test_stats_keys(filled):
    stats = filled.health.stats()
    assert {"feeds", "articles", "passages", "embedded_passages", "model"} <= set(stats)
    assert stats["feeds"] == 1 and stats["articles"] == 2
    assert stats["passages"] == stats["embedded_passages"] > 0
    assert stats["model"] == "hash-embedder-256"


HOSTILE = [
    '"',
    '""',
    "*",
    "NEAR(",
    "NEAR(a b",
    "AND OR",
    "OR",
    "NOT",
    "AND",
    "a AND",
    "(",
    ")",
    "^",
    "'); DROP TABLE passages; --",
    "title:volcano",
    "volcano*",
    "-volcano",
    "{volcano}",
    "col:",
    "\x00",
    "\u200b",
    "🌋🔥",
    "🌋",
    "%",
    "_",
    "\\",
    "' OR 1=1 --",
    "x" * 10_000,
    "volcano " * 2000,
    " ".join(f"w{i}" for i in range(500)),
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:20]))
def test_keyword_search_never_raises_on_hostile_text(filled, text):
    result = filled.archive.keyword_search(text, limit=10, since_ts=None, until_ts=None)
    assert isinstance(result, list)
    for pid, article_id, score in result:
        assert isinstance(pid, str) and isinstance(article_id, int) and isinstance(score, float)
    assert filled.archive.counts()["passages"] > 0  # nothing was dropped


def test_fts_query_quotes_every_word():
    assert fts_query('volcano" OR "lava') == '"volcano" OR "lava"'
    assert fts_query("NEAR(") == '"near"'
    assert fts_query("🌋") is None and fts_query("") is None
    assert len(fts_query(" ".join(f"w{i}" for i in range(500))).split(" OR ")) == 64


def test_keyword_search_finds_words_and_respects_dates(filled):
    hits = filled.archive.keyword_search("lava harbour", limit=10, since_ts=None, until_ts=None)
    assert hits and {a for _, a, _ in hits} == {filled.archive.get_article("v").id}
    later = filled.archive.keyword_search("lava", limit=10, since_ts=NOW.timestamp(), until_ts=None)
    assert later == []


def test_an_unreadable_archive_file_is_a_clear_error(tmp_path):
    path = tmp_path / "archive.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ArchiveError, match="cannot open archive"):
        Archive(path)


def test_an_archive_path_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(ArchiveError, match="cannot create archive directory"):
        Archive(blocker / "data" / "archive.db")


def stored_neighbours(archive) -> set[str]:
    return {r[0] for r in archive.db.execute("SELECT passage_id FROM passage_neighbours")}


def test_neighbours_are_forgotten_when_a_passage_is_reembedded_or_removed(http_server, tmp_path):
    desk = fill(http_server, tmp_path / "data", "/archive-neighbours")
    try:
        desk.retriever.search("volcano")  # stores every embedded passage's neighbour similarities
        archive = desk.archive
        rows = archive.embedded_passage_rows()
        all_ids, lists = {r[0] for r in rows}, {r[0]: r[4] for r in rows}
        assert rows and None not in lists.values()
        feed_id = archive.list_feeds()[0].id

        archive.mark_embedded([rows[0][0]])  # its vector was rewritten: its neighbours are stale
        assert stored_neighbours(archive) == all_ids - {rows[0][0]}
        archive.save_neighbours(lists)
        archive.mark_all_unembedded(feed_id)  # a feed reindexed: all of its passages
        assert stored_neighbours(archive) == set()
        archive.save_neighbours(lists)
        archive.mark_all_unembedded()  # a full reindex
        assert stored_neighbours(archive) == set()
        archive.save_neighbours(lists)
        archive.remove_feed(feed_id)  # its articles deleted with their passages
        assert stored_neighbours(archive) == set()
    finally:
        desk.close()


def test_document_frequency_counts_articles(filled):
    archive = filled.archive
    volcano_passages = archive.db.execute(
        "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'volcano'"
    ).fetchone()[0]
    assert volcano_passages > 1  # a long article: the word in several passages
    assert archive.document_frequency("volcano") == 1  # but one article
    assert archive.document_frequency("volcanoes") == 1  # stemmed as the keyword index stems it
    assert archive.document_frequency("zzzunknown") == 0
    assert archive.document_frequency("!!!") == 0
