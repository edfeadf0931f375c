"""Following stories: digest schedules and their once-per-period claims, and the
reads behind digests, timelines and story comparison (articles of a period, the articles whose
text holds every word of a topic, first passages).

On PostgreSQL the schedule limit per server is counted under an advisory lock
(:mod:`.serialise`), a run claim locks its schedule row (``FOR KEY SHARE``: a concurrent removal
waits, or has removed it) and is won by the ``(schedule_id, period_key)`` primary key, and the
topic match reads ``passages.fts`` instead of FTS5 (:data:`PG_TOPIC_MATCHES`). Both backends read
a bounded number of a topic's postings and pick the words to match alike (:func:`topic_terms`)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..models import GLOBAL, Article, DigestSchedule, Scope
from ..text.words import is_content_word, word_list
from .db import Database
from .passages import terms_within
from .pg_migrations import FTS_CONFIG
from .pg_search import RANK_WEIGHTS
from .rows import article_from_row
from .scope import filter_clauses
from .serialise import serialise_writers
from .sql import in_chunks


def _schedule(row: Sequence[Any]) -> DigestSchedule:
    return DigestSchedule(
        id=row[0],
        guild_id=row[1],
        channel_id=row[2],
        period=row[3],
        minute=row[4],
        weekday=row[5],
        topic=row[6],
        created_by=row[7],
        created_ts=row[8],
        last_key=row[9],
        last_state=row[10],
    )


_SCHEDULE_COLUMNS = """s.id, s.guild_id, s.channel_id, s.period, s.minute, s.weekday, s.topic, s.created_by,
    s.created_ts,
    (SELECT r.period_key FROM digest_runs r WHERE r.schedule_id = s.id ORDER BY r.claimed_ts DESC LIMIT 1),
    (SELECT r.state FROM digest_runs r WHERE r.schedule_id = s.id ORDER BY r.claimed_ts DESC LIMIT 1)"""


def all_words(topic: str) -> list[str]:
    """The topic's content words (else all its words), each once, at most 16: what must all match."""
    words = word_list(topic)
    terms = [w for w in words if is_content_word(w)] or [w for w in words if w]
    return list(dict.fromkeys(terms))[:16]


TOPIC_POSTINGS = 50_000  # passages of a topic's rarest word a timeline reads at most


def topic_terms(counts: dict[str, int], budget: int) -> list[str]:
    """The words a topic match reads, from each word's passages counted up to ``budget`` (a pure
    function of the counts, the same on both backends): none when a word has no passage (nothing
    holds them all); else the rarest words whose postings fit the budget, all of which must match
    (a word more common than that narrows nothing and is left out); else the rarest word alone, of
    which only the newest ``budget`` passages are read."""
    if not counts or not all(counts.values()):
        return []
    return terms_within(counts, budget) or [min(counts, key=lambda w: counts[w])]


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def all_words_query(topic: str) -> list[str]:
    """One safe FTS5 MATCH term per content word of the topic (each quoted)."""
    return ['"' + w.replace('"', '""') + '"' for w in all_words(topic)]


# The topic match on PostgreSQL: one tsquery per word (plainto_tsquery with the english config, the
# stems of passages.fts: "eruptions" matches "eruption"; the words are one text[] parameter, never
# pasted), the articles whose passages together match every word that has a lexeme (as the FTS5
# INTERSECT does; a word PostgreSQL's english config drops as a stopword is left out, as FTS5 cannot
# drop it), each scored by its best passage's ts_rank summed over the words it holds (title weighs
# twice the text, as bm25(passages_fts, 2.0, 1.0) does). The GIN index serves each word's match,
# which reads the word's newest passages up to the budget (the second parameter; the words are
# chosen by topic_terms, so only a lone word past the budget is cut). ``{where}``: the article
# filters, put in with str.replace (the weights hold braces); their ``?`` parameters come last.
PG_TOPIC_MATCHES = f"""
    WITH words AS (SELECT DISTINCT plainto_tsquery('{FTS_CONFIG}', w) AS q FROM unnest(CAST(? AS text[])) AS w),
    live AS (SELECT q FROM words WHERE numnode(q) > 0),
    hits AS (SELECT p.article_id, p.id AS passage_id, CAST(live.q AS text) AS word,
                    ts_rank('{RANK_WEIGHTS}', p.fts, live.q) AS rank
             FROM live CROSS JOIN LATERAL (
                 SELECT article_id, id, fts FROM passages WHERE fts @@ live.q ORDER BY rowid DESC LIMIT ?) AS p),
    matched AS (SELECT article_id FROM hits GROUP BY article_id
                HAVING count(DISTINCT word) = (SELECT count(*) FROM live)),
    best AS (SELECT article_id, max(rank) AS score FROM (
                 SELECT article_id, passage_id, sum(rank) AS rank FROM hits
                 WHERE article_id IN (SELECT article_id FROM matched) GROUP BY article_id, passage_id) AS per_passage
             GROUP BY article_id)
    SELECT a.id, a.published_ts, coalesce(a.outlet, ''), b.score
    FROM articles a JOIN best b ON b.article_id = a.id
    WHERE {{where}} ORDER BY a.published_ts, a.id"""


