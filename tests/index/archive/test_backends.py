"""One archive suite on both backends: every test here runs on a SQLite file and on a
database of the tests' throwaway PostgreSQL server (tests/support/postgres.py; the PostgreSQL half
skips without the server binaries). It covers every part of the archive (index.archive.pg.PORTED):
the database layer (migrations, meta, transactions), FeedStore, ArticleStore, the passage
bookkeeping of PassageStore and ScopeQueries (DeliveryStore, VectorScaleQueries: test_backends_delivery.py;
FollowStore, DigestStore, WatchStore: test_backends_following.py); nothing is left unported."""

from __future__ import annotations

import json
import os
import threading
import time

import psycopg
import pytest

from index.archive import MIGRATIONS, Archive
from index.archive.digests import topic_terms
from index.archive.passages import terms_within
from index.archive.pg import PORTED, not_ported, translate
from index.archive.pg_migrations import POSTGRES
from index.errors import NotFound
from index.models import GLOBAL, PassageRow, Scope

DAY = 86400.0
T0 = 1_780_000_000.0
GUILD = 987654321098765432  # a real Discord id needs 64 bits


def record(guid: str, *, feed_id: int, published_ts: float, title: str = "", text: str = "", **more) -> dict:
    return {
        "guid": guid,
        "url": f"https://example.org/{guid}",
        "title": title or f"Title {guid}",
        "outlet": more.pop("outlet", "Example Times"),
        "authors": json.dumps(["A. Writer"]),
        "categories": json.dumps(["world"]),
        "published": "2026-05-28T00:00:00+00:00",
        "published_ts": published_ts,
        "date_source": "feed",
        "fetched_at": "2026-05-28T00:00:00+00:00",
        "updated_at": "2026-05-28T00:00:00+00:00",
        "language": "en",
        "summary": "",
        "text": text or f"Body of {guid}.",
        "text_source": "feed",
        "content_hash": more.pop("content_hash", f"hash-{guid}"),
        "entry_hash": more.pop("entry_hash", f"entry-{guid}"),
        "feed_id": feed_id,
        **more,
    }


def passages(n: int, published_ts: float, title: str = "T") -> list[PassageRow]:
    return [
        PassageRow(f"{{article}}:{i}", 0, i, title, f"passage {i} text", published_ts, "Example Times")
        for i in range(n)
    ]


def store(archive: Archive, guid: str, feed_id: int, published_ts: float, n: int = 2, **more) -> int:
    with archive.transaction():
        article_id = archive.write_article(
            record(guid, feed_id=feed_id, published_ts=published_ts, **more), passages(n, published_ts)
        )
        archive.link_feed(article_id, feed_id)
    return article_id


# -- the database layer -----------------------------------------------------------------
def test_every_migration_has_a_postgresql_form():
    assert [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in POSTGRES] == []
    assert set(POSTGRES) == {fn.__name__ for fn in MIGRATIONS}


def test_migrations_are_applied_once_and_recorded(target):
    first = Archive(target)
    names = [r[0] for r in first.db.execute("SELECT name FROM migrations ORDER BY name")]
    assert names == sorted(fn.__name__ for fn in MIGRATIONS)
    first.close()
    second = Archive(target)
    assert second.migrate() == []
    assert second.counts() == {"feeds": 0, "articles": 0, "passages": 0, "embedded_passages": 0}
    second.close()


def test_handles_opening_together_apply_each_migration_once(postgres_url):
    """Several handles opening a new PostgreSQL archive at once (as processes starting together
    would): every one opens, and each migration is recorded once (pg_advisory_lock). SQLite's file
    lock is covered across real processes by tests/test_multiprocess.py."""
    target = postgres_url
    errors: list[BaseException] = []
    handles: list[Archive] = []

    def open_one():
        try:
            handles.append(Archive(target))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = handles[0].db.execute("SELECT name, count(*) FROM migrations GROUP BY name").fetchall()
    assert sorted(r[0] for r in rows) == sorted(fn.__name__ for fn in MIGRATIONS)
    assert {r[1] for r in rows} == {1}
    for h in handles:
        h.close()


def test_meta_and_transactions(archive):
    archive.set_meta("alpha", "1")
    archive.set_meta("alpha", "2")  # replaces
    archive.set_meta("alps", "x")
    archive.set_meta("beta", "y")
    assert archive.get_meta("alpha") == "2"
    assert archive.meta_like("al") == {"alpha": "2", "alps": "x"}
    archive.delete_meta("alps")
    assert archive.get_meta("alps") is None
    with pytest.raises(RuntimeError), archive.transaction():
        archive.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ["gamma", "z"])
        raise RuntimeError("rolled back")
    assert archive.get_meta("gamma") is None
    with archive.transaction(), archive.transaction():  # nested: one transaction
        archive.db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ["gamma", "z"])
    assert archive.get_meta("gamma") == "z"


