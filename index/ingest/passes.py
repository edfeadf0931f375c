"""A one-shot ingest that reads on until every feed is complete.

A poll gives each feed a share (index/ingest/drafts.py ``PollShare``): what does not fit waits for
the next poll. That protects the bot's polling loop, but an operator's one-shot ``newsdesk ingest``
would leave a 500-item feed at 200 entries. Here the feeds that still have entries waiting are read
again, pass after pass, each pass with the same share (so one pass stays as bounded as a poll),
until none waits, a feed's waiting entries stop going down (nothing more can be archived), or
``MAX_PASSES`` is reached. The other feeds are not read again."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import NotFound
from ..models import Feed, IngestReport

MAX_PASSES = 100

RunPass = Callable[[list[Feed], int], IngestReport]  # (feeds, pass number from 1) -> that pass's report


def read_until_complete(
    run: RunPass, feeds: list[Feed], reload: Callable[[int], Feed], max_passes: int = MAX_PASSES
) -> IngestReport:
    """Run passes over ``feeds`` (the later ones over the feeds still deferred, reloaded by id for
    their fresh state) and add them up into one report."""
    started = time.monotonic()
    total = run(feeds, 1)
    waiting = dict(total.deferred)
    while waiting and total.passes < max_passes:
        again = _reloaded(reload, waiting)
        if not again:
            break
        part = run(again, total.passes + 1)
        add_pass(total, part, again)
        # a feed whose waiting entries did not go down made no progress: reading it again would loop
        waiting = {fid: n for fid, n in part.deferred.items() if n < waiting[fid]}
    total.seconds = time.monotonic() - started
    return total


def _reloaded(reload: Callable[[int], Feed], feed_ids) -> list[Feed]:
    feeds = []
    for feed_id in feed_ids:
        try:
            feeds.append(reload(feed_id))
        except NotFound:  # removed meanwhile
            continue
    return feeds


def add_pass(total: IngestReport, part: IngestReport, again: list[Feed]) -> None:
    """Add a later pass over the feeds ``again`` into ``total``; each feed counts once, in its last state.

    The feeds read again were all "ok" (deferred) in the pass before. Their archived entries are
    "unchanged" to the later pass: the first pass already counted every entry that was unchanged
    before the run, so the later passes add none."""
    total.passes += 1
    total.feeds_ok += part.feeds_ok - len(again)
    total.feeds_failed += part.feeds_failed
    total.feeds_not_modified += part.feeds_not_modified
    total.articles_new += part.articles_new
    total.articles_updated += part.articles_updated
    total.passages_embedded += part.passages_embedded
    total.passages_recovered += part.passages_recovered
    total.vectors_deleted += part.vectors_deleted
    total.new_article_ids.extend(part.new_article_ids)
    for feed in again:
        total.warnings.pop(feed.url, None)
        total.deferred.pop(feed.id, None)
    total.warnings.update(part.warnings)
    total.errors.update(part.errors)
    total.deferred.update(part.deferred)
    total.index_error = part.index_error or total.index_error
