"""Hostile questions and options: results or a clear BadQuery, never a SQLite error; archive unchanged."""

from __future__ import annotations

import logging
import sqlite3

import pytest
import support.answers as H

from index.archive import fts_query
from index.errors import BadQuery, NewsdeskError

HOSTILE = [
    "",
    "   \n\t  ",
    "x" * 10_000,
    "ferry " * 2_000,
    "?!.,;:-()[]{}",
    "🔥🚀😀🤖",
    '"',
    "*",
    "NEAR(",
    "NEAR(ferry strike, 2)",
    "AND OR",
    "NOT",
    "ferry NOT strike",
    "'); DROP TABLE articles;--",
    '"; DELETE FROM passages; --',
    "title:ferry",
    "ferry*",
    "^ferry",
    '"unterminated ferry',
    "**bold** _under_ [link](http://x.example) `code` @everyone @here <@&123> <script>alert(1)</script>",
    "ferry\x00strike",
    "\u202eyrref cirtcele",
    "SELECT * FROM passages WHERE 1=1",
    "%_%",
    "ferry\n\nstrike\r\nhoney",
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return H.shared_desk(tmp_path_factory)


@pytest.fixture
def desk(archive):
    return archive[0]


@pytest.fixture(autouse=True)
def no_silent_sql_errors(caplog):
    caplog.set_level(logging.WARNING, logger="index")
    yield
    failures = [r.getMessage() for r in caplog.records if "keyword search failed" in r.getMessage()]
    assert failures == [], failures


def attempt(fn, *args, **kwargs):
    """The call's result, or the NewsdeskError it raised with a clear one-line message."""
    try:
        return fn(*args, **kwargs)
    except NewsdeskError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300
        assert "sqlite" not in message.lower() and "Traceback" not in message
        return exc
    except sqlite3.Error as exc:  # pragma: no cover - the failure being tested for
        pytest.fail(f"SQLite error leaked: {exc!r}")


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query(desk, query):
    before = H.archive_fingerprint(desk)
    result = attempt(desk.retriever.search, query)
    if isinstance(result, NewsdeskError):
        assert isinstance(result, BadQuery)
    else:
        assert len(result.hits) <= 10
        assert all(desk.archive.article_exists(h.article.id) for h in result.hits)
    answer = attempt(desk.reading.ask, query)
    if not isinstance(answer, NewsdeskError):
        assert all(desk.archive.article_exists(c.article.id) for c in answer.citations)
        assert isinstance(answer.text, str) and answer.text
    attempt(desk.reading.latest, query)
    attempt(desk.retriever.search, "ferry", context=query)
    assert H.archive_fingerprint(desk) == before


@pytest.mark.parametrize("query", ["", "   ", "?!?", "🔥🚀", '"', "*"])
def test_queries_without_words_are_bad_queries(desk, query):
    with pytest.raises(BadQuery):
        desk.retriever.search(query)
    with pytest.raises(BadQuery):
        desk.reading.ask(query)


def test_words_among_operators_still_search(desk, archive):
    links = archive[1].links
    for query in ("NEAR(ferry", '"electric ferry', "electric* ferry^", "'); electric ferry;--", "ferry AND OR NOT"):
        result = desk.retriever.search(query)
        assert result.hits[0].article.url in (links["ferry"], links["ferry-wire"]), query


def test_a_very_long_question_is_cut_not_refused(desk, archive):
    links = archive[1].links
    question = "twelve year old chess prodigy " + "lorem " * 3000
    result = desk.retriever.search(question)
    chess = [h for h in result.hits if h.article.url == links["chess"]]
    assert chess and chess[0].keyword == 1.0  # the best keyword match (the words before the padding count)


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"since": "tomorrow-ish blah"}, "since"),
        ({"until": "32/13/2024"}, "until"),
        ({"as_of": "the day before the end of time"}, "as-of"),
        ({"since": "2024-02-30"}, "since"),
        ({"since": "x" * 500}, "since"),
        ({"since": "2024-05-01", "until": "2024-04-01"}, "since is after until"),
        ({"source": "'; DROP TABLE feeds;--"}, "unknown source"),
        ({"source": "%"}, "unknown source"),
    ],
)
def test_hostile_options_are_bad_queries(desk, options, fragment):
    before = H.archive_fingerprint(desk)
    for call in (desk.retriever.search, desk.reading.ask):
        with pytest.raises(BadQuery) as info:
            call("electric ferry", **options)
        assert fragment in str(info.value)
        assert "\n" not in str(info.value)
    assert H.archive_fingerprint(desk) == before


def test_odd_limits(desk):
    assert 1 <= len(desk.retriever.search("ferry", limit=0).hits) <= 1
    assert 1 <= len(desk.retriever.search("ferry", limit=-5).hits) <= 1
    assert len(desk.retriever.search("ferry", limit=10**9).hits) <= 100


def test_archive_intact_after_everything(desk):
    tables = {r[0] for r in desk.archive.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"feeds", "articles", "passages", "passages_fts", "meta"} <= tables
    counts = desk.archive.counts()
    assert counts["articles"] == len(H.ALL_SLUGS) and counts["feeds"] == 2
    assert counts["passages"] == counts["embedded_passages"]
    assert desk.archive.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert desk.health.doctor().ok


@pytest.mark.parametrize(
    "text, expected",
    [
        ('"', None),
        ("*", None),
        ("NEAR(", '"near"'),
        ("AND OR", '"and" OR "or"'),  # only stopwords: kept, quoted
        ('say "hi"', '"say" OR "hi"'),
        ("'); DROP TABLE articles;--", '"drop" OR "table" OR "articles"'),
    ],
)
def test_fts_query_quotes_every_word(text, expected):
    assert fts_query(text) == expected
