"""Fixtures every test directory shares. ``tests/support/`` (importable as ``support``) holds the
servers, feed builders, configs and archive checks the tests use."""

from __future__ import annotations

import pytest
from support.http import HTTPTestServer
from support.newsroom import FeedServer


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