def test_the_archive_reports_its_size_on_disk(archive):
    before = archive.size_bytes()
    assert before > 0
    for i in range(40):
        archive.set_meta(f"filler-{i}", os.urandom(10_000).hex())
    if archive.backend == "postgresql":  # the database's size moves by pages: checkpointed, not in place
        archive.db.execute("CHECKPOINT")
    assert archive.size_bytes() > before


def test_a_closed_postgresql_archive_holds_no_connection_and_reopens_on_use(postgres_url):
    def connections(settle: bool = True) -> int:
        """The archive's server connections (a closed one's backends may take a moment to end)."""
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid != pg_backend_pid()"
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            for _ in range(50):
                n = conn.execute(sql).fetchone()[0]
                if n == 0 or not settle:
                    break
                time.sleep(0.1)
            return n

    archive = Archive(postgres_url)
    archive.set_meta("k", "v")
    assert connections(settle=False) >= 1
    archive.close()
    assert connections() == 0
    assert archive.get_meta("k") == "v"  # used again: a new pool
    archive.close()
    assert connections() == 0


# -- FeedStore -----------------------------------------------------------------------
def test_feeds_add_find_list_update(archive):
    feed, created = archive.add_feed("https://a.example/feed.xml", name="Alpha", added_by=5)
    assert created and feed.id and feed.status == "new" and feed.failures == 0 and feed.guild_id is None
    again, created_again = archive.add_feed("https://a.example/feed.xml", name="Other")
    assert (again.id, created_again, again.name) == (feed.id, False, "Alpha")
    local, _ = archive.add_feed("https://b.example/feed.xml", name="Beta", guild_id=GUILD, channel_id=GUILD + 1)
    other, _ = archive.add_feed("https://c.example/feed.xml", name="Gamma", guild_id=1)
    assert local.guild_id == GUILD and local.channel_id == GUILD + 1
    assert archive.find_feed(str(local.id)).url == "https://b.example/feed.xml"
    assert archive.find_feed("beta").id == local.id  # by name, any case
    assert archive.find_feed("https://nowhere/") is None
    with pytest.raises(NotFound):
        archive.get_feed("nowhere")
    assert [f.id for f in archive.list_feeds()] == [feed.id, local.id, other.id]
    assert [f.id for f in archive.list_feeds(Scope(GUILD, everything=False))] == [feed.id, local.id]
    archive.update_feed(feed.id, status="error", failures=3, last_error="HTTP 500", next_poll_at=T0 + 60.5)
    got = archive.get_feed(feed.id)
    assert (got.status, got.failures, got.last_error, got.next_poll_at) == ("error", 3, "HTTP 500", T0 + 60.5)


def test_a_url_is_a_row_per_server_and_one_fetch_serves_every_row(archive):
    """Two servers following one URL: a row each (own name and channel), the same fetch state and
    articles after one fetch, each row's backlog its own; a server never finds the other's row."""
    url = "https://shared.example/feed.xml"
    mine, created = archive.add_feed(url, name="Mine", guild_id=GUILD, channel_id=11)
    theirs, created_theirs = archive.add_feed(url, name="Theirs", guild_id=1, channel_id=22)
    assert created and created_theirs and mine.id != theirs.id
    assert archive.add_feed(url, guild_id=GUILD) == (archive.get_feed(mine.id), False)
    old = store(archive, "old", mine.id, T0)
    archive.update_feed(mine.id, status="ok", last_ok_at="2026-05-28T00:00:00+00:00", etag='"v1"')
    archive.mark_feed_first_ok(mine.id)
    assert archive.share_feed_state(mine.id) == 1
    got = archive.get_feed(theirs.id)
    assert (got.name, got.channel_id, got.status, got.etag, got.articles) == ("Theirs", 22, "ok", '"v1"', 1)
    new = store(archive, "new", mine.id, time.time())
    archive.share_feed_state(mine.id)
    pending = {(channel, article) for channel, _, article in archive.pending_posts()}
    assert pending == {(11, new), (22, new)}  # the old article is backlog for both rows
    # a third server joining later starts with what is archived, as backlog
    late, _ = archive.add_feed(url, guild_id=2, channel_id=33)
    assert archive.get_feed(late.id).articles == 2 and (33, old) not in {(c, a) for c, _, a in archive.pending_posts()}
    # scoped lookups: by id or URL, only one's own row (the other server's is no feed at all)
    assert archive.find_feed(url, Scope(GUILD, everything=False)).id == mine.id
    assert archive.find_feed(theirs.id, Scope(GUILD, everything=False)) is None
    with pytest.raises(NotFound, match="in this server"):
        archive.get_feed(theirs.id, Scope(GUILD, everything=False))
    # unsubscribing one server keeps the articles for the others
    assert archive.remove_feed(mine.id) == 0 and archive.article_exists(old)
    assert archive.remove_feed(theirs.id) == 0 and archive.remove_feed(late.id) == 2


