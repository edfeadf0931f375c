"""Schema changes: ``m00N_…`` functions applied in order, once (``Database.migrate`` records them).

Each takes the sqlite-utils database and must be idempotent: processes starting together
serialise on a file lock, and a migration interrupted half-way runs again."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

import sqlite_utils

from .sql import now_iso

MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = []


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: sqlite_utils.Database):
    db.table("feeds").create(
        {
            "id": int,
            "url": str,
            "name": str,
            "title": str,
            "site_url": str,
            "guild_id": int,
            "channel_id": int,
            "added_by": int,
            "added_at": str,
            "status": str,
            "last_fetch_at": str,
            "last_ok_at": str,
            "last_error": str,
            "warning": str,
            "etag": str,
            "last_modified": str,
            "failures": int,
            "next_poll_at": float,
            "posting_since": float,
        },
        pk="id",
        not_null={"url"},
        defaults={"status": "new", "failures": 0},
        if_not_exists=True,
    )
    db.table("feeds").create_index(["url"], unique=True, if_not_exists=True)
    db.table("articles").create(
        {
            "id": int,
            "guid": str,
            "url": str,
            "title": str,
            "outlet": str,
            "authors": str,
            "published": str,
            "published_ts": float,
            "date_source": str,
            "fetched_at": str,
            "updated_at": str,
            "language": str,
            "summary": str,
            "text": str,
            "text_source": str,
            "content_hash": str,
            "entry_hash": str,
            "feed_id": int,
        },
        pk="id",
        foreign_keys=[("feed_id", "feeds", "id")],
        if_not_exists=True,
    )
    db.table("articles").create_index(["guid"], unique=True, if_not_exists=True)
    db.table("articles").create_index(["url"], if_not_exists=True)
    db.table("articles").create_index(["content_hash"], if_not_exists=True)
    db.table("articles").create_index(["published_ts"], if_not_exists=True)
    db.table("article_feeds").create(
        {"article_id": int, "feed_id": int, "first_seen_at": str},
        pk=("article_id", "feed_id"),
        foreign_keys=[("article_id", "articles", "id"), ("feed_id", "feeds", "id")],
        if_not_exists=True,
    )
    db.table("article_feeds").create_index(["feed_id"], if_not_exists=True)
    db.table("passages").create(
        {
            "id": str,
            "article_id": int,
            "seq": int,
            "title": str,
            "text": str,
            "published_ts": float,
            "outlet": str,
            "embedded": int,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
        defaults={"embedded": 0},
        if_not_exists=True,
    )
    db.table("passages").create_index(["article_id"], if_not_exists=True)
    db.table("passages").create_index(["embedded"], if_not_exists=True)
    db.table("passages").enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61", replace=True)
    db.table("vector_deletes").create({"passage_id": str, "queued_at": str}, pk="passage_id", if_not_exists=True)
    db.table("posts").create(
        {"channel_id": int, "article_id": int, "feed_id": int, "claimed_at": str, "message_id": int},
        pk=("channel_id", "article_id"),
        if_not_exists=True,
    )
    db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)


@contextmanager
def _immediate(db: sqlite_utils.Database):
    """One BEGIN IMMEDIATE transaction for a migration, so processes starting together apply it once."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


@migration
def m002_feed_first_ok(db: sqlite_utils.Database):
    """feeds.first_ok_at (unix time of the feed's first successful fetch; NULL until then) and
    feeds.first_ok_seq (the feed's highest article_feeds rowid at that moment). Everything a feed
    carried by its first successful fetch is backlog, never auto-posted; ``first_ok_seq`` separates
    backlog from news seen within the same second (``first_seen_at`` has one-second resolution).

    Runs in one BEGIN IMMEDIATE transaction so processes starting together add the columns once.
    Feeds that already fetched successfully before this migration are marked now: what they
    carry at this point counts as backlog, and their next new articles are posted as usual."""
    with _immediate(db):
        columns = {c.name for c in db.table("feeds").columns}
        if "first_ok_at" not in columns:
            db.table("feeds").add_column("first_ok_at", float)
        if "first_ok_seq" not in columns:
            db.table("feeds").add_column("first_ok_seq", int)
        if "first_ok_at" not in columns:
            db.execute(
                """UPDATE feeds SET first_ok_at = ?, first_ok_seq =
                       (SELECT coalesce(max(af.rowid), 0) FROM article_feeds af WHERE af.feed_id = feeds.id)
                   WHERE last_ok_at IS NOT NULL AND first_ok_at IS NULL""",
                [time.time()],
            )


