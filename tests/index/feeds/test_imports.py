"""OPML imports: a cap per import and per server, and URL checks that slow DNS cannot stretch:
a real archive, the real guard, and a resolver whose answers for some host names come slowly."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import pytest

from index.errors import LimitReached
from index.feeds.imports import CHECK_THREADS, NOT_CHECKED
from index.models import Scope

SERVER = Scope(guild_id=7, everything=False)


def opml(urls: list[str]) -> bytes:
    body = "".join(f'<outline text="f{i}" xmlUrl="{url}"/>' for i, url in enumerate(urls))
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>'.encode()


def with_feeds(desk, **changes):
    desk.feeds.config = dataclasses.replace(
        desk.feeds.config, feeds=dataclasses.replace(desk.feeds.config.feeds, **changes)
    )
    return desk


@pytest.fixture
def slow_dns(monkeypatch):
    """Host names under .slow.test take SLOW seconds to (fail to) resolve; records which threads waited."""
    waited: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if str(host).endswith(".slow.test"):
            waited.append(threading.current_thread().name)
            time.sleep(1.0)
            raise socket.gaierror(socket.EAI_NONAME, "no such host (slowly)")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return waited


def test_an_import_of_slow_dns_outlines_returns_within_its_budget_on_threads_of_its_own(desk, slow_dns):
    """12 outlines whose DNS takes 1 s each: the import waits its budget (0.3 s), not 12 s, the
    lookups run on the import's own bounded threads (never the caller's, which is the pool every
    server's commands share), and what was not checked in time is refused with a clear reason."""
    with_feeds(desk, allow_private_networks=False, import_check_seconds=0.3)
    public = "http://93.184.216.34/feed.xml"  # an address: no lookup
    slow = [f"http://h{i}.slow.test/feed.xml" for i in range(12)]
    started = time.monotonic()
    result = desk.feeds.import_opml(opml([public, *slow]), SERVER, added_by=1)
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed  # bounded by the budget; a lookup after another took 12 s
    assert [f.url for f in result["added"]] == [public]
    assert set(result["refused"]) == set(slow) and set(result["refused"].values()) == {NOT_CHECKED}
    assert slow_dns and all(name.startswith("opml-check") for name in slow_dns), slow_dns
    assert len(slow_dns) <= CHECK_THREADS
    assert desk.archive.list_feeds(SERVER)[-1].url == public


def test_an_import_is_capped_and_never_takes_a_server_past_its_feeds(desk):
    with_feeds(desk, max_feeds_per_import=3, max_feeds_per_server=4)
    urls = [f"http://127.0.0.1:9/feed{i}.xml" for i in range(5)]
    with pytest.raises(LimitReached, match="at most 3 feeds and this file has 5"):
        desk.feeds.import_opml(opml(urls), SERVER, added_by=1)
    assert desk.archive.list_feeds(SERVER) == []  # nothing added from a refused file
    first = desk.feeds.import_opml(opml(urls[:3]), SERVER, added_by=1)
    assert len(first["added"]) == 3
    second = desk.feeds.import_opml(opml(urls[2:]), SERVER, added_by=1)
    assert [f.url for f in second["existing"]] == [urls[2]] and [f.url for f in second["added"]] == [urls[3]]
    assert list(second["refused"]) == [urls[4]] and "limit is 4" in second["refused"][urls[4]]
    with pytest.raises(LimitReached, match="limit is 4"):
        desk.feeds.add("http://127.0.0.1:9/one-more.xml", guild_id=SERVER.guild_id)
    desk.feeds.add("http://127.0.0.1:9/one-more.xml", guild_id=SERVER.guild_id + 1)  # another server: its own count
    desk.feeds.add("http://127.0.0.1:9/global.xml")  # the global configuration: no server limit