def test_an_archive_from_before_per_server_feeds_is_migrated_in_place(target):
    """An archive whose feed URLs were unique (before m012) keeps its feeds, and afterwards a second
    server can follow a URL the first one added."""
    archive = Archive(target)
    url = "https://old.example/feed.xml"
    old, _ = archive.add_feed(url, name="Old", guild_id=GUILD, channel_id=5)
    archive.db.execute("DROP INDEX feeds_url_guild")
    archive.db.execute("DROP INDEX feeds_url")
    archive.db.execute("CREATE UNIQUE INDEX idx_feeds_url ON feeds (url)")
    archive.db.execute("DELETE FROM migrations WHERE name = 'm012_feed_per_server'")
    with pytest.raises(Exception):  # noqa: B017 - the old schema: one row per URL
        archive.db.execute("INSERT INTO feeds (url, guild_id) VALUES (?, ?)", [url, 1])
    archive.close()
    again = Archive(target)
    try:
        assert "m012_feed_per_server" in {r[0] for r in again.db.execute("SELECT name FROM migrations").fetchall()}
        kept = again.get_feed(old.id)
        assert (kept.url, kept.name, kept.guild_id, kept.channel_id) == (url, "Old", GUILD, 5)
        theirs, created = again.add_feed(url, guild_id=1)
        assert created and theirs.id != old.id
        assert again.add_feed(url, guild_id=GUILD) == (again.get_feed(old.id), False)
    finally:
        again.close()


def test_a_server_follows_at_most_its_limit_of_feeds(archive):
    for i in range(3):
        assert archive.add_server_feed(f"https://f{i}.example/feed.xml", guild_id=GUILD, max_per_server=3)
    assert archive.add_server_feed("https://f9.example/feed.xml", guild_id=GUILD, max_per_server=3) is None
    found = archive.add_server_feed("https://f0.example/feed.xml", guild_id=GUILD, max_per_server=3)
    assert found is not None and found[1] is False  # one it has already
    assert archive.add_server_feed("https://f9.example/feed.xml", guild_id=1, max_per_server=3)  # another server
    assert archive.count_server_feeds(GUILD) == 3
    assert len(archive.list_feeds(Scope(GUILD, everything=False))) == 3