@migration
def m003_feed_notices(db: sqlite_utils.Database):
    """feed_notices: the health state last announced for each feed (``ok`` or ``error``), shared by
    every bot process so a feed's failure or recovery is announced once, whoever polled it."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS feed_notices (
            feed_id INTEGER PRIMARY KEY, announced TEXT NOT NULL, changed_at TEXT)""")
        # what is true now is old news: seed every existing feed with its current state
        db.execute(
            """INSERT OR IGNORE INTO feed_notices (feed_id, announced, changed_at)
                      SELECT id, CASE status WHEN 'error' THEN 'error' ELSE 'ok' END, ? FROM feeds""",
            [now_iso()],
        )


@migration
def m004_passage_neighbours(db: sqlite_utils.Database):
    """passage_neighbours: each embedded passage's similarities to its nearest other passages
    (float32 blob, best first), kept by the vector mirror for the density correction and stored
    so a restart does not redo the all-pairs product."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS passage_neighbours (
            passage_id TEXT PRIMARY KEY, sims BLOB NOT NULL)""")


@migration
def m005_delivery(db: sqlite_utils.Database):
    """Delivery rules and log, shared by every bot process:

    - delivery_filters: include/exclude rules per feed and channel (index.delivery.filters);
    - delivery_limits: flood control per channel (posts per window, a daily maximum, a maximum age);
    - delivery_log: what happened to each (channel, article) the auto-poster looked at — posted,
      filtered, held back by a limit, skipped, failing and retried (attempts, next try) or failed —
      with the reason, so ``/feeds why`` can answer and a failed send is retried after a restart;
    - delivery_backfill: existing articles an admin asked to post when adding a feed (at most N);
    - delivery_templates: how a feed's posts look (index.delivery.templates);
    - delivery_pings: roles a feed's posts mention (opt-in), each optionally with its own filter;
    - delivery_feed_options: a thread per post, a forum post's title template and tags by filter,
      and what to do when the feed re-publishes an article changed (ignore, edit, repost);
    - delivery_updates / delivery_update_claims: articles the ingest re-wrote with a changed title
      or text, and which channel handled each update (once, in any process);
    - delivery_channel_notices: channels whose posting problem was reported to the admins (once,
      across processes and restarts, until a post there succeeds again)."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_filters (
            id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL, channel_id INTEGER,
            action TEXT NOT NULL, field TEXT NOT NULL, pattern TEXT NOT NULL,
            regex INTEGER NOT NULL DEFAULT 0, negate INTEGER NOT NULL DEFAULT 0,
            case_sensitive INTEGER NOT NULL DEFAULT 0, created_by INTEGER, created_at TEXT)""")
        db.execute("CREATE INDEX IF NOT EXISTS delivery_filters_feed ON delivery_filters (feed_id)")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_limits (
            channel_id INTEGER PRIMARY KEY, guild_id INTEGER, per_window INTEGER, window_seconds INTEGER,
            daily_max INTEGER, max_age_days REAL, updated_at TEXT)""")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_log (
            channel_id INTEGER NOT NULL, article_id INTEGER NOT NULL, feed_id INTEGER,
            state TEXT NOT NULL, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0, next_try_at REAL,
            held INTEGER NOT NULL DEFAULT 0, message_id INTEGER, updated_at REAL,
            PRIMARY KEY (channel_id, article_id))""")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_templates (
            feed_id INTEGER PRIMARY KEY, body TEXT NOT NULL, style TEXT NOT NULL DEFAULT 'embed',
            timezone TEXT NOT NULL DEFAULT 'UTC', updated_by INTEGER, updated_at TEXT)""")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_pings (
            id INTEGER PRIMARY KEY, feed_id INTEGER NOT NULL, guild_id INTEGER, role_id INTEGER NOT NULL,
            field TEXT, pattern TEXT, regex INTEGER NOT NULL DEFAULT 0, subscribable INTEGER NOT NULL DEFAULT 0,
            created_by INTEGER, created_at TEXT, UNIQUE (feed_id, role_id))""")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_feed_options (
            feed_id INTEGER PRIMARY KEY, thread INTEGER NOT NULL DEFAULT 0, updates TEXT NOT NULL DEFAULT 'ignore',
            forum_title TEXT, forum_tags TEXT, updated_at REAL)""")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_updates (
            id INTEGER PRIMARY KEY, article_id INTEGER NOT NULL, feed_id INTEGER, at REAL NOT NULL)""")
        db.execute("CREATE INDEX IF NOT EXISTS delivery_updates_article ON delivery_updates (article_id)")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_channel_notices (
            channel_id INTEGER PRIMARY KEY, reason TEXT, at REAL)""")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_update_claims (
            channel_id INTEGER NOT NULL, update_id INTEGER NOT NULL, claimed_at REAL,
            PRIMARY KEY (channel_id, update_id))""")
        db.execute("CREATE INDEX IF NOT EXISTS delivery_log_state ON delivery_log (state, next_try_at)")
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_backfill (
            channel_id INTEGER NOT NULL, article_id INTEGER NOT NULL, feed_id INTEGER NOT NULL, queued_at REAL,
            PRIMARY KEY (channel_id, article_id))""")


@migration
def m006_article_categories(db: sqlite_utils.Database):
    """articles.categories: the entry's categories as the feed gave them (JSON list), for delivery
    filters and the {categories} placeholder. Articles archived before stay without until updated."""
    with _immediate(db):
        if "categories" not in {c.name for c in db.table("articles").columns}:
            db.table("articles").add_column("categories", str)


@migration
def m007_follows(db: sqlite_utils.Database):
    """Topic alerts, shared by every bot process:

    - follows: a topic followed for a server channel (``channel_id``) or for a member by DM
      (``user_id``), or from the command line (neither); ``guild_id`` is the server whose scope it
      sees (NULL: the global feeds). ``cursor_seq`` is the highest article_feeds rowid already looked
      at: only articles first seen after it are new. ``paused`` holds why DMs could not be delivered.
    - follow_alerts: what each follow did with each new article — ``queued`` to send, ``sending``
      (claimed by one process), ``sent`` (message id), ``folded`` into another alert of the same
      story (``story_of``), ``summarised`` in a flood line, or ``failed`` (reason); one row per
      (follow, article), so a delivery is claimed once across processes and restarts."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS follows (
            id INTEGER PRIMARY KEY, guild_id INTEGER, channel_id INTEGER, user_id INTEGER,
            topic TEXT NOT NULL, created_by INTEGER, created_at TEXT, cursor_seq INTEGER NOT NULL DEFAULT 0,
            paused TEXT, paused_at REAL)""")
        db.execute("CREATE INDEX IF NOT EXISTS follows_guild ON follows (guild_id)")
        db.execute("CREATE INDEX IF NOT EXISTS follows_user ON follows (user_id)")
        db.execute("""CREATE TABLE IF NOT EXISTS follow_alerts (
            follow_id INTEGER NOT NULL, article_id INTEGER NOT NULL, state TEXT NOT NULL,
            story_of INTEGER, score REAL, message_id INTEGER, reason TEXT, at REAL,
            PRIMARY KEY (follow_id, article_id))""")
        db.execute("CREATE INDEX IF NOT EXISTS follow_alerts_state ON follow_alerts (state)")


@migration
def m008_digests(db: sqlite_utils.Database):
    """Scheduled digests, shared by every bot process:

    - digest_schedules: per server, a channel gets the top stories every day or week at a time
      (UTC minutes after midnight; weekly on a weekday), optionally on a topic;
    - digest_runs: one row per schedule and period key (``2026-12-02`` daily, ``2026-W49`` weekly),
      inserted atomically before the digest is posted, so a period is posted once, whichever
      process or pass gets there first, and never again after a restart."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS digest_schedules (
            id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL, channel_id INTEGER NOT NULL,
            period TEXT NOT NULL, minute INTEGER NOT NULL DEFAULT 480, weekday INTEGER NOT NULL DEFAULT 0,
            topic TEXT, created_by INTEGER, created_ts REAL NOT NULL)""")
        db.execute("CREATE INDEX IF NOT EXISTS digest_schedules_guild ON digest_schedules (guild_id)")
        db.execute("""CREATE TABLE IF NOT EXISTS digest_runs (
            schedule_id INTEGER NOT NULL, period_key TEXT NOT NULL, claimed_ts REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'claimed', message_id INTEGER, detail TEXT,
            PRIMARY KEY (schedule_id, period_key))""")


@migration
def m009_watches_feedback(db: sqlite_utils.Database):
    """Standing questions and answer feedback, shared by every bot process:

    - watches: a saved question, for a server channel (``channel_id``), a member's DMs (``user_id``)
      or the command line (neither); ``guild_id`` is the server whose scope it asks in (NULL: the
      global feeds). ``seen_article_id`` is the highest article id fully embedded at its last check
      (only articles above it are new coverage) and ``seen_update_id`` the same for articles the
      feeds re-published changed (``delivery_updates``); ``answer`` is its last answer as JSON
      ``[[sentence, article_id], …]`` and ``fingerprint`` that answer's hash (index.following.watches).
    - watch_notices: one row per (watch, answer fingerprint) — the atomic claim that makes a change
      notice go out once across processes; ``message_id`` once sent.
    - asked: the answers /ask and ``newsdesk ask`` gave (question, as-of, cited article ids, whether
      it abstained, the question's embedding for grouping), so buttons can vote on them and
      ``/status`` can list the unanswered ones; ``guild_id`` NULL for the terminal and DMs.
    - answer_votes: one vote per (answer, voter) — ``voter`` is a keyed hash of the Discord user id,
      never the id itself; a second click replaces the row."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS watches (
            id INTEGER PRIMARY KEY, guild_id INTEGER, channel_id INTEGER, user_id INTEGER,
            question TEXT NOT NULL, created_by INTEGER, created_at TEXT, checked_at TEXT,
            seen_article_id INTEGER NOT NULL DEFAULT 0, seen_update_id INTEGER NOT NULL DEFAULT 0,
            answer TEXT, fingerprint TEXT)""")
        db.execute("CREATE INDEX IF NOT EXISTS watches_guild ON watches (guild_id)")
        db.execute("""CREATE TABLE IF NOT EXISTS watch_notices (
            watch_id INTEGER NOT NULL, fingerprint TEXT NOT NULL, claimed_at TEXT, message_id INTEGER,
            PRIMARY KEY (watch_id, fingerprint))""")
        db.execute("""CREATE TABLE IF NOT EXISTS asked (
            id INTEGER PRIMARY KEY, guild_id INTEGER, via TEXT NOT NULL, question TEXT NOT NULL,
            as_of TEXT, asked_at TEXT NOT NULL, cited TEXT NOT NULL DEFAULT '[]', abstained INTEGER NOT NULL,
            vector BLOB)""")
        db.execute("CREATE INDEX IF NOT EXISTS asked_guild ON asked (guild_id, abstained)")
        db.execute("""CREATE TABLE IF NOT EXISTS answer_votes (
            answer_id INTEGER NOT NULL, voter TEXT NOT NULL, vote INTEGER NOT NULL, voted_at TEXT,
            PRIMARY KEY (answer_id, voter))""")


@migration
def m010_passage_meta_index(db: sqlite_utils.Database):
    """A covering index of each passage's article, date and outlet by id, so the lookups that
    filter and collapse search candidates (``passage_meta``) never read a passage's row: its text
    comes before those columns, on overflow pages. 4,000 lookups at 1M passages: 13 ms against 30."""
    with _immediate(db):
        db.execute("CREATE INDEX IF NOT EXISTS passages_meta ON passages (id, article_id, published_ts, outlet)")


@migration
def m011_delivery_outbox(db: sqlite_utils.Database):
    """The delivery outbox: every message the bot sends on its own (auto-posts, reposted updates,
    topic alerts, watch notices, digests, feed-health and give-up notices) is a row here before it
    is sent, keyed by what it delivers (``post:<channel>:<article>``…). Its state says whether it was
    sent (message id), is being sent (by which process, until when), failed with a known outcome
    (retry at), failed with an unknown one (looked up in the channel's history before any resend)
    or was given up (reported once). ``delivery_limits.summarise_over``: an admin's choice to
    summarise new articles past N per posting pass in one line instead of pacing them."""
    with _immediate(db):
        db.execute("""CREATE TABLE IF NOT EXISTS delivery_outbox (
            key TEXT PRIMARY KEY, kind TEXT NOT NULL, channel_id INTEGER, user_id INTEGER,
            payload TEXT NOT NULL, ref TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0, next_try_at REAL NOT NULL DEFAULT 0, owner TEXT,
            lease_until REAL, message_id INTEGER, reason TEXT, reported INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL, updated_at REAL NOT NULL)""")
        db.execute("CREATE INDEX IF NOT EXISTS delivery_outbox_state ON delivery_outbox (state, next_try_at)")
        columns = {c.name for c in db.table("delivery_limits").columns}
        if "summarise_over" not in columns:
            db.execute("ALTER TABLE delivery_limits ADD COLUMN summarise_over INTEGER")


@migration
def m012_feed_per_server(db: sqlite_utils.Database):
    """A feed row per (URL, server): each server subscribes to a URL on its own row (its name,
    channel and delivery settings), instead of the first server to add a URL owning it for all.
    The URL alone is no longer unique; (URL, server) is, with the global row as server 0. Existing
    rows already satisfy it (URLs were unique), so no data moves."""
    with _immediate(db):
        db.execute("DROP INDEX IF EXISTS idx_feeds_url")
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS feeds_url_guild ON feeds (url, coalesce(guild_id, 0))")
        db.execute("CREATE INDEX IF NOT EXISTS feeds_url ON feeds (url)")
