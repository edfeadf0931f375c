"""Topic alerts: follow a topic for a server channel or
for oneself by DM; each new article relevant to it is delivered once, other outlets' copies of
the same story folded in.

The service plans and records; the bot sends. A delivery pass:

1. :meth:`Following.plan` — per follow, under the archive's write lock (so processes planning
   together see one cursor): the articles first seen after the follow's cursor, as far as they are
   embedded, scored against the topic (:mod:`.relevance`: the retriever's hybrid score restricted
   to them and the follow's scope); those at or above the threshold are grouped into stories
   (index.search.stories), a story alerted in the last days absorbs its new copies, and each is
   queued (copies ``folded`` under it) while the cursor moves on, in one transaction.
2. :meth:`Following.batches` — the queued alerts per follow, at most ``MAX_ALERTS_PER_TARGET`` per
   delivery target (a channel, a member's DMs) and pass; the rest is summarised in one line.
3. The bot claims each alert (queued -> sending, atomic) before sending, then records it.

A DM that cannot be delivered pauses the member's DM follows (recorded, never retried) until they
use ``/follow`` or ``/following`` again."""

from __future__ import annotations

import dataclasses
import re
import time
from collections import defaultdict
from collections.abc import Iterable

from .. import policy
from ..archive import Archive
from ..errors import BadQuery, LimitReached, NotFound, PermissionDenied
from ..models import GLOBAL, Alert, AlertBatch, Article, Follow, Hit, Scope
from ..search.retriever import Retriever
from ..text.dates import parse_moment
from .relevance import score_articles

MAX_TOPIC_CHARS = 200
MAX_ALERTS_PER_TARGET = 5  # per delivery target and pass; more are summarised in one line
# Calibrated by benchmarks/bench_alerts.py on the dev archive (all-MiniLM-L6-v2, 20 topics, 763
# daily passes): the best F1 of 0.20..0.60, lenient (0.53: P 0.59, R 0.48) and strict (0.25) alike.
ALERT_THRESHOLD = 0.50
MAX_ARTICLE_AGE_DAYS = 3.0  # an article published longer ago than this when it arrives is not news
STORY_MEMORY_DAYS = 3.0  # a new copy of a story alerted this recently is folded into it, not alerted
PLAN_BATCH = 2000  # new articles looked at per follow and pass (the next pass goes on)


def clean_topic(topic: str | None) -> str:
    """The topic as stored: whitespace collapsed; empty, wordless or too long refused."""
    text = " ".join((topic or "").split())
    if not text:
        raise BadQuery("the topic is empty")
    if len(text) > MAX_TOPIC_CHARS:
        raise BadQuery(f"a topic is at most {MAX_TOPIC_CHARS} characters (this one has {len(text)})")
    if not re.search(r"\w", text):
        raise BadQuery("the topic has no words to match")
    return text


def follow_scope(follow: Follow) -> Scope:
    """What a follow sees: its server's feeds plus the global ones; the global feeds for a DM
    follow made outside a server; everything for a command-line follow made without a server."""
    if follow.guild_id is None and follow.kind == "cli":
        return GLOBAL
    return Scope(guild_id=follow.guild_id, everything=False)


def target_of(follow: Follow) -> tuple[str, int]:
    if follow.channel_id is not None:
        return ("channel", follow.channel_id)
    if follow.user_id is not None:
        return ("dm", follow.user_id)
    return ("cli", 0)