def test_first_ok_marks_what_the_feed_carried_then_once(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    store(archive, "one", feed.id, T0)
    store(archive, "two", feed.id, T0 + 1)
    archive.mark_feed_first_ok(feed.id)
    row = archive.db.execute("SELECT first_ok_at, first_ok_seq FROM feeds WHERE id = ?", [feed.id]).fetchone()
    seq = archive.db.execute("SELECT max(rowid) FROM article_feeds WHERE feed_id = ?", [feed.id]).fetchone()[0]
    assert row[0] is not None and row[1] == seq
    store(archive, "three", feed.id, T0 + 2)
    archive.mark_feed_first_ok(feed.id)  # only the first time counts
    assert archive.db.execute("SELECT first_ok_seq FROM feeds WHERE id = ?", [feed.id]).fetchone()[0] == seq


def test_removing_a_feed_removes_the_articles_only_it_carried(archive):
    a, _ = archive.add_feed("https://a.example/feed.xml")
    b, _ = archive.add_feed("https://b.example/feed.xml")
    only_a = store(archive, "only-a", a.id, T0)
    shared = store(archive, "shared", a.id, T0 + 1)
    with archive.transaction():
        archive.link_feed(shared, b.id)
        archive.link_feed(shared, b.id)  # twice: still one link
    assert archive.get_feed(a.id).articles == 2 and archive.get_feed(b.id).articles == 1
    doomed = [p.id for p in archive.article_passages(only_a)]
    assert archive.remove_feed(a.id) == 1
    assert archive.find_feed(a.id) is None
    assert not archive.article_exists(only_a) and archive.article_exists(shared)
    assert archive.article_owner(shared)[0] is None  # its text came from the removed feed
    assert set(archive.pending_vector_deletes()) == set(doomed)
    assert archive.counts()["passages"] == 2


def test_outlets_counts_per_outlet_in_scope(archive):
    mine, _ = archive.add_feed("https://a.example/feed.xml", guild_id=GUILD)
    theirs, _ = archive.add_feed("https://b.example/feed.xml", guild_id=1)
    store(archive, "m1", mine.id, T0, outlet="Mine")
    store(archive, "m2", mine.id, T0 + DAY, outlet="Mine")
    store(archive, "t1", theirs.id, T0 + 2 * DAY, outlet="Theirs")
    assert [(o["outlet"], o["articles"], o["latest_ts"]) for o in archive.outlets()] == [
        ("Mine", 2, T0 + DAY),
        ("Theirs", 1, T0 + 2 * DAY),
    ]
    assert [o["outlet"] for o in archive.outlets(Scope(GUILD, everything=False))] == ["Mine"]


# -- ArticleStore -----------------------------------------------------------------------
def test_articles_write_read_and_dedupe_lookups(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    article_id = store(archive, "g1", feed.id, T0, n=3, content_hash="same")
    article = archive.get_article(article_id)
    assert (article.guid, article.title, article.authors, article.categories) == (
        "g1",
        "Title g1",
        ("A. Writer",),
        ("world",),
    )
    assert archive.get_article("https://example.org/g1").id == article_id
    assert archive.get_article("g1").id == article_id  # by GUID
    with pytest.raises(NotFound):
        archive.get_article("nothing")
    assert archive.find_article_for_entry("g1", "", "", T0)["by"] == "guid"
    assert archive.find_article_for_entry("new", "https://example.org/g1", "", T0)["by"] == "url"
    assert archive.find_article_for_entry("new", "https://new/", "same", T0 + 3 * DAY)["by"] == "content_hash"
    assert archive.find_article_for_entry("new", "https://new/", "same", T0 + 30 * DAY) is None
    assert archive.entry_unchanged("g1", "entry-g1") == article_id
    assert archive.entry_unchanged("g1", "other") is None
    with archive.transaction():
        archive.set_entry_hash(article_id, "other")
    assert archive.entry_unchanged("g1", "other") == article_id
    assert archive.article_owner(article_id) == (feed.id, len("Body of g1."))
    assert set(archive.articles_by_ids([article_id, article_id, 999])) == {article_id}


def test_rewriting_an_article_replaces_its_passages(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    article_id = store(archive, "g1", feed.id, T0, n=3)
    old = [p.id for p in archive.article_passages(article_id)]
    assert old == [f"{article_id}:{i}" for i in range(3)]
    archive.mark_embedded(old)
    assert archive.counts()["embedded_passages"] == 3
    with archive.transaction():
        archive.write_article(
            record("g1", feed_id=feed.id, published_ts=T0, title="New title"), passages(2, T0, "New"), article_id
        )
    now = archive.article_passages(article_id)
    assert [p.id for p in now] == old[:2] and {p.title for p in now} == {"New"}
    assert archive.get_article(article_id).title == "New title"
    # the re-written passages wait for new vectors; only the dropped one is deleted from the index
    assert archive.pending_vector_deletes() == [old[2]]
    assert sorted(archive.unembedded_among(old)) == old[:2]
    assert archive.passage_counts([article_id]) == {article_id: 2}
    assert archive.first_passage(archive.get_article(article_id)).id == old[0]


def test_latest_articles_by_date_outlet_and_scope(archive):
    mine, _ = archive.add_feed("https://a.example/feed.xml", guild_id=GUILD)
    glob, _ = archive.add_feed("https://g.example/feed.xml")
    theirs, _ = archive.add_feed("https://b.example/feed.xml", guild_id=1)
    ids = {
        "old": store(archive, "old", mine.id, T0, outlet="Mine"),
        "mid": store(archive, "mid", glob.id, T0 + DAY, outlet="Global"),
        "new": store(archive, "new", theirs.id, T0 + 2 * DAY, outlet="Theirs"),
    }

    def latest(limit: int = 10, until_ts: float | None = None, outlets: list[str] | None = None, **kw) -> list:
        return [a.guid for a in archive.latest_articles(limit=limit, until_ts=until_ts, outlets=outlets, **kw)]

    assert latest() == ["new", "mid", "old"]
    assert latest(limit=1) == ["new"]
    assert latest(until_ts=T0 + DAY) == ["mid", "old"]
    assert latest(since_ts=T0 + DAY) == ["new", "mid"]
    assert latest(outlets=["Mine", "Theirs"]) == ["new", "old"]
    assert latest(scope=Scope(GUILD, everything=False)) == ["mid", "old"]
    # the archive's front: the newest article's date in the same filters
    newest = archive.newest_published_ts
    assert newest(until_ts=None, outlets=None) == T0 + 2 * DAY
    assert newest(until_ts=T0 + DAY, outlets=None) == T0 + DAY
    assert newest(until_ts=None, outlets=["Mine"]) == T0
    assert newest(until_ts=None, outlets=None, scope=Scope(GUILD, everything=False)) == T0 + DAY
    assert newest(until_ts=T0 - 1, outlets=None) is None
    assert archive.visible_article_ids(GUILD) == {ids["old"], ids["mid"]}
    assert archive.article_visible(ids["mid"], GUILD) and not archive.article_visible(ids["new"], GUILD)
    before = archive.scope_signature()
    archive.update_feed(theirs.id, guild_id=GUILD)
    assert archive.scope_signature() != before
    assert latest(scope=Scope(GUILD, everything=False)) == ["new", "mid", "old"]
    assert latest(scope=GLOBAL) == ["new", "mid", "old"]


def test_passage_bookkeeping(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    article_id = store(archive, "g1", feed.id, T0, n=3)
    ids = [p.id for p in archive.passages_to_embed()]
    assert ids == [f"{article_id}:{i}" for i in range(3)]
    archive.mark_embedded(ids[:2])
    archive.save_neighbours({ids[0]: b"\x00\x01", ids[1]: b"\x02"})
    archive.save_neighbours({ids[0]: b"\x03"})  # replaces
    rows = archive.embedded_passage_rows()
    assert [(r[0], bytes(r[4]) if r[4] is not None else None) for r in rows] == [(ids[0], b"\x03"), (ids[1], b"\x02")]
    assert archive.passage_meta([ids[0]]) == {ids[0]: (article_id, T0, "Example Times")}
    assert archive.mark_all_unembedded(feed.id) == 3
    assert archive.counts()["embedded_passages"] == 0 and archive.embedded_passage_rows() == []
    archive.clear_vector_deletes(["none"])
    assert archive.all_passage_ids() == set(ids)


# -- PassageStore: keyword search (FTS5 on SQLite, tsvector on PostgreSQL) ------------------------
def searchable(archive: Archive) -> dict[str, int]:
    mine, _ = archive.add_feed("https://a.example/feed.xml", guild_id=GUILD)
    theirs, _ = archive.add_feed("https://b.example/feed.xml", guild_id=1)
    docs = {
        "title": ("Volcano erupts near the coast", "Residents left their homes overnight.", mine.id, T0, "Mine"),
        "body": (
            "Coastal towns count the cost",
            "The volcano erupted again, the volcano said.",
            mine.id,
            T0 + DAY,
            "Mine",
        ),
        "other": ("Central bank raises rates", "Borrowing costs climb as the bank acts.", theirs.id, T0, "Theirs"),
    }
    ids = {}
    for guid, (title, text, feed_id, ts, outlet) in docs.items():
        with archive.transaction():
            ids[guid] = archive.write_article(
                record(guid, feed_id=feed_id, published_ts=ts, title=title, text=text, outlet=outlet),
                [PassageRow("{article}:0", 0, 0, title, text, ts, outlet)],
            )
            archive.link_feed(ids[guid], feed_id)
    return ids


def test_keyword_search_ranks_filters_and_stems(archive):
    ids = searchable(archive)

    def hits(text: str, **kw) -> list[int]:
        found = archive.keyword_search(
            text, limit=kw.pop("limit", 10), since_ts=kw.pop("since_ts", None), until_ts=kw.pop("until_ts", None), **kw
        )
        assert all(score > 0 for _, _, score in found) and found == sorted(found, key=lambda h: -h[2])
        return [article_id for _, article_id, _ in found]

    assert hits("volcano") == [ids["title"], ids["body"]]  # a title match weighs more than two in the text
    assert hits("volcanoes erupting")[:1] == [ids["title"]]  # stemmed, any of the words
    assert hits("bank rates") == [ids["other"]]
    assert hits("volcano", since_ts=T0 + DAY / 2) == [ids["body"]]
    assert hits("volcano", until_ts=T0 + DAY / 2) == [ids["title"]]
    assert hits("volcano bank", outlets=["Theirs"]) == [ids["other"]]
    assert hits("volcano bank", scope=Scope(GUILD, everything=False)) == sorted(
        [ids["title"], ids["body"]], key=[ids["title"], ids["body"]].index
    )
    assert hits("volcano", limit=1) == [ids["title"]]
    assert hits("zeppelin") == [] and hits("") == []  # (stopwords alone: FTS5 matches them, tsquery drops them)
    assert archive.document_frequency("volcano") == 2 and archive.document_frequency("bank") == 1
    assert archive.document_frequency("zeppelin") == 0 and archive.document_frequency("") == 0


def test_terms_within_keeps_the_rarest_terms_inside_the_budget():
    counts = {"said": 900, "volcano": 3, "officials": 400, "lava": 40}
    assert terms_within(counts, 10_000) == ["said", "volcano", "officials", "lava"]  # all fit: the question's order
    assert terms_within(counts, 500) == ["volcano", "officials", "lava"]
    assert terms_within(counts, 100) == ["volcano", "lava"]
    assert terms_within(counts, 2) == []  # not even the rarest fits: no keyword search
    assert terms_within({"a": 0, "b": 5}, 0) == ["a"]


def test_a_keyword_search_leaves_out_common_terms_past_its_postings_budget(tmp_path):
    """On SQLite a search reads at most ``max_postings`` postings: the common word goes first."""
    archive = Archive(tmp_path / "archive.db")
    feed, _ = archive.add_feed("https://example.org/feed.xml")
    for i in range(30):
        text = "Officials said the harbour reopened." + (" A volcano erupted nearby." if i < 2 else "")
        with archive.transaction():
            aid = archive.write_article(
                record(f"g{i}", feed_id=feed.id, published_ts=T0 + i, text=text),
                [PassageRow("{article}:0", 0, 0, f"Report {i}", text, T0 + i, "Example Times")],
            )
            archive.link_feed(aid, feed.id)
    every = archive.keyword_search("said volcano", limit=50, since_ts=None, until_ts=None, max_postings=None)
    assert len(every) == 30
    budget = archive.keyword_search("said volcano", limit=50, since_ts=None, until_ts=None, max_postings=10)
    assert sorted(a for _, a, _ in budget) == sorted(a for _, a, _ in every[:2])  # the volcano passages alone
    assert archive.keyword_search("said", limit=50, since_ts=None, until_ts=None, max_postings=10) == []
    assert archive.postings_of(["said", "volcano"], 10) == {"said": 11, "volcano": 2}  # counting stops past the cap
    archive.close()


def test_a_topic_reads_a_bounded_number_of_postings_scope_first(archive):
    """On both backends a timeline's topic match reads about ``max_postings`` postings at most: a
    word more common than the budget is left out of the match (it narrows nothing), a topic of only
    such words counts its newest matches, and another server's articles are never counted."""
    mine, _ = archive.add_feed("https://mine.example/feed.xml", guild_id=GUILD)
    theirs, _ = archive.add_feed("https://theirs.example/feed.xml", guild_id=1)
    ids = {}
    for i in range(30):
        text = "Officials said the harbour reopened." + (" A volcano erupted nearby." if i < 3 else "")
        feed = theirs if i == 0 else mine
        with archive.transaction():
            aid = archive.write_article(
                record(f"g{i}", feed_id=feed.id, published_ts=T0 + i, text=text),
                [PassageRow("{article}:0", 0, 0, f"Report {i}", text, T0 + i, "Example Times")],
            )
            archive.link_feed(aid, feed.id)
        ids[i] = aid
    scope = Scope(GUILD, everything=False)
    every = archive.topic_articles("said volcano", None, None, scope=scope, max_postings=1000)
    assert [m[0] for m in every] == [ids[1], ids[2]] and all(m[3] > 0 for m in every)  # not the other server's
    bounded = archive.topic_articles("said volcano", None, None, scope=scope, max_postings=3)
    assert [m[0] for m in bounded] == [ids[1], ids[2]]  # "said" (30 passages) is past the budget: left out
    assert len(archive.topic_articles("said", None, None, max_postings=1000)) == 30
    newest = archive.topic_articles("said", None, None, max_postings=10)
    assert [m[0] for m in newest] == [ids[i] for i in range(20, 30)]  # the newest passages only
    with archive.transaction():  # a volcano without "said": only a match that leaves "said" out holds it
        aid = archive.write_article(
            record("g30", feed_id=mine.id, published_ts=T0 + 30, text="A volcano erupted offshore."),
            [PassageRow("{article}:0", 0, 0, "Report 30", "A volcano erupted offshore.", T0 + 30, "Example Times")],
        )
        archive.link_feed(aid, mine.id)
    both = archive.topic_articles("said volcano", None, None, scope=scope, max_postings=1000)
    assert [m[0] for m in both] == [ids[1], ids[2]]
    volcano = archive.topic_articles("said volcano", None, None, scope=scope, max_postings=4)
    assert [m[0] for m in volcano] == [ids[1], ids[2], aid]  # 4 volcano passages fit, 30 "said" do not
    assert archive.topic_articles("said tsunami", None, None, max_postings=4) == []  # a word nowhere: no match


def test_topic_terms_picks_the_words_a_topic_match_reads():
    counts = {"said": 900, "volcano": 3, "officials": 400, "lava": 40}
    assert topic_terms(counts, 10_000) == ["said", "volcano", "officials", "lava"]  # all fit: all must match
    assert topic_terms(counts, 500) == ["volcano", "officials", "lava"]  # "said" narrows nothing: left out
    assert topic_terms(counts, 100) == ["volcano", "lava"]
    assert topic_terms(counts, 2) == ["volcano"]  # not even the rarest fits: its newest passages alone
    assert topic_terms({"said": 11, "harbour": 11}, 10) == ["said"]  # a tie keeps the topic's order
    assert topic_terms({"volcano": 3, "tsunami": 0}, 100) == []  # a word no passage holds: nothing matches
    assert topic_terms({}, 100) == []


def test_passage_meta_reads_an_archive_without_the_covering_index(tmp_path):
    archive = Archive(tmp_path / "archive.db")
    feed, _ = archive.add_feed("https://example.org/feed.xml")
    aid = store(archive, "g1", feed.id, T0, n=2)
    covered = archive.passage_meta([f"{aid}:0", f"{aid}:1", "missing"])
    archive.db.execute("DROP INDEX passages_meta")  # as an archive from before m010, opened read-only
    assert archive.passage_meta([f"{aid}:0", f"{aid}:1", "missing"]) == covered
    assert covered == {f"{aid}:0": (aid, T0, "Example Times"), f"{aid}:1": (aid, T0, "Example Times")}
    archive.close()


def test_a_common_words_articles_are_estimated_on_slices_of_the_archive(tmp_path, monkeypatch):
    """Past the keyword budget, document_frequency counts a sample of rowid slices and scales it."""
    import index.archive.passages as passages_module

    archive = Archive(tmp_path / "archive.db")
    feed, _ = archive.add_feed("https://example.org/feed.xml")
    for i in range(400):
        text = ("The senator spoke. " if i % 2 == 0 else "Rain fell. ") + f"Item {i}."
        text += " A pinned note." if i % 20 < 4 else ""  # exactly the rows the slices below read
        with archive.transaction():
            aid = archive.write_article(
                record(f"g{i}", feed_id=feed.id, published_ts=T0 + i, text=text),
                [PassageRow("{article}:0", 0, 0, f"Item {i}", text, T0 + i, "Example Times")],
            )
            archive.link_feed(aid, feed.id)
    assert archive.document_frequency("senator") == 200  # exact: within the budget
    monkeypatch.setattr(passages_module, "KEYWORD_POSTINGS", 50)
    monkeypatch.setattr(passages_module, "DF_SAMPLE", 0.2)

    estimate = archive.document_frequency("senator")  # sampled: 4 rowids of each of 20 slices of 20
    assert 180 <= estimate <= 220 and estimate != 0
    # the sample reads the first 4 rowids of each slice, and scales 20 slices x 4 up to 400: a word
    # in exactly those rows (80 articles) is taken for one in all 400, which only the sample can give
    assert archive.document_frequency("pinned") == 400
    assert archive.document_frequency("rare") == 0 and archive.document_frequency("item") > 300
    archive.close()


HOSTILE = ['"', "*", "NEAR(", "AND OR", "OR", "NOT", "a AND", "title:x", "-", "(", ")", "'", "%", "?", "\\", "&|!<->"]


@pytest.mark.parametrize("text", HOSTILE)
def test_keyword_search_never_raises_on_what_users_type(archive, text):
    searchable(archive)
    assert isinstance(archive.keyword_search(text, limit=5, since_ts=None, until_ts=None), list)
    assert archive.document_frequency(text) >= 0


# -- PostStore: claims ------------------------------------------------------------------------
def test_a_post_is_claimed_once_across_handles(target):
    """Two handles (as two processes would have) racing for the same (channel, article): one wins."""
    first, second = Archive(target), Archive(target)
    feed, _ = first.add_feed("https://a.example/feed.xml", channel_id=GUILD)
    article_id = store(first, "g1", feed.id, T0)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(archive: Archive) -> None:
        barrier.wait()
        results.append(archive.claim_post(GUILD, article_id, feed.id))
        archive.close()

    threads = [threading.Thread(target=claim, args=(a,)) for a in (first, second) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert first.claim_post(GUILD + 1, article_id, feed.id)  # another channel: its own claim
    first.record_post(GUILD, article_id, 4242)
    assert first.db.execute("SELECT message_id FROM posts WHERE channel_id = ?", [GUILD]).fetchone()[0] == 4242
    first.close()
    second.close()


def test_pending_posts_skip_the_backlog_and_what_is_claimed(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml", channel_id=GUILD)
    quiet, _ = archive.add_feed("https://q.example/feed.xml")  # no channel: never auto-posted
    now = time.time()
    backlog = store(archive, "backlog", feed.id, now - 60)
    archive.mark_feed_first_ok(feed.id)  # what it carried so far is backlog
    fresh = store(archive, "fresh", feed.id, now)
    newer = store(archive, "newer", feed.id, now + 1)
    store(archive, "quiet", quiet.id, now)
    assert archive.pending_posts() == [(GUILD, feed.id, fresh), (GUILD, feed.id, newer)]
    assert archive.claim_post(GUILD, fresh, feed.id) and not archive.claim_post(GUILD, fresh, feed.id)
    assert archive.pending_posts() == [(GUILD, feed.id, newer)]
    assert archive.pending_posts(max_age_seconds=-3600) == []  # first seen too long ago
    assert backlog not in {r[2] for r in archive.pending_posts()}


def test_feed_health_is_announced_once_per_change(archive):
    feed, _ = archive.add_feed("https://a.example/feed.xml")
    assert archive.unannounced_feed_health() == []
    archive.update_feed(feed.id, status="error")
    assert [f.id for f in archive.unannounced_feed_health()] == [feed.id]
    assert archive.claim_feed_notice(feed.id, "error")
    assert not archive.claim_feed_notice(feed.id, "error")
    assert archive.unannounced_feed_health() == []
    archive.update_feed(feed.id, status="ok")
    assert archive.claim_feed_notice(feed.id, "ok") and not archive.claim_feed_notice(feed.id, "ok")


# -- ConsistencyChecks (newsdesk doctor) ---------------------------------------------------------
def test_consistency_checks(archive):
    ids = searchable(archive)
    assert archive.applied_migrations() == sorted(fn.__name__ for fn in MIGRATIONS)
    assert archive.integrity() == "ok"
    assert archive.full_text_problem() is None
    assert archive.duplicate_guids() == 0 and archive.orphan_passages() == 0 and archive.duplicate_urls() == 0
    archive.db.execute("UPDATE articles SET url = ? WHERE id = ?", ["https://example.org/title", ids["body"]])
    assert archive.duplicate_urls() == 1
    archive.delete_orphan_passages()
    archive.rebuild_full_text()
    assert archive.full_text_problem() is None
    assert [h[1] for h in archive.keyword_search("volcano", limit=5, since_ts=None, until_ts=None)] == [
        ids["title"],
        ids["body"],
    ]
    assert archive.embedded_passage_ids() == set()


# -- everything is ported -------------------------------------------------------------------
def test_every_part_of_the_archive_is_ported(archive):
    assert not_ported(type(archive)) == []  # no refusing stub left, on either backend
    assert {"FollowStore", "DigestStore", "WatchStore", "DeliveryStore"} <= {k for k, v in PORTED.items() if v == "*"}
    assert archive.ready_article_id() == 0  # WatchStore, the last example of a missing part, runs here


def test_translation_of_the_sqlite_forms():
    assert (
        translate("SELECT * FROM t WHERE a = ? AND b LIKE 'x?%'")[0] == "SELECT * FROM t WHERE a = %s AND b LIKE 'x?%%'"
    )
    assert translate("INSERT OR IGNORE INTO posts (channel_id, article_id) VALUES (?, ?)")[0].endswith(
        "VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    sql, returning = translate("INSERT OR REPLACE INTO [meta] ([key], [value]) VALUES (?, ?)")
    upsert = 'ON CONFLICT (key) DO UPDATE SET "value" = EXCLUDED."value"'
    assert sql == f'INSERT INTO "meta" ("key", "value") VALUES (%s, %s) {upsert}'
    assert returning is None
    assert translate("INSERT INTO [feeds] ([url]) VALUES (?)") == (
        'INSERT INTO "feeds" ("url") VALUES (%s) RETURNING id',
        "id",
    )
    assert translate("BEGIN IMMEDIATE")[0] == "BEGIN"
