"""Dense search on Chroma's own engine against the in-memory mirror, both on a real embedded Chroma:
the same top results unfiltered and filtered (dates, outlet, server scope), over-fetched and
pre-filtered; ``index.dense = "auto"`` switching at the configured size; neighbour lists
caught up for new passages only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import support.answers as H

from index.models import Scope
from index.service import Newsdesk
from index.vectors import engine as engine_mod
from index.vectors.embedders import HashEmbedder

QUESTIONS = [
    "record ice loss on the Greenland glacier",
    "twelve year old chess prodigy",
    "wildfire destroyed vineyards",
    "electric ferry across the bay",
    "free orchestra concerts in the park",
    "rail freight strike over pay",
    "honey harvest beekeepers",
]
FILTERS = [
    {},
    {"since": "2024-02-01", "until": "2024-04-30"},
    {"since": "2024-03-01", "until": "2024-03-10"},  # one article inside
    {"source": H.COURIER},
]


def with_dense(config, **index):
    return config.replace(index=dataclasses.replace(config.index, **index))


@pytest.fixture(scope="module")
def desks(tmp_path_factory):
    """The test archive opened twice: the mirror and the engine, same files."""
    mirror, _ = H.shared_desk(tmp_path_factory)
    engine = Newsdesk(with_dense(mirror.config, dense="engine"), embedder=HashEmbedder())
    yield mirror, engine
    engine.close()


def top_urls(desk, question, **kw):
    return [h.article.url for h in desk.retriever.search(question, limit=5, **kw).hits]


@pytest.mark.parametrize("filters", FILTERS, ids=["unfiltered", "quarter", "ten-days", "outlet"])
def test_the_engine_gives_the_mirrors_top_results(desks, filters):
    mirror, engine = desks
    for question in QUESTIONS:
        assert top_urls(engine, question, **filters) == top_urls(mirror, question, **filters), question
    assert engine.retriever.uses_engine and not mirror.retriever.uses_engine
    assert len(mirror.retriever.mirror) > 0 and len(engine.retriever.mirror) == 0  # no copy in the engine


def test_the_engine_scores_equal_the_mirrors(desks):
    mirror, engine = desks
    for question in QUESTIONS:
        a = {h.article.url: h.dense for h in mirror.retriever.search(question, limit=5).hits}
        b = {h.article.url: h.dense for h in engine.retriever.search(question, limit=5).hits}
        assert a.keys() == b.keys()
        for url in a:
            assert b[url] == pytest.approx(a[url], abs=1e-5)


@pytest.mark.parametrize("exact_max", [0, 2_000], ids=["chroma-ids", "exact"])
def test_a_selective_filter_is_prefiltered_with_the_same_results(desks, monkeypatch, exact_max):
    mirror, engine = desks
    eng = engine.retriever.engine
    monkeypatch.setattr(engine_mod, "EXACT_MAX", exact_max)  # 0: Chroma ranks the picked ids
    kw = {"since": "2024-03-01", "until": "2024-04-30"}
    engine.retriever.search(QUESTIONS[0], limit=5)
    assert eng.last_path == "overfetch"
    nearest, calls = eng._store.nearest, []
    monkeypatch.setattr(eng._store, "nearest", lambda *a, **k: calls.append(k.get("among")) or nearest(*a, **k))
    monkeypatch.setattr(engine_mod, "MAX_FETCH", 1)  # every filtered search now counts as selective
    for question in QUESTIONS:
        assert top_urls(engine, question, **kw) == top_urls(mirror, question, **kw)
        assert eng.last_path == "prefilter"
    assert any(c is not None for c in calls) == (exact_max == 0)  # which way the picked passages were ranked
    monkeypatch.setattr(engine_mod, "MAX_FETCH", 10**9)  # never pre-filtered: over-fetch and post-filter
    for question in QUESTIONS:
        assert top_urls(engine, question, **kw) == top_urls(mirror, question, **kw)
        assert eng.last_path == "overfetch"


def test_the_selectivity_estimate_follows_the_filters(desks):
    engine = desks[1].retriever.engine
    assert engine.selectivity(None, None, None) == 1.0
    march = H.utc(2024, 3, 1).timestamp(), H.utc(2024, 3, 31).timestamp()
    share = engine.selectivity(*march, None)
    assert 0 < share < 0.5
    assert engine.selectivity(*march, ["no such outlet"]) == 0.0


@pytest.fixture(scope="module")
def scoped(tmp_path_factory):
    """The stories split between two servers (no global feed), read by the mirror and the engine."""
    served = H.serve_feeds()
    config = H.make_config(tmp_path_factory.mktemp("scoped") / "data")
    mirror = Newsdesk(with_dense(config, dense="mirror"), embedder=HashEmbedder())
    mirror.feeds.add(served.gazette.url, H.GAZETTE, guild_id=7)
    mirror.feeds.add(served.courier.url, H.COURIER, guild_id=8)
    mirror.indexing.ingest()
    engine = Newsdesk(with_dense(config, dense="engine"), embedder=HashEmbedder())
    yield mirror, engine, served
    engine.close()
    mirror.close()


@pytest.mark.parametrize("ids_max, path", [(0, "overfetch"), (20_000, "prefilter")])
def test_server_scope_is_the_same_in_both_modes(scoped, monkeypatch, ids_max, path):
    mirror, engine, served = scoped
    monkeypatch.setattr(engine_mod, "IDS_MAX", ids_max)  # 0: the archive never picks the passages
    monkeypatch.setattr(engine_mod, "MAX_FETCH", 1)  # every scoped search counts as selective
    gazette = {u for s, u in served.links.items() if s in {x[0] for x in H.GAZETTE_STORIES}}
    for question in QUESTIONS:
        scope = Scope(7, everything=False)
        got = top_urls(engine, question, scope=scope)
        assert got == top_urls(mirror, question, scope=scope)
        assert got and set(got) <= gazette
        assert engine.retriever.engine.last_path == path


def test_auto_switches_to_the_engine_past_the_configured_size(desks):
    mirror = desks[0]
    passages = mirror.archive.embedded_passage_count()
    small = Newsdesk(with_dense(mirror.config, dense="auto", mirror_max_passages=passages), embedder=HashEmbedder())
    big = Newsdesk(with_dense(mirror.config, dense="auto", mirror_max_passages=passages - 1), embedder=HashEmbedder())
    try:
        assert top_urls(small, QUESTIONS[0]) == top_urls(big, QUESTIONS[0])
        assert not small.retriever.uses_engine and len(small.retriever.mirror) == passages
        assert big.retriever.uses_engine and len(big.retriever.mirror) == 0
    finally:
        small.close()
        big.close()


def test_unknown_dense_mode_is_a_config_error(tmp_path):
    from index.config import load_config
    from index.errors import ConfigError

    path = tmp_path / "newsdesk.toml"
    path.write_text('[index]\ndense = "gpu"\n')
    with pytest.raises(ConfigError, match="index.dense"):
        load_config(path)


def test_the_engine_writes_neighbour_lists_for_new_passages_only(tmp_path, monkeypatch):
    """Ingest more stories into an engine-mode archive: the lists of the new passages are written by
    one ANN query each, the old ones only where a new passage entered their list."""
    served = H.serve_feeds()
    config = with_dense(H.make_config(tmp_path / "data"), dense="engine")
    desk = Newsdesk(config, embedder=HashEmbedder())
    try:
        desk.feeds.add(served.gazette.url, H.GAZETTE)
        desk.indexing.ingest()
        desk.retriever.search("glacier")
        db = desk.archive.db
        first = dict(db.execute("SELECT passage_id, sims FROM passage_neighbours").fetchall())
        assert len(first) == desk.archive.embedded_passage_count() > 0
        queried: list[int] = []
        store = desk.parts.store_or_open()
        real = store.nearest
        monkeypatch.setattr(store, "nearest", lambda v, n, **kw: queried.append(len(v)) or real(v, n, **kw))
        desk.feeds.add(served.courier.url, H.COURIER)
        desk.indexing.ingest()
        desk.retriever.search("glacier")
        after = dict(db.execute("SELECT passage_id, sims FROM passage_neighbours").fetchall())
        new = set(after) - set(first)
        assert len(after) == desk.archive.embedded_passage_count() and new
        assert sum(queried) == len(new) + 1  # one ANN query per new passage, and the search itself
        changed = [pid for pid in first if after[pid] != first[pid]]
        assert changed  # the reverse update: new passages entered old passages' (short) lists
        for pid in changed:  # an old list changes only by taking in better neighbours
            old, now = (np.frombuffer(x, dtype=np.float32) for x in (first[pid], after[pid]))
            assert (now >= old).all() and (now > old).any()
    finally:
        desk.close()


def test_lists_dropped_behind_the_watermark_are_recomputed(tmp_path):
    """A feed re-embedded (its passages keep their rows, their lists are deleted): the next refresh
    finds them although they are behind the watermark."""
    served = H.serve_feeds()
    desk = Newsdesk(with_dense(H.make_config(tmp_path / "data"), dense="engine"), embedder=HashEmbedder())
    try:
        desk.feeds.add(served.gazette.url, H.GAZETTE)
        desk.indexing.ingest()
        desk.retriever.search("glacier")
        count = desk.archive.embedded_passage_count()
        assert desk.archive.neighbour_list_count() == count > 0
        with desk.archive.transaction():
            desk.archive.db.execute("DELETE FROM passage_neighbours WHERE rowid % 2 = 0")
        desk.archive.bump_generation()
        assert desk.archive.neighbour_list_count() < count
        desk.retriever.search("glacier")
        assert desk.archive.neighbour_list_count() == count
    finally:
        desk.close()


def test_the_post_filter_looks_up_only_what_the_article_arrays_keep(desks, monkeypatch):
    mirror, engine = desks
    eng = engine.retriever.engine
    monkeypatch.setattr(engine_mod, "MAX_FETCH", 10**9)  # over-fetch and post-filter
    engine.retriever.search(QUESTIONS[0], limit=5)
    assert len(eng.facts) == engine.archive.counts()["articles"]
    asked, looked_up = [], []
    nearest, passage_meta = eng._store.nearest, engine.archive.passage_meta
    monkeypatch.setattr(eng._store, "nearest", lambda *a, **k: asked.append(a[1]) or nearest(*a, **k))
    monkeypatch.setattr(engine.archive, "passage_meta", lambda ids: looked_up.append(list(ids)) or passage_meta(ids))
    returned = []
    search = eng.search
    monkeypatch.setattr(eng, "search", lambda *a, **k: returned.append(search(*a, **k)) or returned[-1])
    kw = {"source": H.COURIER}
    for question in QUESTIONS:
        asked.clear(), looked_up.clear(), returned.clear()
        assert top_urls(engine, question, **kw) == top_urls(mirror, question, **kw)
        assert eng.last_path == "overfetch" and eng.last_asked == asked[0]
        courier = {pid for pid, meta in passage_meta(looked_up[0]).items() if meta[2] == H.COURIER}
        assert looked_up[0] and len(courier) == len(looked_up[0]) < asked[0]  # only the outlet's passages
        # the retriever reads the records of the keyword-only candidates, not again the engine's hits
        hits = {pid for found in returned for pid in found.ids}
        assert len(looked_up) == 2 and hits and not hits & set(looked_up[1])


def test_a_range_keeping_most_of_the_archive_is_not_walked_by_date(desks, monkeypatch):
    """An outlet with "until now" (or a range wider than the archive): over-fetched, not pre-filtered
    by the date index, which would read every article; the results are the mirror's either way."""
    mirror, engine = desks
    eng = engine.retriever.engine
    monkeypatch.setattr(engine_mod, "MAX_FETCH", 1)  # every filtered search counts as selective
    wide = {"until": "2030-01-01", "source": H.COURIER}
    narrow = {"since": "2024-03-01", "until": "2024-03-31", "source": H.COURIER}
    for question in QUESTIONS:
        assert top_urls(engine, question, **wide) == top_urls(mirror, question, **wide)
        assert eng.last_path == "overfetch"
        assert top_urls(engine, question, **narrow) == top_urls(mirror, question, **narrow)
        assert eng.last_path == "prefilter"