class Following:
    def __init__(self, archive: Archive, retriever: Retriever, threshold: float = ALERT_THRESHOLD):
        self.archive = archive
        self.retriever = retriever
        self.threshold = threshold

    # -- membership ------------------------------------------------------------
    def forget_member(self, guild_id: int, user_id: int) -> int:
        """A member left a server: their DM follows and DM watches made there go (they saw the
        server's private feeds, which the member may no longer read). Returns how many."""
        return self.archive.remove_server_follows(guild_id, user_id) + self.archive.remove_server_watches(
            guild_id, user_id
        )

    def forget_server(self, guild_id: int) -> int:
        """The bot was removed from a server: every follow and watch of it goes. Returns how many."""
        return self.archive.remove_server_follows(guild_id) + self.archive.remove_server_watches(guild_id)

    # -- follows -------------------------------------------------------------
    def add(
        self,
        topic: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        created_by: int | None = None,
    ) -> Follow:
        topic = clean_topic(topic)
        if channel_id is not None:
            user_id = None
            limit = policy.CHANNEL_FOLLOWS_PER_GUILD
            what = f"a server has at most {limit} channel follows"
        elif user_id is not None:
            limit = policy.DM_FOLLOWS_PER_MEMBER
            what = f"a member has at most {limit} DM follows"
        else:
            limit = policy.CLI_FOLLOWS
            what = f"at most {limit} follows without a channel or member"
        if self.archive.same_follow(topic, guild_id, channel_id, user_id) is not None:
            raise BadQuery(f"already following {topic!r} there")
        follow = self.archive.add_follow(topic, guild_id, channel_id, user_id, created_by, max_same_target=limit)
        if follow is None:
            raise LimitReached(f"{what}; remove one with /unfollow (or `newsdesk follow remove ID`) first")
        if user_id is not None:
            self.archive.resume_follows(user_id)
        return follow

    def list_follows(
        self, *, guild_id: int | None = None, user_id: int | None = None, everything: bool = False
    ) -> list[Follow]:
        return self.archive.list_follows(guild_id=guild_id, user_id=user_id, everything=everything)

    def get(self, follow_id: int | str) -> Follow:
        key = str(follow_id).strip().lstrip("#")
        follow = self.archive.get_follow(int(key)) if key.isdigit() else None
        if follow is None:
            raise NotFound(f"no follow {str(follow_id)!r}")
        return follow

    def remove(
        self,
        follow_id: int | str,
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        admin: bool = False,
        everything: bool = False,
    ) -> Follow:
        """A server's channel follow (its admins), a member's own DM follow, or any (``everything``)."""
        follow = self.get(follow_id)
        if not everything:
            if follow.kind == "channel":
                if guild_id is None or follow.guild_id != guild_id:
                    raise NotFound(f"no follow {str(follow_id)!r} in this server")
                if not admin:
                    raise PermissionDenied("only the server's admins can remove a channel's follow")
            elif follow.kind != "dm" or follow.user_id != user_id:
                raise NotFound(f"no follow {str(follow_id)!r} of yours")
        self.archive.remove_follow(follow.id)
        return follow

    def resume(self, user_id: int) -> int:
        """The member is back: their paused DM follows deliver again (from the next new article)."""
        return self.archive.resume_follows(user_id)

    # -- matching --------------------------------------------------------------
    def matches(
        self,
        follow: Follow,
        article_ids: Iterable[int],
        *,
        recent: Iterable[int] = (),
        fresh_after: float | None = None,
    ) -> tuple[list[Alert], list[tuple[int, int]]]:
        """The alerts a follow gets from these new articles (see :meth:`select`)."""
        return self.select(follow, self.score(follow, article_ids), recent=recent, fresh_after=fresh_after)

    def score(self, follow: Follow, article_ids: Iterable[int]) -> list[Hit]:
        """The new articles visible to the follow, scored against its topic, best first."""
        return score_articles(self.retriever, follow.topic, article_ids, follow_scope(follow))

    def select(
        self,
        follow: Follow,
        hits: list[Hit],
        *,
        recent: Iterable[int] = (),
        fresh_after: float | None = None,
        threshold: float | None = None,
    ) -> tuple[list[Alert], list[tuple[int, int]]]:
        """Of scored new articles, those at or above the threshold (and published after
        ``fresh_after``), grouped into stories: best copy first, other outlets' copies in ``also``.
        Copies of a story in ``recent`` (articles already alerted) come back as (copy, story) pairs
        to record as folded, not as alerts."""
        threshold = self.threshold if threshold is None else threshold
        hits = [
            h
            for h in hits
            if h.score >= threshold
            and (fresh_after is None or h.article.published_ts is None or h.article.published_ts >= fresh_after)
        ]
        if not hits:
            return [], []
        hits = [dataclasses.replace(h, also=[]) for h in hits]  # grouping fills ``also``: never the caller's
        new_ids = {h.article.id for h in hits}
        recent_ids = [a for a in dict.fromkeys(recent) if a not in new_ids]
        recent_articles = self.archive.articles_by_ids(recent_ids)
        anchors = [
            Hit(article=recent_articles[a], passage=self.archive.first_passage(recent_articles[a]), score=float("inf"))
            for a in recent_ids
            if a in recent_articles
        ]
        anchor_ids = {h.article.id for h in anchors}
        grouped = self.retriever.group_stories(anchors + hits, len(anchors) + len(hits))
        alerts, folded = [], []
        for hit in grouped:
            if hit.article.id in anchor_ids:
                folded += [(copy.id, hit.article.id) for copy in hit.also]
                continue
            snippet = hit.passage.text if hit.passage else ""
            alerts.append(Alert(follow, hit.article, hit.score, list(hit.also), snippet))
        return alerts, folded

    # -- a delivery pass ---------------------------------------------------------
    def plan(self, now: float | None = None) -> int:
        """Queue the new articles' alerts of every follow with a target; returns the alerts queued."""
        now = time.time() if now is None else now
        follows = [f for f in self.archive.list_follows(everything=True) if f.kind != "cli"]
        if not follows:
            return 0  # nothing to plan: the index is not even opened
        try:
            self.retriever.refresh_mirror()  # outside the write lock: it may take a while after an ingest
        except Exception:  # noqa: BLE001 - score_articles falls back to coverage and logs it
            pass
        return sum(self.plan_follow(follow, now) for follow in follows)

    def plan_follow(self, follow: Follow, now: float) -> int:
        with self.archive.transaction():  # one planner per follow at a time, in any process
            cursor = self.archive.follow_cursor(follow.id)
            if cursor is None:
                return 0  # removed meanwhile
            ready: list[tuple[int, int]] = []
            for article_id, seq, unembedded in self.archive.articles_first_seen_after(cursor, PLAN_BATCH):
                if unembedded:
                    break  # not searchable yet: the next pass goes on from here
                ready.append((article_id, seq))
            if not ready:
                return 0
            last_seq = ready[-1][1]
            current = self.archive.get_follow(follow.id)
            if current is None:
                return 0
            if current.paused:
                self.archive.set_follow_cursor(follow.id, last_seq)  # nothing piles up while paused
                return 0
            alerts, folded = self.matches(
                current,
                [a for a, _ in ready],
                recent=self.archive.recent_alerted(follow.id, now - STORY_MEMORY_DAYS * 86400),
                fresh_after=now - MAX_ARTICLE_AGE_DAYS * 86400,
            )
            rows: list[tuple[int, str, int | None, float]] = []
            for alert in alerts:
                rows.append((alert.article.id, "queued", None, alert.score))
                rows += [(copy.id, "folded", alert.article.id, alert.score) for copy in alert.also]
            rows += [(copy, "folded", story, 0.0) for copy, story in folded]
            added = self.archive.queue_alerts(follow.id, rows, last_seq)
            return len(alerts) if added else 0

    def batches(self, limit: int = 1000) -> list[AlertBatch]:
        """The queued alerts, per follow: at most MAX_ALERTS_PER_TARGET per target (a channel, a
        member's DMs) in ``alerts``, the rest in ``overflow`` (to claim as summarised)."""
        rows = self.archive.queued_alerts(limit)
        if not rows:
            return []
        follows = {f.id: f for f in self.archive.list_follows(everything=True)}
        articles = self.archive.articles_by_ids([article_id for _, article_id, _ in rows])
        per_follow: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for follow_id, article_id, score in rows:
            if follow_id in follows and article_id in articles:
                per_follow[follow_id].append((article_id, score))
        taken: dict[tuple[str, int], int] = defaultdict(int)
        out = []
        for follow_id, items in per_follow.items():
            follow = follows[follow_id]
            folded = self.archive.folded_into(follow_id, [a for a, _ in items])
            copies = self.archive.articles_by_ids([c for cs in folded.values() for c in cs])
            batch = AlertBatch(follow)
            target = target_of(follow)
            for article_id, score in items:
                article = articles[article_id]
                alert = Alert(follow, article, score, [copies[c] for c in folded.get(article_id, []) if c in copies])
                alert.snippet = _snippet(article)
                if taken[target] < MAX_ALERTS_PER_TARGET:
                    taken[target] += 1
                    batch.alerts.append(alert)
                else:
                    batch.overflow.append(alert)
            out.append(batch)
        return out

    def claim(self, follow_id: int, article_id: int) -> bool:
        return self.archive.claim_alert(follow_id, article_id)

    def summarise(self, follow_id: int, article_id: int) -> bool:
        return self.archive.claim_alert(
            follow_id,
            article_id,
            "summarised",
            f"more than {MAX_ALERTS_PER_TARGET} alerts for one target in a pass (summarised in one line)",
        )

    def sent(self, follow_id: int, article_id: int, message_id: int | None) -> None:
        self.archive.finish_alert(follow_id, article_id, "sent", message_id=message_id)

    def failed(self, follow_id: int, article_id: int, reason: str, *, dm_closed: bool = False) -> None:
        """A claimed alert could not be sent; closed DMs also pause the member's DM follows."""
        self.archive.finish_alert(follow_id, article_id, "failed", reason=reason)
        follow = self.archive.get_follow(follow_id)
        if dm_closed and follow is not None and follow.user_id is not None:
            self.archive.pause_follows(follow.user_id, reason)

    # -- preview ---------------------------------------------------------------------
    def preview(self, since=None, follows: list[Follow] | None = None, threshold: float | None = None) -> list[Alert]:
        """What the follows would receive, without queuing or claiming anything: from the articles
        published since ``since`` (a date, a moment or a timestamp), or else those that arrived after
        each follow's cursor (at another ``threshold``, to compare)."""
        since_ts = since if isinstance(since, int | float) else None
        if since_ts is None:
            since_dt = parse_moment(since, name="since")
            since_ts = since_dt.timestamp() if since_dt else None
        follows = self.archive.list_follows(everything=True) if follows is None else follows
        since_ids = self.archive.article_ids_published_since(since_ts) if since_ts is not None else None
        out: list[Alert] = []
        for follow in follows:
            if since_ids is not None:
                ids = since_ids
            else:
                cursor = self.archive.follow_cursor(follow.id) or 0
                ids = [a for a, _, _ in self.archive.articles_first_seen_after(cursor, PLAN_BATCH)]
            alerts, _ = self.select(follow, self.score(follow, ids), threshold=threshold)
            out += alerts
        return out


def _snippet(article: Article) -> str:
    return " ".join((article.summary or article.text or "").split())[:300]
