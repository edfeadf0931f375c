"""Digests: a period's top stories, on demand or on a server's schedule (each run claimed once)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from .. import policy
from ..errors import BadQuery, LimitReached, NotFound
from ..models import GLOBAL, Digest, DigestSchedule, Scope
from ..parts import Parts
from ..text.dates import check_order, named_window, parse_moment
from . import digests as digest_rules
from .grouping import group_articles, headline_of


class DigestsService:
    def __init__(self, parts: Parts):
        self.config = parts.config
        self.archive = parts.archive
        self.retriever = parts.retriever
        self.parts = parts

    def window(self, *, since=None, until=None, period: str | None = None, as_of=None) -> tuple[datetime, datetime]:
        """The digest's [since, until]: until (default the as-of moment, default now), since (default
        one period, daily or weekly, before until). A ``since`` that names a whole week or month
        ("February 2026", "last week") without an ``until`` is that period. BadQuery for unreadable
        dates, an unknown period, since after until."""
        as_of_dt = parse_moment(as_of, end_of_day=True, name="as-of") or datetime.now(UTC)
        named = named_window(since, as_of_dt) if since and not until else None
        if named:
            digest_rules.parse_period(period)
            check_order(*named)
            return named
        until_dt = parse_moment(until, end_of_day=True, name="until", relative_to=as_of_dt) or as_of_dt
        until_dt = min(until_dt, as_of_dt)
        kind = digest_rules.parse_period(period)
        since_dt = parse_moment(since, name="since", relative_to=as_of_dt)
        if since_dt is None:
            since_dt = until_dt - timedelta(days=digest_rules.PERIODS[kind])
        check_order(since_dt, until_dt)
        return since_dt, until_dt

    def make(
        self,
        *,
        since=None,
        until=None,
        period: str | None = None,
        topic: str | None = None,
        as_of=None,
        limit: int = digest_rules.DIGEST_STORIES,
        scope: Scope = GLOBAL,
    ) -> Digest:
        """The period's top stories, ranked by how widely they were covered (outlets, then articles),
        each with an extract and its articles' links; a topic keeps the stories the hybrid retriever
        finds relevant to it."""
        since_dt, until_dt = self.window(since=since, until=until, period=period, as_of=as_of)
        topic = digest_rules.parse_topic(topic)
        limit = max(1, min(int(limit), digest_rules.MAX_STORIES))
        articles = self.archive.period_articles(
            since_dt.timestamp(), until_dt.timestamp(), scope=scope, limit=digest_rules.MAX_PERIOD_ARTICLES
        )
        groups = group_articles(articles, self.parts.story_vectors(articles))
        counted = len(articles)
        if topic:
            result = self.retriever.search(
                topic, as_of=until_dt, since=since_dt, until=until_dt, limit=100, scope=scope, group_stories=False
            )
            wanted = digest_rules.relevant(result.hits, self.config.answers.min_relevance)
            groups = [g for g in groups if any(a.id in wanted for a in g)]
            counted = sum(len(g) for g in groups)
        return digest_rules.make_digest(since_dt, until_dt, topic, groups, headline_of, limit, counted)

    def check(self, *, period: str | None = None, topic: str | None = None, at: str | None = None) -> None:
        """The cheap checks of /digest before deferring: the period, the time, the topic."""
        kind = digest_rules.parse_period(period)
        digest_rules.parse_time(at, kind)
        if topic is not None:
            if not topic.strip():
                raise BadQuery("the topic is empty")
            digest_rules.parse_topic(topic)

    def schedule(
        self,
        guild_id: int,
        channel_id: int,
        period: str,
        at: str | None = None,
        topic: str | None = None,
        created_by: int | None = None,
    ) -> DigestSchedule:
        """A server's digest every day or week at a UTC time (``08:00``; ``mon 08:00`` weekly), in a
        channel, optionally on a topic; at most policy.DIGEST_SCHEDULES_PER_GUILD per server."""
        kind = digest_rules.parse_period(period)
        minute, weekday = digest_rules.parse_time(at, kind)
        topic = digest_rules.parse_topic(topic)
        limit = policy.DIGEST_SCHEDULES_PER_GUILD
        found = self.archive.add_digest_schedule(guild_id, channel_id, kind, minute, weekday, topic, created_by, limit)
        if found is None:
            raise LimitReached(f"this server already has {limit} digest schedules; cancel one first")
        return found

    def schedules(self, scope: Scope = GLOBAL) -> list[DigestSchedule]:
        return self.archive.digest_schedules(scope.guild_id if scope.scoped else None)

    def cancel(self, schedule_id: int | str, scope: Scope = GLOBAL) -> DigestSchedule:
        key = str(schedule_id).strip().lstrip("#")
        found = self.archive.digest_schedule(int(key)) if key.isdigit() else None
        if found is None or (scope.scoped and found.guild_id != scope.guild_id):
            raise NotFound(f"no digest schedule {schedule_id!r} in this server")
        self.archive.remove_digest_schedule(found.id, None)
        return found

    def due(self, now: float | None = None) -> list[digest_rules.DueRun]:
        """Scheduled runs whose time has come and that no process has claimed yet."""
        moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
        out = []
        for schedule in self.archive.digest_schedules():
            run = digest_rules.due_run(schedule, moment)
            if run is not None and not self.archive.digest_run_claimed(schedule.id, run.period_key):
                out.append(run)
        return out

    def scheduled(self, run: digest_rules.DueRun) -> Digest:
        """The digest of a claimed run, in its server's scope."""
        return self.make(
            since=run.since,
            until=run.until,
            as_of=run.until,
            topic=run.schedule.topic,
            scope=Scope(guild_id=run.schedule.guild_id, everything=False),
        )
