"""Admins' filter patterns run in bounded time (RE2): a catastrophic pattern answers at once, a
pattern the engine cannot run is refused when added, and a stored pattern that no longer compiles
holds back that feed's posts with a clear reason while every other feed's posts go on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest
from support.feeds import Item, rss20

from index.delivery import filters
from index.errors import BadQuery
from index.models import Article

# Python's backtracking engine needs about 2**len(title) steps for this pattern on this title:
# 21 s at 28 characters, so 40 would take hours; a linear engine answers in microseconds.
HOSTILE_PATTERN = r"(a+)+$"
HOSTILE_TITLE = "a" * 40 + "!"


def article(title: str, text: str = "Some text.") -> Article:
    return Article(
        id=1,
        guid="g",
        url="http://news.example/a",
        title=title,
        outlet="Example",
        authors=(),
        published="2026-01-02T10:00:00+00:00",
        published_ts=1_767_348_000.0,
        date_source="feed",
        fetched_at="",
        language="en",
        summary="",
        text=text,
        text_source="feed",
    )


def test_a_catastrophic_pattern_answers_within_a_budget():
    # in a child process, so a backtracking engine is stopped by the timeout instead of hanging the run
    code = textwrap.dedent(f"""
        from index.delivery import filters
        from index.models import Article
        rule = filters.FilterRule(1, 1, None, "exclude", "title", {HOSTILE_PATTERN!r}, regex=True)
        art = Article(id=1, guid="g", url="u", title={HOSTILE_TITLE!r}, outlet="o", authors=(),
                      published=None, published_ts=None, date_source="feed", fetched_at="",
                      language="en", summary="", text="t", text_source="feed")
        print(filters.evaluate([rule], art)[0])
    """)
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{HOSTILE_PATTERN!r} on a {len(HOSTILE_TITLE)}-character title ran past 30 s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # no match, so the exclude rule lets it pass


@pytest.mark.parametrize(
    "pattern",
    [r"(tram)\1", r"tram(?=way)", r"(?<!street)car", r"((a{100}){100}){100}"],
)
def test_patterns_the_engine_cannot_run_are_refused_when_added(desk, site, pattern):
    url = site.serve("/f.xml", rss20("F", [Item("Tram news", "text", link=site.url("/a"), guid="a")]))
    desk.feeds.add(url)
    with pytest.raises(BadQuery, match="bad regular expression"):
        desk.settings.add_filter(url, "include", "title", pattern, regex=True)
    assert desk.archive.feed_filters(desk.feeds.find(url).id) == []


def test_ordinary_patterns_and_words_keep_their_meaning():
    def passes(pattern: str, title: str, *, regex: bool = False, case_sensitive: bool = False) -> bool:
        rule = filters.FilterRule(1, 1, None, "include", "title", pattern, regex=regex, case_sensitive=case_sensitive)
        return filters.evaluate([rule], article(title))[0]

    assert passes(r"^breaking\b", "BREAKING: floods", regex=True)
    assert not passes(r"^breaking\b", "BREAKING: floods", regex=True, case_sensitive=True)
    assert passes(r"gpt-\d+", "OpenAI ships GPT-5", regex=True)
    # words match whole words only, in any script, case-insensitively
    assert passes("c++, new york", "Why C++ still rules")
    assert not passes("c++, new york", "Learning cc++ today")
    assert passes("élan", "ÉLAN vital")
    assert not passes("élan", "xélan and élans")
    assert passes("tram", "Tram, bus and ferry")


def test_a_stored_pattern_that_no_longer_compiles_holds_only_its_feeds_posts(desk, site):
    def serve(items: dict[str, list[Item]]) -> tuple[str, str]:
        return (
            site.serve("/broken.xml", rss20("Broken", items["broken"])),
            site.serve("/fine.xml", rss20("Fine", items["fine"])),
        )

    old = {
        "broken": [Item("Old", "t", link=site.url("/b0"), guid="b0")],
        "fine": [Item("Old", "t", link=site.url("/f0"), guid="f0")],
    }
    broken_url, fine_url = serve(old)
    broken, _ = desk.feeds.add(broken_url, channel_id=101)
    fine, _ = desk.feeds.add(fine_url, channel_id=202)
    desk.indexing.ingest()  # the backlog, never posted
    # stored before patterns were checked for the engine: add_filter would refuse it today
    desk.archive.add_filter(broken.id, 101, "include", "title", r"(tram) \1", True, False, False, None)
    serve(
        {
            "broken": [Item("Tram tram", "t", link=site.url("/b1"), guid="b1"), *old["broken"]],
            "fine": [Item("Ferry news", "t", link=site.url("/f1"), guid="f1"), *old["fine"]],
        }
    )
    desk.indexing.ingest()

    queue = desk.delivery.queue()  # must not raise

    assert [(channel, feed.id, a.url) for channel, feed, a in queue] == [(202, fine.id, site.url("/f1"))]
    held = desk.archive.article_deliveries(desk.reading.article(site.url("/b1")).id)
    assert [(d["state"], d["channel_id"]) for d in held] == [("held", 101)]
    assert "cannot run" in held[0]["reason"] and r"(tram) \1" in held[0]["reason"]


def test_the_event_loop_keeps_ticking_while_a_hostile_filter_is_tested(desk, site):
    # what /feeds filter test does: the service call in a worker thread (bot.call), the loop serving
    # every other server meanwhile. A backtracking engine holds the interpreter lock for seconds
    # at 26 characters; the loop then gets no tick at all.
    title = "a" * 26 + "!"
    url = site.serve("/hostile.xml", rss20("Hostile", [Item(title, "text", link=site.url("/h"), guid="h")]))
    desk.feeds.add(url)
    desk.indexing.ingest()
    desk.settings.add_filter(url, "exclude", "title", HOSTILE_PATTERN, regex=True)

    async def run() -> tuple[float, list]:
        gaps: list[float] = []
        done = False

        async def tick() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.05)
        _, results = await asyncio.to_thread(desk.settings.test_filters, url)
        done = True
        await ticker
        return max(gaps), results

    worst, results = asyncio.run(run())
    assert [(a.title, passes) for a, passes, _ in results] == [(title, True)]
    assert worst < 2.0, f"the event loop stood still for {worst:.1f} s"