class DigestStore(Database):
    """Digest schedules, their runs, and the period/topic reads of index.following."""

    # -- schedules -----------------------------------------------------------
    def add_digest_schedule(
        self,
        guild_id: int,
        channel_id: int,
        period: str,
        minute: int,
        weekday: int,
        topic: str | None,
        created_by: int | None,
        max_per_guild: int,
    ) -> DigestSchedule | None:
        """Insert a schedule unless the server already has ``max_per_guild`` (None then); the count
        and the insert are one transaction, so two admins at once cannot pass the limit."""
        with self.transaction():
            serialise_writers(self, "digest_schedules", guild_id)
            count = self.db.execute("SELECT count(*) FROM digest_schedules WHERE guild_id = ?", [guild_id]).fetchone()[
                0
            ]
            if count >= max_per_guild:
                return None
            cur = self.db.execute(
                """INSERT INTO digest_schedules (guild_id, channel_id, period, minute, weekday, topic, created_by,
                   created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [guild_id, channel_id, period, minute, weekday, topic, created_by, time.time()],
            )
            schedule_id = cur.lastrowid
        found = self.digest_schedule(int(schedule_id or 0))
        assert found is not None
        return found

    def digest_schedule(self, schedule_id: int) -> DigestSchedule | None:
        row = self.db.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM digest_schedules s WHERE s.id = ?", [schedule_id]
        ).fetchone()
        return _schedule(row) if row else None

    def digest_schedules(self, guild_id: int | None = None) -> list[DigestSchedule]:
        """A server's schedules (every server's with None), oldest first."""
        if guild_id is None:
            rows = self.db.execute(f"SELECT {_SCHEDULE_COLUMNS} FROM digest_schedules s ORDER BY s.id").fetchall()
        else:
            rows = self.db.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM digest_schedules s WHERE s.guild_id = ? ORDER BY s.id", [guild_id]
            ).fetchall()
        return [_schedule(r) for r in rows]

    def remove_digest_schedule(self, schedule_id: int, guild_id: int | None) -> bool:
        """Remove a schedule (of that server, unless guild_id is None) and its runs."""
        with self.transaction():
            if guild_id is None:
                cur = self.db.execute("DELETE FROM digest_schedules WHERE id = ?", [schedule_id])
            else:
                cur = self.db.execute(
                    "DELETE FROM digest_schedules WHERE id = ? AND guild_id = ?", [schedule_id, guild_id]
                )
            if cur.rowcount:
                self.db.execute("DELETE FROM digest_runs WHERE schedule_id = ?", [schedule_id])
            return cur.rowcount == 1

    def digest_run_claimed(self, schedule_id: int, period_key: str) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM digest_runs WHERE schedule_id = ? AND period_key = ?", [schedule_id, period_key]
            ).fetchone()
            is not None
        )

    def claim_digest_run(self, schedule_id: int, period_key: str) -> bool:
        """Atomically claim one period of a schedule: True for exactly one caller, in any process."""
        lock = " FOR KEY SHARE" if self.backend == "postgresql" else ""  # a removal waits for the claim
        with self.transaction():
            if not self.db.execute(f"SELECT 1 FROM digest_schedules WHERE id = ?{lock}", [schedule_id]).fetchone():
                return False  # cancelled meanwhile
            cur = self.db.execute(
                "INSERT OR IGNORE INTO digest_runs (schedule_id, period_key, claimed_ts) VALUES (?, ?, ?)",
                [schedule_id, period_key, time.time()],
            )
            return cur.rowcount == 1

    def record_digest_run(
        self,
        schedule_id: int,
        period_key: str,
        state: str,
        message_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE digest_runs SET state = ?, message_id = ?, detail = ? WHERE schedule_id = ? AND period_key = ?",
                [state, message_id, detail, schedule_id, period_key],
            )

    def digest_runs(self, schedule_id: int) -> list[dict]:
        rows = self.db.execute(
            """SELECT period_key, claimed_ts, state, message_id, detail FROM digest_runs
               WHERE schedule_id = ? ORDER BY claimed_ts""",
            [schedule_id],
        ).fetchall()
        return [
            {"period_key": r[0], "claimed_ts": r[1], "state": r[2], "message_id": r[3], "detail": r[4]} for r in rows
        ]

    # -- reads for digests, timelines, comparison -------------------------------
    def period_articles(
        self,
        since_ts: float | None,
        until_ts: float | None,
        *,
        scope: Scope = GLOBAL,
        fetched_until: str | None = None,
        limit: int = 2000,
    ) -> list[Article]:
        """Articles published in [since, until] (newest ``limit``), oldest first; with
        ``fetched_until`` (ISO), only those archived by then."""
        where, params = filter_clauses("a", "a.id", since_ts, until_ts, None, scope)
        where.insert(0, "a.published_ts IS NOT NULL")
        if fetched_until is not None:
            where.append("a.fetched_at <= ?")
            params.append(fetched_until)
        params.append(limit)
        rows = self.db.query(
            f"SELECT * FROM articles a WHERE {' AND '.join(where)} ORDER BY a.published_ts DESC, a.id DESC LIMIT ?",
            params,
        )
        return sorted((article_from_row(r) for r in rows), key=lambda a: (a.published_ts or 0, a.id))

    def topic_articles(
        self,
        topic: str,
        since_ts: float | None,
        until_ts: float | None,
        *,
        scope: Scope = GLOBAL,
        fetched_until: str | None = None,
        max_postings: int = TOPIC_POSTINGS,
    ) -> list[tuple[int, float, str, float]]:
        """(article_id, published_ts, outlet, score) of every article in scope published in [since,
        until] (and archived by ``fetched_until``) whose passages hold every content word of the
        topic (FTS5, porter stems: "eruptions" matches "eruption"), oldest first; score is the best
        passage's BM25 for the topic's words (higher is better). Either backend reads about
        ``max_postings`` postings at most (:func:`topic_terms`): a word more common than that
        is left out of the match, and a topic of only such words counts its newest matches.
        PostgreSQL: the same articles from ``passages.fts`` (english stems; :data:`PG_TOPIC_MATCHES`),
        scored by ts_rank."""
        if self.backend == "postgresql":
            return self._topic_articles_postgres(topic, since_ts, until_ts, scope, fetched_until, max_postings)
        words = all_words(topic)
        if not words:
            return []
        try:
            return self._topic_matches(words, since_ts, until_ts, scope, fetched_until, max_postings)
        except sqlite3.OperationalError:
            return []

    def _topic_matches(
        self,
        words: list[str],
        since_ts: float | None,
        until_ts: float | None,
        scope: Scope,
        fetched_until: str | None,
        max_postings: int,
    ) -> list[tuple[int, float, str, float]]:
        """SQLite: the articles holding every word, reading at most about ``max_postings``
        postings in all (as the keyword search does): the words are counted (each count stops at
        the budget), the rarest ones whose postings fit the budget must all match and a word more
        common than that is left out (like "said", it narrows nothing); when not even the rarest
        fits, its newest ``max_postings`` passages are read. The matches are narrowed to the
        caller's scope and dates before their rows are read, and scored by one bounded BM25 pass."""
        counts = {  # each word's passages, counted up to the budget (a bounded read)
            w: self.db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM passages_fts WHERE passages_fts MATCH ? LIMIT ?)",
                [_quoted(w), max_postings + 1],
            ).fetchone()[0]
            for w in words
        }
        kept = topic_terms(counts, max_postings)
        if not kept:
            return []  # a word no passage holds: nothing holds them all
        matched: set[int] | None = None
        for word in kept:
            found = set(self._article_ids(self._newest_postings(_quoted(word), max_postings)))
            matched = found if matched is None else matched & found
        articles = self._in_scope(sorted(matched or ()), since_ts, until_ts, scope, fetched_until)
        scores: dict[int, float] = {}
        query = " OR ".join(_quoted(w) for w in kept)
        scored = self.db.execute(  # bm25() cannot sit under an aggregate: best passage per article here
            """SELECT p.article_id, -bm25(passages_fts, 2.0, 1.0) FROM passages_fts
               JOIN passages p ON p.rowid = passages_fts.rowid
               WHERE passages_fts MATCH ? ORDER BY passages_fts.rowid DESC LIMIT ?""",
            [query, max_postings],
        ).fetchall()
        for article_id, score in scored:
            if article_id in articles:
                scores[article_id] = max(score, scores.get(article_id, score))
        rows = sorted((published_ts, a) for a, (published_ts, _) in articles.items())
        return [(a, ts, articles[a][1], float(scores.get(a, 0.0))) for ts, a in rows]

    def _newest_postings(self, match: str, limit: int) -> list[int]:
        """Rowids of the newest ``limit`` passages matching ``match`` (a bounded read)."""
        return [
            r[0]
            for r in self.db.execute(
                "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rowid DESC LIMIT ?", [match, limit]
            ).fetchall()
        ]

    def _article_ids(self, passage_rowids: list[int]) -> list[int]:
        out: list[int] = []
        for chunk, marks in in_chunks(passage_rowids):
            out += [r[0] for r in self.db.execute(f"SELECT article_id FROM passages WHERE rowid IN ({marks})", chunk)]
        return out

    def _in_scope(
        self,
        article_ids: list[int],
        since_ts: float | None,
        until_ts: float | None,
        scope: Scope,
        fetched_until: str | None,
    ) -> dict[int, tuple[float, str]]:
        """Of these articles, those in scope, dated within [since, until] and archived by
        ``fetched_until``: id -> (published_ts, outlet)."""
        where, params = filter_clauses("a", "a.id", since_ts, until_ts, None, scope, correlated=True)
        where.insert(0, "a.published_ts IS NOT NULL")
        if fetched_until is not None:
            where.append("a.fetched_at <= ?")
            params.append(fetched_until)
        out: dict[int, tuple[float, str]] = {}
        for chunk, marks in in_chunks(article_ids):
            for article_id, published_ts, outlet in self.db.execute(
                f"""SELECT a.id, a.published_ts, coalesce(a.outlet, '') FROM articles a
                    WHERE a.id IN ({marks}) AND {" AND ".join(where)}""",
                [*chunk, *params],
            ).fetchall():
                out[int(article_id)] = (float(published_ts), str(outlet))
        return out

    def _topic_articles_postgres(
        self,
        topic: str,
        since_ts: float | None,
        until_ts: float | None,
        scope: Scope,
        fetched_until: str | None,
        max_postings: int,
    ) -> list[tuple[int, float, str, float]]:
        """PostgreSQL: as :meth:`_topic_matches`, the words counted up to the budget (each count a
        bounded read), chosen by :func:`topic_terms`, then matched on their newest postings."""
        counts = {
            w: self.db.execute(
                f"""SELECT count(*) FROM (SELECT 1 FROM passages
                    WHERE fts @@ plainto_tsquery('{FTS_CONFIG}', ?) LIMIT ?) AS s""",
                [w, max_postings + 1],
            ).fetchone()[0]
            for w in self._live_words(all_words(topic))
        }
        words = topic_terms(counts, max_postings)
        if not words:
            return []
        where, params = filter_clauses("a", "a.id", since_ts, until_ts, None, scope)
        where.insert(0, "a.published_ts IS NOT NULL")
        if fetched_until is not None:
            where.append("a.fetched_at <= ?")
            params.append(fetched_until)
        rows = self.db.execute(
            PG_TOPIC_MATCHES.replace("{where}", " AND ".join(where)), [words, max_postings, *params]
        ).fetchall()
        return [(int(r[0]), float(r[1]), str(r[2]), float(r[3])) for r in rows]

    def _live_words(self, words: list[str]) -> list[str]:
        """Of the topic's words, one per distinct english tsquery ("eruption" and "eruptions" are
        one word to count), leaving out those the config drops as stopwords (they match nothing,
        and are left out of the match as before)."""
        if not words:
            return []
        rows = self.db.execute(
            f"""SELECT u.w, CAST(plainto_tsquery('{FTS_CONFIG}', u.w) AS text)
                FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS u(w, n)
                WHERE numnode(plainto_tsquery('{FTS_CONFIG}', u.w)) > 0 ORDER BY u.n""",
            [words],
        ).fetchall()
        first: dict[str, str] = {}  # tsquery -> the topic's first word with it
        for word, query in rows:
            first.setdefault(str(query), str(word))
        return list(first.values())

    def first_passage_ids(self, article_ids: Iterable[int]) -> dict[int, str]:
        """article id -> the id of its first passage (for its vector)."""
        out: dict[int, str] = {}
        for chunk, marks in in_chunks(list(dict.fromkeys(article_ids))):
            for article_id, passage_id in self.db.execute(
                f"""SELECT article_id, id FROM passages WHERE article_id IN ({marks})
                    AND seq = (SELECT min(seq) FROM passages q WHERE q.article_id = passages.article_id)""",
                chunk,
            ).fetchall():
                out[int(article_id)] = str(passage_id)
        return out
