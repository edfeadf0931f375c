"""The tests' throwaway PostgreSQL server (tests/support/postgres.py) itself: it answers on
127.0.0.1, and each test gets a database of its own."""

from __future__ import annotations

import psycopg


def test_each_test_gets_an_empty_database_of_its_own(postgres_url, postgres_cluster):
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    other = postgres_cluster.create_database()
    assert other != postgres_url
    with psycopg.connect(other, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.t')").fetchone()[0] is None
