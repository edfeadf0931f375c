"""Standing questions: re-asked as coverage arrives, reporting what changed in the answer (each
change claimed once across processes).

``changes`` finds the changes without claiming them, for a caller that claims each together with
its delivery (the bot: ``Outbox.queue_watch`` claims and queues in one transaction, so a kill in
between cannot lose a notice); ``check`` finds and claims them (the terminal, which prints them)."""

from __future__ import annotations

import logging

from .. import policy
from ..errors import BadQuery, LimitReached, NewsdeskError, NotFound, PermissionDenied
from ..models import GLOBAL, Answer, Scope, Watch, WatchChange
from ..parts import Parts
from ..search.retriever import clean_question
from ..search.service import ReadingService
from . import watches as watch_diff

log = logging.getLogger(__name__)

MAX_WATCH_QUESTION = 300
MAX_WATCHES_PER_PASS = 200  # re-asked per check; the rest stay due for the next pass


def refusal(holder: str, count: int) -> LimitReached:
    """The message for a watch the archive refused: the server or the member is at its limit."""
    if holder == "server":
        return LimitReached(
            f"this server already has {count} watches (at most {policy.WATCHES_PER_GUILD}); remove one first"
        )
    return LimitReached(
        f"you already have {count} watches here (at most {policy.WATCHES_PER_MEMBER}); remove one first"
    )


class WatchesService:
    def __init__(self, parts: Parts, reading: ReadingService):
        self.archive = parts.archive
        self.reading = reading

    def scope_of(self, watch: Watch) -> Scope:
        """What a watch asks over: its server's feeds plus the global ones; a DM watch the global
        feeds; a terminal watch everything."""
        if watch.guild_id is not None:
            return Scope(guild_id=watch.guild_id, everything=False)
        if watch.user_id is not None or watch.channel_id is not None:
            return Scope(guild_id=None, everything=False)
        return GLOBAL

    def add(
        self,
        question: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        created_by: int | None = None,
    ) -> tuple[Watch, Answer]:
        """Save a standing question (for a channel, a member's DMs, or the terminal when neither)
        with its answer now; BadQuery for an empty or too long question, or over the limits."""
        question = " ".join(clean_question(question).split())
        if len(question) > MAX_WATCH_QUESTION:
            raise BadQuery(f"a watched question has at most {MAX_WATCH_QUESTION} characters")
        ready = (self.archive.ready_article_id(), self.archive.ready_update_id())
        probe = Watch(0, guild_id, channel_id, user_id, question, created_by, None, None, ready[0], (), None)
        answer = self.reading.ask(question, scope=self.scope_of(probe))
        sentences = watch_diff.answer_sentences(answer)
        found = self.archive.add_watch(
            guild_id,
            channel_id,
            user_id,
            question,
            created_by,
            ready,
            sentences,
            watch_diff.fingerprint(sentences),
            policy.WATCHES_PER_GUILD,
            policy.WATCHES_PER_MEMBER,
        )
        if not isinstance(found, Watch):
            raise refusal(*found)
        return found, answer

    def list_watches(self, scope: Scope = GLOBAL, user_id: int | None = None) -> list[Watch]:
        """A server's watches (``user_id``: only that member's), or every watch for GLOBAL."""
        if not scope.scoped:
            watches = self.archive.list_watches(everything=True)
        else:
            watches = self.archive.list_watches(scope.guild_id)
        if user_id is not None:
            watches = [w for w in watches if w.created_by == user_id]
        return watches

    def remove(
        self, watch_id: int | str, scope: Scope = GLOBAL, user_id: int | None = None, admin: bool = False
    ) -> Watch:
        """Remove a watch of the server (a member only their own; admins any of the server's)."""
        key = str(watch_id).strip().lstrip("#")
        if not key.isdigit():
            raise BadQuery(f"a watch is named by its number (not {str(watch_id)[:40]!r})")
        watch = self.archive.get_watch(int(key))
        if scope.scoped and watch.guild_id != scope.guild_id:
            raise NotFound(f"no watch #{key}")  # the same words as for no watch at all
        if scope.scoped and not admin and watch.created_by != user_id:
            raise PermissionDenied("that watch is someone else's (admins can remove any)")
        self.archive.remove_watch(watch.id)
        return watch

    def check(self, delivered: bool | None = None) -> list[WatchChange]:
        """Re-ask every watch not yet checked against the newest embedded coverage and return the
        changes this caller claimed (each (watch, answer) claimed once, across processes).
        ``delivered`` True: watches with a Discord destination (the bot), False: the terminal's."""
        return [change for change in self.changes(delivered) if self.claim(change)]

    def changes(self, delivered: bool | None = None) -> list[WatchChange]:
        """As ``check``, but the changes are not claimed: the caller claims each with its delivery
        (``claim``, or ``Outbox.queue_watch``); an unclaimed change is found again by the next pass."""
        ready = (self.archive.ready_article_id(), self.archive.ready_update_id())
        changes: list[WatchChange] = []
        for watch in self.archive.watches_due(ready, delivered)[:MAX_WATCHES_PER_PASS]:
            try:
                change = self._check(watch, ready)
            except NewsdeskError as exc:
                log.warning("watch #%s: the check failed: %s", watch.id, exc)
                continue
            if change is not None:
                changes.append(change)
        return changes

    def claim(self, change: WatchChange) -> bool:
        """Claim a change found by ``changes``: True for exactly one caller, in any process; the
        watch's stored answer moves on with it."""
        watch = change.watch
        return self.archive.claim_watch_notice(
            watch.id, watch.fingerprint, change.fingerprint, change.sentences, change.seen
        )

    def _check(self, watch: Watch, ready: tuple[int, int]) -> WatchChange | None:
        answer = self.reading.ask(watch.question, scope=self.scope_of(watch))
        current = watch_diff.answer_sentences(answer)
        fp = watch_diff.fingerprint(current)
        if fp == watch.fingerprint:
            self.archive.mark_watch_checked(watch.id, ready, None, None)
            return None
        new, superseded = watch_diff.diff(watch.answer, current)
        updated = self.archive.updated_articles(watch.seen_update_id, ready[1])
        if not watch_diff.news_in(new, watch.seen_article_id, updated):
            # not new coverage (older articles reshuffled, or a source gone): the stored answer moves on quietly
            self.archive.mark_watch_checked(watch.id, ready, current, fp)
            return None
        articles = self.archive.articles_by_ids([a for _, a in current])
        return WatchChange(
            watch,
            answer,
            fp,
            [(s, articles[a]) for s, a in new if a in articles],
            superseded,
            watch_diff.new_sources(new, watch.answer, articles),
            current,
            ready,
        )
