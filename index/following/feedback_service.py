"""Answers kept for feedback: votes on them, and the report of unanswered or down-voted questions
with the feeds discovery finds for them."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from ..delivery.discovery import FoundFeed, discover
from ..errors import BadQuery, NewsdeskError, NotFound
from ..feeds.fetch import Fetcher
from ..feeds.netguard import check_url
from ..models import GLOBAL, Answer, QuestionGroup, Scope
from ..parts import Parts
from ..text.dates import parse_moment
from . import feedback as answer_feedback

MAX_REPORT_GROUPS = 8  # topics /status and `newsdesk stats` list
MAX_DISCOVERY_SITES = 6  # sites feed discovery fetches for one report
DISCOVERY_TIMEOUT = 5.0  # seconds per discovery fetch in a report
ASKED_RETENTION_DAYS = 180  # recorded answers (and their votes) older than this are forgotten


class FeedbackService:
    def __init__(self, parts: Parts):
        self.config = parts.config
        self.archive = parts.archive
        self.retriever = parts.retriever

    def record(self, answer: Answer, *, scope: Scope = GLOBAL, via: str = "discord", as_of: str | None = None) -> int:
        """Keep an answer /ask or ``newsdesk ask`` gave (question, as-of, cited ids, abstained, the
        question's embedding) so it can be voted on and, unanswered, reported. Returns its id."""
        vector = None
        try:
            vector = answer_feedback.to_blob(self.retriever.embed_query(answer_feedback.topic_text(answer.question)))
        except NewsdeskError:
            pass
        moment = parse_moment(as_of, end_of_day=True, name="as-of") if as_of else None
        return self.archive.record_asked(
            scope.guild_id if scope.scoped else None,
            via,
            answer.question,
            (moment or datetime.now(UTC)).isoformat(timespec="seconds"),
            [c.article.id for c in answer.citations],
            answer.abstained or not answer.citations,
            vector,
        )

    def vote(self, answer_id: int, user_id: int, vote: int, guild_id: int | None) -> dict:
        """One vote per member per answer (+1 / -1; a second vote replaces the first). The member is
        stored as a keyed hash. NotFound for an answer of another server or no longer on record."""
        record = self.archive.get_asked(int(answer_id))
        if record["guild_id"] != guild_id:
            raise NotFound("that answer is no longer on record")  # the same words as for no answer at all
        if vote not in (1, -1):
            raise BadQuery("a vote is up or down")
        voter = answer_feedback.voter_hash(self.archive.voter_key(), user_id)
        previous = self.archive.set_vote(record["id"], voter, vote)
        up, down = self.archive.vote_counts(record["id"])
        return {"answer_id": record["id"], "vote": vote, "previous": previous, "up": up, "down": down}

    def report(self, scope: Scope = GLOBAL, *, find_feeds: bool = True) -> list[QuestionGroup]:
        """Unanswered and down-voted questions (a server's own; GLOBAL: all), grouped by topic, each
        group with the feeds discovery finds on the sites its questions name or its down-voted
        answers cited (sites whose feeds are all added already give none)."""
        cutoff = datetime.fromtimestamp(time.time() - ASKED_RETENTION_DAYS * 86400, UTC)
        self.archive.prune_asked(cutoff.isoformat(timespec="seconds"))
        items = self.archive.questions_needing_coverage(scope.guild_id, not scope.scoped)
        grouped = answer_feedback.group_questions(items)[:MAX_REPORT_GROUPS]
        groups = [QuestionGroup(answer_feedback.label(g), g) for g in grouped]
        if not groups:
            return groups
        known = {f.url for f in self.archive.list_feeds(GLOBAL)}
        cited_ids = {a for g in groups for q in g.questions if q["down"] > q["up"] for a in q["cited"]}
        articles = self.archive.articles_by_ids(list(cited_ids)) if cited_ids else {}
        budget = MAX_DISCOVERY_SITES if find_feeds else 0
        fetch_config = replace(
            self.config.feeds, timeout_seconds=min(self.config.feeds.timeout_seconds, DISCOVERY_TIMEOUT), retries=0
        )
        tried: dict[str, list[FoundFeed] | str] = {}  # site -> the feeds found, or why it could not be read
        with Fetcher(fetch_config) as fetcher:
            for group in groups:
                sites: list[str] = []
                for q in group.questions:
                    sites += answer_feedback.named_sites(q["question"])
                    if q["down"] > q["up"]:
                        cited_sites = [answer_feedback.site_of(articles[a].url) for a in q["cited"] if a in articles]
                        sites += [s for s in cited_sites if s]
                group.sites = list(dict.fromkeys(sites))
                for site in group.sites:
                    if site not in tried:
                        if budget <= 0:
                            continue
                        budget -= 1
                        try:
                            check_url(site, self.config.feeds.allow_private_networks)
                            tried[site] = discover(site, fetcher)
                        except NewsdeskError as exc:
                            tried[site] = str(exc)
                    found = tried[site]
                    if isinstance(found, list):
                        for f in found:
                            if f.url not in known and all(s["url"] != f.url for s in group.suggestions):
                                group.suggestions.append({"url": f.url, "title": f.title, "how": f.how, "site": site})
                read = [s for s in group.sites if isinstance(tried.get(s), list)]
                failed = [f"{s} ({tried[s]})" for s in group.sites if isinstance(tried.get(s), str)]
                if not group.sites:
                    group.discovery = "no site to look at (the questions name none and no down-voted answer cited one)"
                elif not read and not failed:
                    group.discovery = "feed discovery was not run for " + ", ".join(group.sites)
                elif group.suggestions:
                    group.discovery = f"{len(group.suggestions)} feed(s) found on " + ", ".join(read)
                else:
                    group.discovery = "feed discovery found no new feed" + (" on " + ", ".join(read) if read else "")
                if failed:
                    group.discovery += "; could not read " + "; ".join(failed)
        return groups
