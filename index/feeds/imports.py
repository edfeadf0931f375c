"""OPML imports that neither flood the archive nor hold the bot's threads.

An import adds at most ``max_feeds_per_import`` outlines and never takes a server past
``max_feeds_per_server``. Checking a URL resolves its host name, and a hostile outline list can
name hosts whose DNS answers slowly: the checks run a few at a time on threads of their own
(shared by every import, bounded), and an import waits for them at most ``import_check_seconds``;
what is not checked by then is refused with a clear reason, so an import returns in bounded time
and the threads other servers' commands run on are never the ones waiting on DNS."""

from __future__ import annotations

import concurrent.futures as cf
import time

from ..archive import Archive
from ..config import FeedsConfig
from ..errors import LimitReached, UrlRefused
from ..models import Feed
from .netguard import check_url
from .opml import OpmlOutline

CHECK_THREADS = 8  # URL checks (DNS lookups) in flight for every import together
_checks = cf.ThreadPoolExecutor(max_workers=CHECK_THREADS, thread_name_prefix="opml-check")
NOT_CHECKED = "not checked in time (its host name did not resolve quickly); import the file again for it"


def feeds_limit_text(limit: int) -> str:
    return f"this server already follows {limit} feeds (the limit is {limit}); remove some first"


def check_outlines(
    outlines: list[OpmlOutline], allow_private: bool, budget_seconds: float
) -> tuple[list[OpmlOutline], dict[str, str]]:
    """The outlines whose URL passed the address check within the budget, in order, and the
    refused ones with why (refused by the guard, or not checked in time)."""
    deadline = time.monotonic() + budget_seconds
    futures = [(outline, _checks.submit(check_url, outline.url, allow_private)) for outline in outlines]
    passed: list[OpmlOutline] = []
    refused: dict[str, str] = {}
    for outline, future in futures:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except cf.TimeoutError:
            future.cancel()  # not started yet: never runs; started: its thread finishes on its own
            refused[outline.url] = NOT_CHECKED
        except UrlRefused as exc:
            refused[outline.url] = str(exc)
        else:
            passed.append(outline)
    return passed, refused


def import_outlines(
    archive: Archive, outlines: list[OpmlOutline], config: FeedsConfig, guild_id: int | None, added_by: int | None
) -> dict:
    """Add the outlines' feeds for a server (``guild_id``; None: the global configuration):
    {"added": [Feed], "existing": [Feed], "refused": {url: reason}}. LimitReached when the file
    has more outlines than one import may add."""
    cap = config.max_feeds_per_import
    if cap and len(outlines) > cap:
        raise LimitReached(f"one import adds at most {cap} feeds and this file has {len(outlines)}: split it")
    passed, refused = check_outlines(
        [OpmlOutline(o.url.strip(), o.name) for o in outlines],
        config.allow_private_networks,
        config.import_check_seconds,
    )
    added: list[Feed] = []
    existing: list[Feed] = []
    per_server = config.max_feeds_per_server if guild_id is not None else 0
    for outline in passed:
        got = archive.add_server_feed(outline.url, outline.name.strip(), guild_id, None, added_by, per_server)
        if got is None:
            refused[outline.url] = feeds_limit_text(per_server)
            continue
        feed, created = got
        (added if created else existing).append(feed)
    return {"added": added, "existing": existing, "refused": refused}
