"""The archive every backend test runs against: SQLite and PostgreSQL (a new database each)."""

from __future__ import annotations

import pytest

from index.archive import Archive


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request, tmp_path):
    """Where an archive lives: a SQLite file path, or the URL of a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "archive.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def archive(target):
    archive = Archive(target)
    yield archive
    archive.close()
