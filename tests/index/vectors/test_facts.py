"""The article id read off a passage id (index.vectors.facts), on hand-written ids."""

from __future__ import annotations

from index.vectors.facts import article_ids_of


def test_the_article_id_is_read_off_the_pipelines_passage_ids():
    ids = ["a12-0-3f2a", "a7-13-ffff", "a0-1-x", "a-1-x", "ax-0-1", "b12-0-x", "12-0-x", "a12", "", "{article}:0"]
    assert article_ids_of(ids).tolist() == [12, 7, 0, -1, -1, -1, -1, -1, -1, -1]
    assert article_ids_of([]).tolist() == []


def test_ids_with_line_breaks_do_not_shift_the_others():
    ids = ["a5-\n-x", "a9-1\n", "\na3-0", "a4-0-x", "a\n6-0"]
    assert article_ids_of(ids).tolist() == [5, 9, -1, 4, -1]
