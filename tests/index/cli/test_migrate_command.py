"""`newsdesk migrate-archive` on a real SQLite archive ingested from feeds on 127.0.0.1
and a database of the tests' throwaway PostgreSQL server: killed with SIGKILL in the middle of a
table and run again (same checksums, no duplicates), --verify-only naming a tampered table, the
refusals (exit 2) and a password never printed. Skips without the PostgreSQL binaries."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest
from support.cli import Cli
from support.cli import write_config as write_cli_config
from support.config import cli_env, write_config
from support.kills import kill_when
from support.migrating import build_archive, table_counts


@pytest.fixture
def built(desk, site):
    b = build_archive(desk, site, copies=40)
    desk.close()
    return b


def run_cli(args, data_dir, config_path, **popen):
    cmd = [sys.executable, "-m", "index", "--config", str(config_path), "migrate-archive", *args]
    return subprocess.Popen(cmd, env=cli_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def progress(url, conn=None) -> dict[str, int]:
    """Rows copied per table, as the progress table holds them (committed batches only)."""
    own = conn is None
    conn = conn or psycopg.connect(url, autocommit=True, connect_timeout=5)
    try:
        return dict(conn.execute("SELECT table_name, rows_copied FROM archive_migration").fetchall())
    except psycopg.errors.UndefinedTable:
        return {}
    finally:
        if own:
            conn.close()


def test_killed_mid_copy_then_rerun_gives_the_same_checksums_and_no_duplicates(built, postgres_url, tmp_path):
    config = write_config(tmp_path / "newsdesk.toml")
    data_dir = built.path.parent
    counts = table_counts(built.path)
    assert counts["passages"] > 60

    watcher = psycopg.connect(postgres_url, autocommit=True)

    def half_way() -> bool:
        n = progress(postgres_url, watcher).get("passages", 0)
        return 0 < n < counts["passages"] - 10

    proc = run_cli(["--to", postgres_url, "--batch-size", "1"], data_dir, config)
    try:
        kill_when(proc, half_way, "passages partly copied")
    finally:
        watcher.close()
    partial = progress(postgres_url)
    assert 0 < partial["passages"] < counts["passages"]
    assert partial["passage_neighbours"] == 0  # copied after passages (foreign-key order)

    done = subprocess.run(
        [sys.executable, "-m", "index", "--config", str(config), "migrate-archive", "--json", "--batch-size", "2"],
        env=cli_env(data_dir) | {"NEWSDESK_ARCHIVE_URL": postgres_url},  # the target from the environment
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["resumed"] and report["mismatched"] == []
    assert report["rows_copied"] == sum(counts.values()) - sum(partial.values())
    assert {c["table"]: c["target_rows"] for c in report["checks"]} == counts
    assert all(c["source_sha256"] == c["target_sha256"] for c in report["checks"])
    with psycopg.connect(postgres_url) as conn:
        dup = conn.execute("SELECT count(*) - count(DISTINCT id) FROM passages").fetchone()[0]
        assert dup == 0
        assert conn.execute("SELECT count(*) FROM passages").fetchone()[0] == counts["passages"]


@pytest.fixture
def cli(tmp_path):
    return Cli(write_cli_config(tmp_path / "cli"))


def test_verify_only_names_a_tampered_table_and_exits_non_zero(built, postgres_url, cli):
    first = cli("migrate-archive", "--from", built.path, "--to", postgres_url)
    assert "counts and checksums match" in first.stdout
    assert "Stop the bot and the worker" in first.stderr
    assert cli("migrate-archive", "--from", built.path, "--to", postgres_url, "--verify-only").exit_code == 0
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE passage_neighbours SET sims = sims || '\\x00'::bytea WHERE passage_id = %s", [built.passage_id]
        )
    bad = cli("migrate-archive", "--from", built.path, "--to", postgres_url, "--verify-only", code=1)
    assert "passage_neighbours" in bad.stderr and "DIFFERENT: passage_neighbours" in bad.stdout
    assert json.loads(
        cli("migrate-archive", "--from", built.path, "--to", postgres_url, "--verify-only", "--json", code=1).stdout
    )["mismatched"] == ["passage_neighbours"]


def test_refusals_exit_2_and_never_print_a_password(built, postgres_cluster, cli, tmp_path, monkeypatch):
    url = postgres_cluster.create_database()
    with_password = url.replace("postgres@", "postgres:hunter2@")
    typed = cli("migrate-archive", "--from", built.path, "--to", with_password, code=2)
    assert "PGPASSWORD" in typed.stderr and "hunter2" not in typed.output
    assert "needs a target" in cli("migrate-archive", "--from", built.path, code=2).stderr
    assert "postgresql://" in cli("migrate-archive", "--from", built.path, "--to", "mysql://x/y", code=2).stderr
    # a whole URL from the environment may hold the password (trust ignores it); it is never shown
    monkeypatch.setenv("NEWSDESK_ARCHIVE_URL", with_password)
    ok = cli("migrate-archive", "--from", built.path)
    assert "hunter2" not in ok.output and "postgres:***@" in ok.stdout
    # another archive into the same database: refused, nothing written
    other = tmp_path / "other.db"
    other.write_bytes(built.path.read_bytes())
    foreign = cli("migrate-archive", "--from", other, code=2)
    assert "another archive" in foreign.stderr and "hunter2" not in foreign.output
