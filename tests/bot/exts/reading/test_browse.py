"""/latest, /search (paging), /article and /sources."""

from __future__ import annotations

import re

import pytest
import simcord
from simcord import SetupError
from support.archive import archived_urls
from support.newsroom import STORIES, WIRE_STORIES

from index.errors import NotFound

LINK = re.compile(r"\*\*(\d+)\.\*\* \[([^\]]*)\]\((https?://[^)]+)\)")


def numbered(embed):
    return [(int(n), title, url) for n, title, url in LINK.findall(embed.description)]


async def test_latest_is_newest_first_grouped_and_pages(world, desk):
    result = await world.member.slash(world.general, "latest")
    assert not result.ephemeral
    first = result.response.embeds[0]
    rows = numbered(first)
    assert [n for n, _, _ in rows] == [1, 2, 3, 4, 5]
    dates = [desk.reading.article(url).published_ts for _, _, url in rows]
    assert dates == sorted(dates, reverse=True)
    # the volcano story is carried by both outlets: one entry, "also" names the other outlet
    assert "Volcano erupts near Grindavik" in rows[0][1]
    assert "*also: Daily Planet*" in first.description or "*also: Wire Service*" in first.description
    assert first.footer.text.startswith("Page 1/2")

    page2 = await world.member.click(result.response, label="Next")
    assert page2.response.id == result.response.id  # the same message, edited
    second = page2.response.embeds[0]
    rows2 = numbered(second)
    assert [n for n, _, _ in rows2][0] == 6 and second.footer.text.startswith("Page 2/2")
    assert not {u for *_, u in rows} & {u for *_, u in rows2}
    assert {u for *_, u in rows + rows2} <= archived_urls(desk)
    # Next is disabled on the last page; Previous goes back
    buttons = {c["label"]: c for row in page2.response.components for c in row["components"]}
    assert buttons["Next"]["disabled"] and not buttons["Previous"]["disabled"]
    back = await world.member.click(result.response, label="Previous")
    assert numbered(back.response.embeds[0])[0][0] == 1


async def test_only_the_invoker_may_turn_pages(world):
    result = await world.member.slash(world.general, "latest")
    other = await world.admin.click(result.response, label="Next")
    assert other.ephemeral and "Only the person who ran this command" in other.response.content
    assert result.response.embeds[0].footer.text.startswith("Page 1/")


async def test_latest_count_topic_and_source(world, desk):
    few = await world.member.slash(world.general, "latest", count=3)
    assert len(numbered(few.response.embeds[0])) == 3 and not few.response.components
    wire = await world.member.slash(world.general, "latest", source="Wire Service", count=10)
    urls = [u for *_, u in numbered(wire.response.embeds[0])]
    assert urls and all("/wire-" in u for u in urls)
    topic = await world.member.slash(world.general, "latest", topic="octopus")
    assert "octopus" in numbered(topic.response.embeds[0])[0][1]


async def test_search_paginates_with_snippets(world, desk):
    result = await world.member.slash(world.general, "search", query="the")
    embed = result.response.embeds[0]
    rows = numbered(embed)
    assert len(rows) == 5 and embed.footer.text.startswith("Page 1/")
    assert "\n> " in embed.description  # one-line snippets
    nxt = await world.member.click(result.response, label="Next")
    rows2 = numbered(nxt.response.embeds[0])
    assert rows2 and rows2[0][0] == 6
    assert {u for *_, u in rows + rows2} <= archived_urls(desk)


async def test_search_finds_the_topic_and_respects_filters(world):
    result = await world.member.slash(world.general, "search", query="bicycle lanes council")
    rows = numbered(result.response.embeds[0])
    assert "bicycle lanes" in rows[0][1]
    await world.env.advance_time(4)
    old = await world.member.slash(world.general, "search", query="bicycle lanes council", until="2001-01-01")
    assert "No matching articles." in old.response.embeds[0].description


async def test_search_cooldown(world):
    await world.member.slash(world.general, "search", query="volcano")
    again = await world.member.slash(world.general, "search", query="volcano")
    assert again.ephemeral and "Slow down" in again.response.content
    assert simcord.assert_error(world.env)


async def test_article_card(world, desk):
    url = next(u for u in archived_urls(desk) if u.endswith("planet-1.html"))
    result = await world.member.slash(world.general, "article", url_or_id=url)
    embed = result.response.embeds[0]
    assert embed.title == STORIES[0][0] and embed.url == url
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Outlet"] == "Daily Planet"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields["Published"])
    assert "Ada Reporter" in fields["Authors"]
    assert "Grindavik" in embed.description and len(embed.description) <= 401
    by_id = await world.member.slash(world.general, "article", url_or_id=str(desk.reading.article(url).id))
    assert by_id.response.embeds[0].url == url

    missing = await world.member.slash(world.general, "article", url_or_id="https://nowhere.example/x")
    assert missing.ephemeral and missing.response.content.startswith("⚠️ Not found")
    simcord.assert_error(world.env, NotFound)


async def test_sources_lists_outlets_and_feeds(world):
    result = await world.member.slash(world.general, "sources")
    embed = result.response.embeds[0]
    assert f"**Wire Service** — {len(WIRE_STORIES)} articles" in embed.description
    assert f"**Daily Planet** — {len(STORIES)} articles" in embed.description
    feeds = next(f for f in embed.fields if f.name.startswith("Feeds"))
    assert "Daily Planet" in feeds.value and "Wire Service" in feeds.value


async def test_reader_commands_do_not_need_admin(world):
    visible = world.member.available_commands(world.general)
    for name in ("ask", "latest", "search", "article", "sources"):
        assert name in visible
    for name in ("feeds add", "reindex", "status"):
        assert name not in visible
    with pytest.raises(SetupError):
        await world.member.slash(world.general, "status")


async def test_pages_expire_after_ten_minutes(world):
    result = await world.member.slash(world.general, "latest")
    await world.env.advance_time(601)
    buttons = [c for row in result.response.components for c in row["components"]]
    assert buttons and all(b["disabled"] for b in buttons)
    # the page says why its buttons went grey
    assert result.response.embeds[0].footer.text.endswith("· Buttons expired — run /latest again")
    assert result.response.embeds[0].footer.text.startswith("Page 1/")
    with pytest.raises(SetupError):
        await world.member.click(result.response, label="Next")


BRIEFS = [
    (
        "The Pitt notched 25 nominations for the Emmys",
        "The Pitt notched 25 nominations for the Emmys. The hospital drama leads every other series this year.",
        0,
    ),
    (
        "Spielberg returns to science fiction",
        "Feb. 8, 2026, 6:51 p.m. ET Steven Spielberg is making a new film about visitors from space. "
        "Shooting starts in the summer.",
        0,
    ),
]


async def test_snippets_skip_the_dateline_and_never_repeat_the_title(world, desk, feeds):
    briefs = feeds.new("briefs", "Briefs", BRIEFS)
    desk.feeds.add(briefs.url, "Briefs")
    desk.indexing.ingest()
    latest = await world.member.slash(world.general, "latest", source="Briefs", count=5)
    found = await world.member.slash(world.general, "search", query="Pitt nominations Emmys hospital drama")
    for description in (latest.response.embeds[0].description, found.response.embeds[0].description):
        assert description.count("The Pitt notched 25 nominations") == 1  # the title, not again as its snippet
        assert "The hospital drama leads every other series" in description
    shown = latest.response.embeds[0].description
    assert "> Steven Spielberg is making a new film" in shown and "p.m. ET" not in shown
