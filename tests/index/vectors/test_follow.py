"""VectorStore.follow on an embedded index: a store opens the directory anew when the archive's
index generation moved (another process wrote), not after its own writes, and never under a
call still running in another thread."""

from __future__ import annotations

import threading

import numpy as np

from index.config import IndexConfig
from index.vectors.chroma import VectorStore


def store_with_one_vector(tmp_path) -> VectorStore:
    store = VectorStore(IndexConfig(), tmp_path / "chroma", "test-model", 8)
    store.upsert(["a"], np.ones((1, 8), dtype=np.float32), [{"article_id": 1}])
    return store


def test_follow_reopens_only_when_the_generation_moved(tmp_path):
    store = store_with_one_vector(tmp_path)
    assert store.follow("g1") is False  # first look: the freshly opened client is taken as current
    assert store.follow("g1") is False and store.reopened == 0
    assert store.follow("g2") is True and store.reopened == 1
    assert store.count() == 1 and store.nearest(np.ones((1, 8), dtype=np.float32), 1)[0][0] == ["a"]
    store.synced = "g3"  # the writer's own write: its view is current
    assert store.follow("g3") is False and store.reopened == 1


def test_a_reopen_waits_for_a_call_in_flight(tmp_path):
    store = store_with_one_vector(tmp_path)
    store.follow("g1")
    inside, release, reopened = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def a_long_call():
        with store._unavailable("vector index at {} is unavailable"):
            inside.set()
            release.wait(10)
            seen.append(store.collection.count())  # the client it started on is still open

    call = threading.Thread(target=a_long_call)
    call.start()
    assert inside.wait(10)
    follower = threading.Thread(target=lambda: (store.follow("g2"), reopened.set()))
    follower.start()
    assert not reopened.wait(0.5)  # held back while the call runs
    release.set()
    call.join(10)
    follower.join(10)
    assert reopened.is_set() and store.reopened == 1 and seen == [1]
    assert store.count() == 1
