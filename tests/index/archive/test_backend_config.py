"""Choosing the archive's backend: ``[archive] url`` or ``NEWSDESK_ARCHIVE_URL``; the
SQLite file stays the default; every part of the archive now runs on PostgreSQL, so the service
opens a PostgreSQL URL (open_archive would refuse one, naming the parts, while any were missing)."""

from __future__ import annotations

import dataclasses

import pytest
from support.config import make_config

from index.archive import Archive
from index.archive.backends import missing_on_postgres, open_archive
from index.config import load_config
from index.errors import ConfigError
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder


def write(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sqlite_stays_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSDESK_ARCHIVE_URL", raising=False)
    config = load_config(write(tmp_path, f'[data]\ndir = "{tmp_path}/data"\n'))
    assert config.archive.url == ""
    assert config.archive_target == config.archive_path == tmp_path / "data" / "archive.db"
    desk = Newsdesk(config, embedder=HashEmbedder())
    assert desk.archive.backend == "sqlite" and config.archive_path.exists()
    desk.close()


def test_archive_url_from_the_file_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSDESK_ARCHIVE_URL", raising=False)
    path = write(tmp_path, '[archive]\nurl = "postgresql://newsdesk@db.internal:5432/news"\n')
    assert load_config(path).archive_target == "postgresql://newsdesk@db.internal:5432/news"
    monkeypatch.setenv("NEWSDESK_ARCHIVE_URL", "postgresql://newsdesk:s3cret@db.internal/news")
    assert load_config(path).archive.url == "postgresql://newsdesk:s3cret@db.internal/news"


def test_bad_archive_urls_are_config_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSDESK_ARCHIVE_URL", raising=False)
    with pytest.raises(ConfigError, match="must not hold the password"):
        load_config(write(tmp_path, '[archive]\nurl = "postgresql://newsdesk:s3cret@db/news"\n'))
    with pytest.raises(ConfigError, match="must start with postgresql://"):
        load_config(write(tmp_path, '[archive]\nurl = "mysql://db/news"\n'))
    with pytest.raises(ConfigError, match="unknown key 'archive.path'"):
        load_config(write(tmp_path, '[archive]\npath = "x"\n'))
    monkeypatch.setenv("NEWSDESK_ARCHIVE_URL", "sqlite:///x.db")
    with pytest.raises(ConfigError, match="NEWSDESK_ARCHIVE_URL: key 'archive.url'"):
        load_config(None)


def test_the_service_opens_a_postgresql_archive_now_that_nothing_is_missing(tmp_path, postgres_url):
    assert missing_on_postgres() == []
    archive = open_archive(postgres_url)
    assert archive.backend == "postgresql" and archive.list_feeds() == [] and archive.list_watches() == []
    archive.close()
    base = make_config(tmp_path / "data")
    config = base.replace(archive=dataclasses.replace(base.archive, url=postgres_url))
    desk = Newsdesk(config, embedder=HashEmbedder())
    assert desk.archive.backend == "postgresql"
    desk.close()
    sqlite = open_archive(tmp_path / "archive.db")
    assert isinstance(sqlite, Archive) and sqlite.backend == "sqlite"
    sqlite.close()


def test_a_password_in_the_archive_urls_query_is_refused_in_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("NEWSDESK_ARCHIVE_URL", raising=False)
    with pytest.raises(ConfigError, match="must not hold the password") as refused:
        load_config(write(tmp_path, '[archive]\nurl = "postgresql://db/news?sslmode=require&password=s3cret"\n'))
    assert "s3cret" not in str(refused.value)
