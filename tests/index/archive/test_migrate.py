"""index.archive.migrate: a real SQLite archive (ingested from feeds on 127.0.0.1, a
row in every table) copied into a database of the tests' throwaway PostgreSQL server — every
table verified by count and checksum, the PostgreSQL archive reading what the SQLite one did,
claims staying claimed, an interrupted copy resumed without a duplicate, a tampered or foreign
target caught. The PostgreSQL half skips without the server binaries."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from support.migrating import CHANNEL, build_archive, data_tables, table_counts

from index.archive import Archive
from index.archive import migrate as migrate_module
from index.archive.migrate import checksum, migrate_archive, row_bytes, value_bytes
from index.errors import ConfigError


@pytest.fixture
def built(desk, site):
    b = build_archive(desk, site)
    desk.close()
    return b


def sqlite_rows(path, sql, params=()):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def pg_rows(url, sql, params=()):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_values_are_normalised_by_type():
    kinds = [None, 1, 1.0, "1", b"1", True]
    encoded = [value_bytes(v) for v in kinds]
    assert len(set(encoded[:5])) == 5  # NULL, an integer, a float, text and bytes never collide
    assert encoded[5] == encoded[1]  # a bool is the integer
    assert value_bytes(0.1 + 0.2) != value_bytes(0.3)  # floats exactly (repr)
    assert row_bytes(["a", "b"]) != row_bytes(["a\x1fsb"])  # text is length-prefixed
    assert checksum([(1, "x")])[1] != checksum([(1, "y")])[1]
    assert checksum([(1,), (2,)])[1] != checksum([(2,), (1,)])[1]  # the order counts


def test_every_table_is_copied_and_the_postgresql_archive_reads_the_same(built, postgres_url):
    report = migrate_archive(built.path, postgres_url)
    assert report.mismatched == [] and not report.source_changed
    counts = table_counts(built.path)
    assert {c.table: c.source_rows for c in report.checks} == counts  # every table holding data
    assert {c.table: c.target_rows for c in report.checks} == counts
    assert report.rows_copied == sum(counts.values())
    assert "passages_fts" not in counts and "migrations" not in counts

    sqlite, pg = Archive(built.path), Archive(postgres_url)
    try:
        assert pg.latest_articles(limit=10, until_ts=None, outlets=None) == sqlite.latest_articles(
            limit=10, until_ts=None, outlets=None
        )
        assert pg.passages_by_ids([built.passage_id]) == sqlite.passages_by_ids([built.passage_id])
        assert pg.list_feeds() == sqlite.list_feeds()  # the conditional-GET state (etag, last_modified) too
        assert pg.get_meta("index_generation") == sqlite.get_meta("index_generation")  # no re-embedding
        assert pg.all_passage_ids() == sqlite.all_passage_ids()
        # a claim made on SQLite stays made: nobody posts that article there again
        assert pg.claim_post(CHANNEL, built.article_id, built.feed_id) is False
        other = max(r[0] for r in sqlite_rows(built.path, "SELECT id FROM articles"))
        assert pg.claim_post(CHANNEL, other, built.feed_id) is True
        # new rows get new ids: the sequences went past what was copied
        top = sqlite_rows(built.path, "SELECT max(id) FROM feeds")[0][0]
        added, _ = pg.add_feed("https://new.example/feed.xml")
        assert added.id == top + 1
    finally:
        sqlite.close()
        pg.close()
    sql = "SELECT passage_id, sims FROM passage_neighbours ORDER BY passage_id"
    assert [(p, bytes(s)) for p, s in pg_rows(postgres_url, sql)] == sqlite_rows(built.path, sql)
    sql = "SELECT rowid, article_id, feed_id FROM article_feeds ORDER BY rowid"  # follows' cursors read it
    assert pg_rows(postgres_url, sql) == sqlite_rows(built.path, sql)
    sql = "SELECT rowid, id FROM passages ORDER BY rowid"
    assert pg_rows(postgres_url, sql) == sqlite_rows(built.path, sql)
    sql = "SELECT watch_id, fingerprint, rowid FROM watch_notices"
    assert pg_rows(postgres_url, sql) == sqlite_rows(built.path, sql)


def test_a_rerun_of_a_complete_migration_only_verifies(built, postgres_url):
    migrate_archive(built.path, postgres_url)
    before = pg_rows(postgres_url, "SELECT table_name, last_rowid, rows_copied, updated_at FROM archive_migration")
    again = migrate_archive(built.path, postgres_url)
    assert again.resumed and again.rows_copied == 0 and again.sequences_set == [] and again.mismatched == []
    after = pg_rows(postgres_url, "SELECT table_name, last_rowid, rows_copied, updated_at FROM archive_migration")
    assert sorted(after) == sorted(before)


def test_an_interrupted_copy_resumes_without_losing_or_duplicating(built, postgres_url, monkeypatch):
    real = migrate_module._Target.copy_batch
    calls = []

    def dies_on_the_20th_batch(self, plan, rows):
        calls.append(plan.name)
        if len(calls) == 20:
            raise KeyboardInterrupt  # as a kill between two batches would leave it
        real(self, plan, rows)

    monkeypatch.setattr(migrate_module._Target, "copy_batch", dies_on_the_20th_batch)
    with pytest.raises(KeyboardInterrupt):
        migrate_archive(built.path, postgres_url, batch_size=2)
    partial = dict(pg_rows(postgres_url, "SELECT table_name, rows_copied FROM archive_migration"))
    counts = table_counts(built.path)
    assert 0 < sum(partial.values()) < sum(counts.values())
    monkeypatch.setattr(migrate_module._Target, "copy_batch", real)
    report = migrate_archive(built.path, postgres_url, batch_size=2)
    assert report.resumed and report.mismatched == []
    assert report.rows_copied == sum(counts.values()) - sum(partial.values())  # only what was missing
    assert dict(pg_rows(postgres_url, "SELECT table_name, rows_copied FROM archive_migration")) == counts


def test_a_tampered_target_row_fails_verification_naming_its_table(built, postgres_url):
    migrate_archive(built.path, postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE articles SET title = title || '!' WHERE id = %s", [built.article_id])
        conn.execute("DELETE FROM follow_alerts")
    report = migrate_archive(built.path, postgres_url, verify_only=True)
    assert report.mismatched == ["articles", "follow_alerts"]
    bad = {c.table: c for c in report.checks if not c.ok}
    assert bad["articles"].source_rows == bad["articles"].target_rows
    assert bad["follow_alerts"].target_rows == 0


def test_a_target_holding_another_archive_is_refused(built, postgres_url, tmp_path):
    other = Archive(tmp_path / "other" / "archive.db")
    other.add_feed("https://other.example/feed.xml")
    other.close()
    migrate_archive(tmp_path / "other" / "archive.db", postgres_url)
    with pytest.raises(ConfigError, match="another archive"):
        migrate_archive(built.path, postgres_url)
    assert pg_rows(postgres_url, "SELECT url FROM feeds") == [("https://other.example/feed.xml",)]


def test_a_target_with_rows_but_no_migration_record_is_refused(built, postgres_cluster):
    url = postgres_cluster.create_database()
    pg = Archive(url)
    pg.add_feed("https://already.example/feed.xml")
    pg.close()
    with pytest.raises(ConfigError, match=r"already holds an archive .*\(rows in feeds\)"):
        migrate_archive(built.path, url)
    with pytest.raises(ConfigError, match="no migration"):
        migrate_archive(built.path, url, verify_only=True)
    assert pg_rows(url, "SELECT count(*) FROM articles") == [(0,)]


def test_a_write_to_the_source_during_the_copy_is_reported(built, postgres_url, monkeypatch):
    real = migrate_module._Target.copy_batch

    def with_a_writer(self, plan, rows):
        real(self, plan, rows)
        if plan.name == "feeds":
            conn = sqlite3.connect(built.path)
            conn.execute("UPDATE meta SET value = 'changed' WHERE key = 'index_generation'")
            conn.commit()
            conn.close()

    monkeypatch.setattr(migrate_module._Target, "copy_batch", with_a_writer)
    report = migrate_archive(built.path, postgres_url)
    assert report.source_changed  # and the copy is the snapshot from the start, consistent in itself
    assert report.mismatched == []
    assert pg_rows(postgres_url, "SELECT value FROM meta WHERE key = 'index_generation'") != [("changed",)]


def test_the_source_is_only_read(built, postgres_url):
    before = built.path.read_bytes()
    migrate_archive(built.path, postgres_url)
    assert built.path.read_bytes() == before
    assert data_tables(built.path)
