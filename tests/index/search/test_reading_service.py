"""The reading service: validation before any search, and server scope on every read."""

from __future__ import annotations

import pytest

from index.errors import BadQuery, NotFound
from index.models import GLOBAL, Scope


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"question": "   "}, "empty"),
        ({"question": "?!"}, "no words"),
        ({"question": "volcano", "since": "not a date at all"}, "since"),
        ({"question": "volcano", "since": "2024-05-02", "until": "2024-05-01"}, "since is after until"),
    ],
)
def test_check_query_refuses_before_searching(desk, kwargs, message):
    question = kwargs.pop("question")
    with pytest.raises(BadQuery, match=message):
        desk.reading.check_query(question, **kwargs)


def test_check_query_knows_the_sources_in_scope(two_servers):
    desk, *_ = two_servers
    desk.reading.check_query("volcano", source="North Post", scope=Scope(1, everything=False))
    with pytest.raises(BadQuery, match="unknown source 'North Post'"):
        desk.reading.check_query("volcano", source="North Post", scope=Scope(2, everything=False))
    desk.reading.check_query(None, source="Wire Post", scope=Scope(2, everything=False))  # options only


def test_reads_are_scoped_to_the_server(two_servers):
    desk, one, two, shared = two_servers
    guild1, guild2 = Scope(1, everything=False), Scope(2, everything=False)
    assert {f.id for f in desk.archive.list_feeds(guild1)} == {one.id, shared.id}
    assert {f.id for f in desk.archive.list_feeds(GLOBAL)} == {one.id, two.id, shared.id}
    hits = desk.retriever.search("volcano bank octopus football", limit=10, scope=guild2).hits
    assert hits and {h.article.outlet for h in hits} <= {"South Post", "Wire Post"}
    north = next(h.article for h in desk.retriever.search("volcano", limit=5).hits if h.article.outlet == "North Post")
    assert desk.reading.article(north.id, guild1).id == north.id
    with pytest.raises(NotFound):
        desk.reading.article(north.id, guild2)
    with pytest.raises(NotFound):
        desk.reading.passage_texts(north.id, guild2)
    article, texts = desk.reading.passage_texts(north.id, guild1)
    assert article.id == north.id and texts and all(t in article.text for t in texts[:1])
