"""Two servers on one bot: each sees its own feeds plus the global ones, never the other's,
and each server's admins manage only their own feeds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import discord
import pytest
import simcord
from support.archive import archived_urls
from support.newsroom import NOW

from index.errors import BadQuery, NotFound
from index.models import Scope

LINK = re.compile(r"\[([^\]]*)\]\((https?://[^)]+)\)")
HARBOUR = "What is happening with the harbour ferry terminal?"


def harbour_stories(town: str, n: int, on_topic: bool) -> list[tuple[str, str, int]]:
    """n stories of a town that mention the harbour ferry terminal: on topic, or in passing among
    other council news (the other server's on-topic stories then outrank these, so a filter applied
    after ranking would leave this server short of results)."""
    if on_topic:
        return [
            (
                f"{town} harbour ferry terminal update {i}",
                f"The harbour ferry terminal in {town}: crews at the ferry terminal replaced pontoon {i} "
                f"and the harbour ferry timetable changed for terminal passengers in week {i}.",
                i,
            )
            for i in range(1, n + 1)
        ]
    return [
        (
            f"{town} council notes {i}",
            f"{town} council notes for week {i}: the library reopened after repairs, road works on street {i} "
            f"finished early, a playground opened near the school, the market moved to the square, and the "
            f"harbour ferry terminal got a fresh coat of paint.",
            i,
        )
        for i in range(1, n + 1)
    ]


@dataclass
class Server:
    guild: object
    channel: object
    admin: object
    member: object


def make_server(env, name: str) -> Server:
    guild = env.create_guild(name)
    channel = guild.create_text_channel("general")
    mods = guild.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    return Server(
        guild,
        channel,
        guild.add_member(env.create_user(f"{name.lower()}-admin"), roles=[mods]),
        guild.add_member(env.create_user(f"{name.lower()}-reader")),
    )


@pytest.fixture
def two(world, desk, feeds):
    """Server A (world's guild) with North Gazette, server B with South Courier; both also carry
    one shared story (same guid and link). The desk's Daily Planet and Wire Service are global."""
    env = world.env
    a = Server(world.guild, world.general, world.admin, world.member)
    b = make_server(env, "Southside")
    north = feeds.new("north", "North Gazette", harbour_stories("Northport", 12, on_topic=False))
    south = feeds.new("south", "South Courier", harbour_stories("Southport", 15, on_topic=True))
    shared = feeds.server.base + f"{feeds.prefix}/shared/harbour-strike.html"
    for feed in (north, south):
        feed.add_item(
            "Harbour ferry workers strike at the terminal",
            "Ferry workers at the harbour terminal went on strike over pay, halting ferry sailings "
            "from the terminal for a day.",
            date=NOW - timedelta(hours=2),
            slug="strike",
        )
        feed.items[-1]["guid"], feed.items[-1]["link"] = "shared-strike", shared
        feed.publish()
    return a, b, north, south, shared


async def add_feeds(two, desk):
    a, b, north, south, _ = two
    for server, feed in ((a, north), (b, south)):
        added = await server.admin.slash(server.channel, "feeds add", url=feed.url)
        assert added.ephemeral and "Added" in added.response.content, added.response.content
    return desk.feeds.find(north.url), desk.feeds.find(south.url)


def urls_of(feed) -> set[str]:
    return {item["link"] for item in feed.items}


async def test_each_server_sees_its_own_and_global_articles_only(world, desk, feeds, two):
    a, b, north, south, shared = two
    await add_feeds(two, desk)
    everything = archived_urls(desk)
    global_urls = urls_of(feeds.planet) | urls_of(feeds.wire)
    # one article fetched for two servers is stored once
    assert desk.archive.db.execute("SELECT count(*) FROM articles WHERE url = ?", [shared]).fetchone()[0] == 1
    assert urls_of(north) | urls_of(south) <= everything

    for server, own, other in ((a, north, south), (b, south, north)):
        allowed = urls_of(own) | global_urls
        forbidden = urls_of(other) - {shared}
        answer = await server.member.slash(server.channel, "ask", question=HARBOUR)
        text = answer.response.embeds[0].description
        cited = {url for _, url in LINK.findall(text)}
        assert cited and cited <= allowed and not cited & forbidden, text
        assert own.title.split()[0] in text  # its own outlet answers

        search = await server.member.slash(server.channel, "search", query="harbour ferry terminal")
        listed = {url for _, url in LINK.findall(search.response.embeds[0].description)}
        assert listed and listed <= allowed and not listed & forbidden

        latest = await server.member.slash(server.channel, "latest", count=10)
        newest = {url for _, url in LINK.findall(latest.response.embeds[0].description)}
        assert newest and newest <= allowed and not newest & forbidden

        sources = (await server.member.slash(server.channel, "sources")).response.embeds[0]
        listed_feeds = next(f.value for f in sources.fields if f.name.startswith("Feeds"))
        assert own.title in listed_feeds and other.title not in listed_feeds
        assert f"**{other.title}** — 1 articles" in sources.description or other.title not in sources.description

        # the other server's article cannot be opened by URL either
        opened = await server.member.slash(server.channel, "article", url_or_id=sorted(forbidden)[0])
        assert opened.ephemeral and opened.response.content.startswith("⚠️ Not found")
        simcord.assert_error(world.env, NotFound)
        await world.env.advance_time(10)  # past the per-user cooldowns


async def test_the_filter_is_inside_retrieval_so_a_small_server_still_gets_ten_results(desk, feeds, two):
    a, b, north, south, _ = two
    await add_feeds(two, desk)
    unscoped = desk.retriever.search("harbour ferry terminal", limit=10, group_stories=False)
    assert sum("Southport" in h.article.title for h in unscoped.hits) >= 8  # filtering these afterwards leaves A short
    scoped = desk.retriever.search(
        "harbour ferry terminal", limit=10, group_stories=False, scope=Scope(guild_id=a.guild.id, everything=False)
    )
    titles = [h.article.title for h in scoped.hits]
    assert len(titles) == 10 and not any("Southport" in t for t in titles), titles
    assert sum("Northport" in t for t in titles) >= 8, "; ".join(titles)


async def test_scope_follows_feed_changes_at_once(desk, feeds, two):
    """The per-server visibility is cached; adding or removing a feed must show in the next search."""
    a, b, north, south, _ = two
    scope_a = Scope(a.guild.id, everything=False)
    assert not any(
        "Northport" in h.article.title for h in desk.retriever.search("Northport harbour", scope=scope_a).hits
    )
    north_feed, _ = await add_feeds(two, desk)
    assert any("Northport" in h.article.title for h in desk.retriever.search("Northport harbour", scope=scope_a).hits)
    desk.archive.remove_feed(north_feed.id)
    assert not any(
        "Northport" in h.article.title for h in desk.retriever.search("Northport harbour", scope=scope_a).hits
    )


async def test_an_admin_cannot_remove_or_reindex_the_other_servers_feeds(world, desk, two):
    a, b, north, south, _ = two
    north_feed, south_feed = await add_feeds(two, desk)
    assert (north_feed.guild_id, south_feed.guild_id) == (a.guild.id, b.guild.id)

    removed = await a.admin.slash(a.channel, "feeds remove", feed=str(south_feed.id))
    assert removed.ephemeral and "Not found" in removed.response.content
    simcord.assert_error(world.env, NotFound)
    reindexed = await a.admin.slash(a.channel, "reindex", feed=str(south_feed.id))
    assert "Reindex failed" in reindexed.response.content
    assert desk.archive.find_feed(south.url) is not None

    listing = (await a.admin.slash(a.channel, "feeds list")).response.embeds[0].description
    assert "North Gazette" in listing and "South Courier" not in listing

    # /reindex without a feed re-embeds this server's feeds only
    own_passages = desk.archive.db.execute(
        "SELECT count(*) FROM passages WHERE article_id IN (SELECT article_id FROM article_feeds WHERE feed_id = ?)",
        [north_feed.id],
    ).fetchone()[0]
    everything = desk.archive.counts()["passages"]
    assert own_passages < everything
    done = await a.admin.slash(a.channel, "reindex")
    assert done.response.content.startswith(f"✅ Reindex done: {own_passages} passages embedded"), done.response.content

    # and B's admin still manages B's feed
    gone = await b.admin.slash(b.channel, "feeds remove", feed=str(south_feed.id))
    assert "Removed **South Courier**" in gone.response.content
    assert desk.archive.find_feed(south.url) is None and desk.archive.find_feed(north.url) is not None


def in_server(server: Server) -> Scope:
    return Scope(server.guild.id, everything=False)


async def test_a_url_another_server_follows_is_a_subscription_of_its_own_fetched_once(world, desk, feeds, two):
    """Adding a URL another server added privately neither reveals that server's feed nor is refused:
    this server gets its own subscription (its own name, channel and id), the URL is still fetched
    once per poll, and removing it unsubscribes this server only."""
    a, b, north, _, _ = two
    first = await a.admin.slash(a.channel, "feeds add", url=north.url, channel=a.channel)
    assert "Added" in first.response.content
    feed_a = desk.feeds.find(north.url, in_server(a))

    added = await b.admin.slash(b.channel, "feeds add", url=north.url, name="Northern news", channel=b.channel)
    text = added.response.content
    assert "Added **Northern news**" in text, text
    assert "another server" not in text and f"id {feed_a.id}" not in text
    feed_b = desk.feeds.find(north.url, in_server(b))
    assert feed_b.id != feed_a.id and (feed_b.guild_id, feed_b.channel_id) == (b.guild.id, b.channel.id)
    again_a = desk.feeds.find(north.url, in_server(a))
    assert (again_a.id, again_a.name, again_a.channel_id) == (feed_a.id, "", a.channel.id)  # A's settings stay A's
    assert feed_b.articles == feed_a.articles == len(north.items)
    assert desk.archive.db.execute("SELECT count(DISTINCT url) FROM articles").fetchone()[0] == len(
        desk.archive.db.execute("SELECT id FROM articles").fetchall()
    )  # stored once
    # B reads A's id as no feed at all: the same words as an id that does not exist
    unknown = await b.admin.slash(b.channel, "feeds remove", feed="987654")
    other = await b.admin.slash(b.channel, "feeds remove", feed=str(feed_a.id))
    simcord.assert_error(world.env, NotFound)
    assert other.response.content.replace(str(feed_a.id), "N") == unknown.response.content.replace("987654", "N")

    # one poll reads the URL once for both servers, and a new story reaches both channels
    path = north.path
    north.add_item(
        "Northport ferry timetable changes",
        "Northport's ferry timetable changes next week with two more sailings to the harbour terminal.",
        slug="timetable",
    )
    for feed in (feed_a, feed_b):
        desk.archive.update_feed(feed.id, next_poll_at=0)
    before = feeds.server.gets.get(path, 0)
    report = desk.indexing.ingest(due_only=True)
    assert feeds.server.gets.get(path, 0) == before + 1, report.to_dict()
    assert desk.feeds.find(north.url, in_server(b)).articles == len(north.items)
    assert desk.feeds.find(north.url, in_server(b)).last_ok_at == desk.feeds.find(north.url, in_server(a)).last_ok_at
    await world.env.advance_time(world.bot.config.feeds.poll_interval_minutes * 60 + 1)
    for channel in (a.channel, b.channel):
        titles = [m.embeds[0].title for m in channel.history() if m.author.id == world.bot.user.id and m.embeds]
        assert titles == ["Northport ferry timetable changes"], (channel, titles)

    # B unsubscribes: A still follows, and the articles stay for A only
    gone = await b.admin.slash(b.channel, "feeds remove", feed=str(feed_b.id))
    assert "Removed" in gone.response.content and "0 articles left" in gone.response.content
    assert desk.feeds.find(north.url, in_server(a)).id == feed_a.id
    with pytest.raises(NotFound):
        desk.feeds.find(north.url, in_server(b))
    assert not any(
        "Northport" in h.article.title for h in desk.retriever.search("Northport ferry", scope=in_server(b)).hits
    )
    # and when no server follows it any more, the feed and its articles are gone
    await a.admin.slash(a.channel, "feeds remove", feed=str(feed_a.id))
    assert desk.archive.find_feed(north.url) is None
    assert not urls_of(north) & archived_urls(desk)


async def poll_due(world, desk, *feeds_due) -> None:
    """Make the feeds due and let the virtual clock reach the bot's next poll (and posting pass)."""
    for feed in feeds_due:
        desk.archive.update_feed(feed.id, next_poll_at=0)
    await world.env.advance_time(world.bot.config.feeds.poll_interval_minutes * 60 + 1)


async def test_another_servers_channel_filter_feed_title_and_counts_stay_its_own(world, desk, feeds, two):
    """An article A's private feed archived first and a global feed also carries: B's /feeds why
    shows neither A's channel nor A's filter text, B's /sources does not name A's feed (the
    article's outlet) and source= refuses it, and B's /status counts what B sees."""
    a, b, north, south, _ = two
    await a.admin.slash(a.channel, "feeds add", url=north.url, channel=a.channel)
    feed_a = desk.feeds.find(north.url, in_server(a))
    await a.admin.slash(a.channel, "feeds filter add", feed=north.url, action="exclude", pattern="harbour lights")
    await b.admin.slash(b.channel, "feeds add", url=south.url)
    globe = feeds.new("globe", "Globe Wire")
    desk.feeds.add(globe.url, "Globe Wire")  # global

    story = (
        "Lighthouse keepers vote to strike",
        "The lighthouse keepers of the northern coast voted to strike over staffing at the harbour lights.",
    )
    link = north.add_item(*story, slug="keepers")
    north.items[-1]["guid"] = "shared-keepers"
    north.publish()
    await poll_due(world, desk, feed_a)  # A's feed archives it first (its outlet), A's filter holds it back
    assert desk.archive.article_deliveries(desk.reading.article(link).id)[0]["channel_id"] == a.channel.id
    globe.add_item(*story, slug="keepers")
    globe.items[-1]["guid"], globe.items[-1]["link"] = "shared-keepers", link
    globe.publish()
    desk.indexing.ingest(globe.url)
    assert desk.reading.article(link, in_server(b)).outlet == "North Gazette"  # B sees it through the global feed

    why = (await b.admin.slash(b.channel, "feeds why", article=link)).response.content
    assert str(a.channel.id) not in why and "harbour lights" not in why.lower(), why
    mine = (await a.admin.slash(a.channel, "feeds why", article=link)).response.content
    assert str(a.channel.id) in mine and "harbour lights" in mine  # A still sees its own

    sources = (await b.member.slash(b.channel, "sources")).response.embeds[0]
    listed = " ".join([sources.description or ""] + [f.name + " " + f.value for f in sources.fields])
    assert "North Gazette" not in listed and "South Courier" in listed, listed
    with pytest.raises(BadQuery):
        desk.reading.check_query("lighthouse keepers", source="North Gazette", scope=in_server(b))
    desk.reading.check_query("lighthouse keepers", source="North Gazette", scope=in_server(a))  # A's own outlet

    status = (await b.admin.slash(b.channel, "status")).response.embeds[0]
    fields = {f.name: f.value for f in status.fields}
    seen = desk.archive.scoped_counts(b.guild.id)
    total = desk.archive.counts()
    assert seen["articles"] < total["articles"]
    assert fields["Archive"] == f"{seen['articles']} articles", fields
    assert fields["Passages"].startswith(f"{seen['passages']} ") and fields["Feeds"] == str(
        len(desk.archive.list_feeds(in_server(b)))
    )


async def test_one_servers_heavy_queue_never_makes_another_server_busy(world, desk, two):
    """Server A's members have filled A's share of the heavy queue (the running bot's own gate):
    A's next /search is told the bot is busy, while B's runs and answers."""
    import asyncio

    a, b, _, _, _ = two
    gate = world.bot.heavy
    release = asyncio.Event()

    async def hold():
        async with gate.slot(a.guild.id):
            await release.wait()

    held = [asyncio.create_task(hold()) for _ in range(gate.per_server + gate.max_waiting_per_server)]
    await asyncio.sleep(0)
    try:
        busy = await a.member.slash(a.channel, "search", query="harbour ferry")
        assert "busy" in busy.response.content
        simcord.assert_error(world.env)
        answered = await b.member.slash(b.channel, "search", query="harbour ferry")
        assert "busy" not in (answered.response.content or "") and answered.response.embeds, answered.response
    finally:
        release.set()
        await asyncio.gather(*held)
