"""The archive lookups of the engine's dense path, on the answers test archive (real SQLite)."""

from __future__ import annotations

import pytest
import support.answers as H


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    served = H.serve_feeds()
    desk = H.Newsdesk(H.make_config(tmp_path_factory.mktemp("vs") / "data"), embedder=H.HashEmbedder())
    desk.feeds.add(served.gazette.url, H.GAZETTE, guild_id=7)
    desk.feeds.add(served.courier.url, H.COURIER)
    desk.indexing.ingest()
    yield desk
    desk.close()


def passages(desk, where="1", params=()):
    return {r[0] for r in desk.archive.db.execute(f"SELECT id FROM passages WHERE embedded = 1 AND {where}", params)}


def test_ids_by_date_outlet_and_server(desk):
    a = desk.archive
    lo, hi = H.utc(2024, 3, 1).timestamp(), H.utc(2024, 4, 30).timestamp()
    march_april = passages(desk, "published_ts BETWEEN ? AND ?", (lo, hi))
    assert march_april and set(a.passage_ids_filtered(lo, hi, None, None, False, 1000)) == march_april
    courier = passages(desk, "published_ts BETWEEN ? AND ? AND outlet = ?", (lo, hi, H.COURIER))
    assert set(a.passage_ids_filtered(lo, hi, [H.COURIER], None, False, 1000)) == courier
    # server 8 sees only the global (courier) feed; server 7 also its own gazette
    assert set(a.passage_ids_filtered(lo, hi, None, 8, True, 1000)) == courier
    assert set(a.passage_ids_filtered(None, None, None, 8, True, 1000)) == passages(desk, "outlet = ?", (H.COURIER,))
    assert set(a.passage_ids_filtered(None, None, None, 7, True, 1000)) == passages(desk)
    assert a.passage_ids_filtered(lo, hi, None, None, False, len(march_april) - 1) is None  # past the limit
    assert a.passage_ids_filtered(None, None, [H.COURIER], None, False, 1000) is None  # nothing to narrow by


def test_passages_without_lists_past_a_watermark(desk):
    a = desk.archive
    rows = a.embedded_without_neighbours(0, 10_000)
    assert {r[1] for r in rows} == passages(desk)  # nothing searched yet: no lists
    a.save_neighbours({rows[0][1]: b"\0" * 40})
    assert rows[0][1] not in {r[1] for r in a.embedded_without_neighbours(0, 10_000)}
    assert [r[0] for r in a.embedded_without_neighbours(rows[2][0], 10_000)] == [r[0] for r in rows[3:]]
    assert set(a.neighbour_sims([rows[0][1], rows[1][1]])) == {rows[0][1]}


def test_visibility_and_sample(desk):
    a = desk.archive
    rows = a.db.execute("SELECT id, outlet FROM articles").fetchall()
    gazette = {r[0] for r in rows if r[1] == H.GAZETTE}
    every = {r[0] for r in rows}
    assert a.visible_among(list(every), 8) == every - gazette
    assert a.visible_among(list(every), 7) == every
    sample = a.passage_sample(10_000)
    assert {r[0] for r in sample} == passages(desk) and a.embedded_passage_count() == len(sample)
