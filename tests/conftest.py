"""Fixtures every test directory shares. ``tests/support/`` (importable as ``support``) holds the
servers, feed builders, configs and archive checks the tests use."""

from __future__ import annotations

import pytest
from support.chroma import start_chroma
from support.http import HTTPTestServer
from support.newsroom import FeedServer
from support.postgres import start_cluster


@pytest.fixture(scope="session")
def http_server():
    """A scriptable HTTP server on 127.0.0.1 for the whole session (each test routes its own paths)."""
    server = HTTPTestServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def feed_server():
    """The bot tests' in-memory feed server, for the whole session."""
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL server on 127.0.0.1 for the session (tests/support/postgres.py);
    the tests using it skip when the machine has no PostgreSQL binaries."""
    cluster = start_cluster()
    if isinstance(cluster, str):
        pytest.skip(cluster)
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster):
    """The URL of a new, empty database on the session's PostgreSQL server, one per test."""
    return postgres_cluster.create_database()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` on 127.0.0.1 for the session (tests/support/chroma.py); the tests using
    it skip when it cannot be started. Tests keep apart by collection name."""
    server = start_chroma(tmp_path_factory.mktemp("chroma-server"))
    if isinstance(server, str):
        pytest.skip(server)
    yield server
    server.stop()
