"""Admin commands: /feeds add|remove|list|import|export, /reindex, /status and who may use them."""

from __future__ import annotations

import dataclasses
import re

import discord
import pytest
import simcord
from simcord import SetupError
from support.discord import message_requests
from support.newsroom import METRO

from bot.errors import NotAdmin
from index.errors import LimitReached, NotFound, PermissionDenied
from index.models import Scope


def command(world, name):
    return next(c for c in world.bot.synced_commands if c.name == name)


async def test_admin_adds_a_feed_for_this_server(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    result = await world.admin.slash(world.general, "feeds add", url=metro.url, name="Metro", channel=world.news)
    assert result.ephemeral
    assert re.match(r"Added \*\*Metro\*\*: 2 articles archived\.", result.response.content)
    assert world.news.mention in result.response.content
    feed = desk.feeds.find(metro.url)
    assert feed.guild_id == world.guild.id and feed.channel_id == world.news.id and feed.articles == 2
    added_by = desk.archive.db.execute("SELECT added_by FROM feeds WHERE id = ?", [feed.id]).fetchone()[0]
    assert added_by == world.admin.id
    # the backlog is archived, not posted
    assert world.news.history() == []

    again = await world.admin.slash(world.general, "feeds add", url=metro.url)
    assert again.ephemeral and "already in the archive" in again.response.content

    listing = await world.admin.slash(world.general, "feeds list")
    text = listing.response.embeds[0].description
    assert listing.ephemeral and "**Metro** (this server)" in text and "**Daily Planet** (global)" in text


async def test_an_added_feed_is_named_by_its_title_in_plain_words(world, desk, feeds):
    solo = feeds.new("solo", "Solo Gazette", METRO[:1])
    result = await world.admin.slash(world.general, "feeds add", url=solo.url)
    text = result.response.content
    assert text.startswith("Added **Solo Gazette**: 1 article archived."), text
    assert solo.url not in text and "id " not in text and "(id" not in text
    again = await world.admin.slash(world.general, "feeds add", url=solo.url)
    assert "already in the archive as **Solo Gazette** (for this server)" in again.response.content
    assert "id " not in again.response.content
    gone = await world.admin.slash(world.general, "feeds remove", feed=solo.url)
    assert gone.response.content == "Removed **Solo Gazette**; 1 article left the archive."


async def test_refused_urls_and_failed_first_fetch(world, desk, feeds):
    refused = await world.admin.slash(world.general, "feeds add", url="ftp://example.com/feed.xml")
    assert refused.ephemeral and refused.response.content.startswith("⚠️ That URL was refused")
    simcord.assert_error(world.env)
    broken = feeds.new("broken", "Broken")
    broken.fail(500)
    result = await world.admin.slash(world.general, "feeds add", url=broken.url)
    assert "the first fetch failed: HTTP 500" in result.response.content


async def test_member_is_refused_even_when_permissions_are_opened(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    # by default the admin commands are hidden from a plain member
    with pytest.raises(SetupError, match="default-member-permissions"):
        await world.member.slash(world.general, "feeds add", url=metro.url)
    # a server owner can open them to anyone: the runtime check still refuses
    for name in ("feeds", "reindex", "status"):
        world.guild.set_command_permissions(command(world, name), {world.member: True})
    assert "feeds add" in world.member.available_commands(world.general)

    added = await world.member.slash(world.general, "feeds add", url=metro.url, channel=world.news)
    assert added.ephemeral and "for server admins" in added.response.content
    simcord.assert_error(world.env, NotAdmin)
    assert desk.archive.find_feed(metro.url) is None

    reindexed = await world.member.slash(world.general, "reindex", full=True)
    assert reindexed.ephemeral and "for server admins" in reindexed.response.content
    status = await world.member.slash(world.general, "status")
    assert status.ephemeral and "for server admins" in status.response.content
    removed = await world.member.slash(world.general, "feeds remove", feed="1")
    assert removed.ephemeral and "for server admins" in removed.response.content
    assert len(desk.archive.list_feeds()) == 2
    assert sum(isinstance(e, NotAdmin) for e in world.env.errors) == 4


async def test_admin_role_and_admin_users_from_config(world, desk, feeds):
    desks = world.guild.create_role("Desk editors")  # no Manage Server
    editor = world.guild.add_member(world.env.create_user("carol"), roles=[desks])
    world.guild.set_command_permissions(command(world, "feeds"), {desks: True})
    refused = await editor.slash(world.general, "feeds list")
    assert "for server admins" in refused.response.content
    simcord.assert_error(world.env, NotAdmin)
    world.set_discord(admin_roles=[desks.id])
    allowed = await editor.slash(world.general, "feeds list")
    assert allowed.response.embeds and "Daily Planet" in allowed.response.embeds[0].description

    world.guild.set_command_permissions(command(world, "feeds"), {desks: True, world.member: True})
    world.set_discord(admin_users=[world.member.id])
    assert (await world.member.slash(world.general, "feeds list")).response.embeds


async def test_remove_own_feed_but_not_a_global_one(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url)
    feed = desk.feeds.find(metro.url)
    choices = await world.admin.autocomplete(world.general, "feeds remove", "feed", "")
    assert [c["value"] for c in choices] == [str(feed.id)]  # only this server's feeds

    planet = desk.feeds.find(feeds.planet.url)
    denied = await world.admin.slash(world.general, "feeds remove", feed=str(planet.id))
    assert denied.ephemeral and "only a bot owner" in denied.response.content
    simcord.assert_error(world.env, PermissionDenied)

    removed = await world.admin.slash(world.general, "feeds remove", feed=str(feed.id))
    assert removed.ephemeral and "Removed **Metro News**" in removed.response.content
    assert desk.archive.find_feed(metro.url) is None

    world.set_discord(owners=[world.admin.id])  # bot owners manage every feed
    removed = await world.admin.slash(world.general, "feeds remove", feed=str(planet.id))
    assert "Removed **Daily Planet**" in removed.response.content


async def test_other_servers_feeds_are_invisible(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url)
    feed = desk.feeds.find(metro.url)
    other = world.env.create_guild("Elsewhere")
    lobby = other.create_text_channel("lobby")
    boss = other.add_member(
        world.env.create_user("dave"),
        roles=[other.create_role("Mods", permissions=discord.Permissions(manage_guild=True))],
    )
    result = await boss.slash(lobby, "feeds remove", feed=str(feed.id))
    assert result.ephemeral and "Not found" in result.response.content
    simcord.assert_error(world.env, NotFound)
    listing = await boss.slash(lobby, "feeds list")
    assert "Metro" not in listing.response.embeds[0].description
    # their readers don't see its articles either
    search = await boss.slash(lobby, "search", query="metro extension harbour bridge")
    assert "metro" not in search.response.embeds[0].description.lower()
    assert (
        "metro"
        in (await world.member.slash(world.general, "search", query="metro extension"))
        .response.embeds[0]
        .description.lower()
    )


async def test_opml_import_and_export(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    opml = (
        f'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        f'<outline text="Metro" xmlUrl="{metro.url}"/>'
        f'<outline text="Planet again" xmlUrl="{feeds.planet.url}"/>'
        f'<outline text="Bad" xmlUrl="file:///etc/passwd"/></body></opml>'
    ).encode()
    result = await world.admin.slash(world.general, "feeds import", file=("subs.opml", opml))
    assert result.ephemeral
    assert "1 added, 1 already present, 1 refused" in result.response.content
    assert desk.feeds.find(metro.url).guild_id == world.guild.id

    exported = await world.admin.slash(world.general, "feeds export")
    assert exported.ephemeral
    attachment = exported.response.attachments[0]
    assert attachment.filename.endswith(".opml")
    data = (await attachment.read()).decode()
    assert metro.url in data and feeds.planet.url in data and "<opml" in data


async def test_reindex_edits_one_progress_message(world, desk):
    world.set_discord(owners=[world.admin.id])
    result = await world.admin.slash(world.general, "reindex", full=True)
    assert result.ephemeral
    passages = desk.archive.counts()["passages"]
    assert result.response.content.startswith(f"✅ Reindex done: {passages} passages embedded")
    assert desk.archive.counts()["embedded_passages"] == passages
    # one message: created once by the interaction response, then only edited (throttled)
    created = [r for r in world.env.http_requests if r.path.endswith("/callback")]
    edits = [r for r in world.env.http_requests if r.method == "PATCH" and r.path.endswith("/messages/@original")]
    followups = [r for r in world.env.http_requests if r.method == "POST" and "/webhooks/" in r.path]
    assert len(created) == 1 and not followups
    assert 1 <= len(edits) <= 3
    assert not result.followups
    # the index still answers afterwards
    answer = await world.member.slash(world.general, "ask", question="What happened with the volcano in Iceland?")
    assert "Grindavik" in answer.response.embeds[0].description


async def test_reindex_one_feed_as_server_admin(world, desk, feeds):
    metro = feeds.new("metro", "Metro News", METRO)
    await world.admin.slash(world.general, "feeds add", url=metro.url)
    feed = desk.feeds.find(metro.url)
    result = await world.admin.slash(world.general, "reindex", feed=str(feed.id))
    assert result.response.content.startswith("✅ Reindex done: 2 passages embedded")
    planet = desk.feeds.find(feeds.planet.url)
    denied = await world.admin.slash(world.general, "reindex", feed=str(planet.id))
    assert "Reindex failed" in denied.response.content and "only a bot owner" in denied.response.content


async def test_status_for_admins_without_secrets(world, desk, feeds, config, monkeypatch):
    secret = "sekrit-token-ABCDEF123456"
    monkeypatch.setenv("DISCORD_TOKEN", secret)
    broken = feeds.new("broken", "Broken")
    broken.fail(503)
    desk.feeds.add(f"{broken.url}?key={secret}")
    desk.indexing.ingest()
    result = await world.admin.slash(world.general, "status")
    assert result.ephemeral
    embed = result.response.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Archive"].startswith(f"{desk.archive.counts()['articles']} articles")
    assert fields["Vectors"] == str(desk.archive.counts()["embedded_passages"])
    assert fields["Model"] == "hash\\-embedder\\-256" or fields["Model"] == "hash-embedder-256"
    assert "HTTP 503" in fields["Failing feeds (1)"]
    everything = str(embed.to_dict())
    assert secret not in everything and "[redacted" in everything
    assert str(config.data_dir) not in everything and "chroma" not in everything
    for _request, data in message_requests(world.env):
        assert secret not in str(data)


async def test_reindex_interrupted_by_a_restart_resumes_and_reports(world, desk, feeds, config):
    """A /reindex of one feed killed after its passages were marked for re-embedding and half of
    them re-embedded: the next bot start finishes it (only the rest is embedded) and tells the
    admin channel who asked for it."""
    import dataclasses
    import json

    from bot import create_bot

    planet = desk.feeds.find(feeds.planet.url)
    ids = [
        r[0]
        for r in desk.archive.db.execute(
            "SELECT p.id FROM passages p JOIN article_feeds af ON af.article_id = p.article_id "
            "WHERE af.feed_id = ? ORDER BY p.id",
            [planet.id],
        ).fetchall()
    ]
    assert len(ids) >= 2
    # what the interrupted run left: the request at stage "marked", its passages unmarked, half done again
    desk.archive.set_meta(
        "reindex_request",
        json.dumps(
            {
                "full": False,
                "feed_ids": [planet.id],
                "scoped": True,
                "guild_id": world.guild.id,
                "feed": str(planet.id),
                "requested_by": world.admin.id,
                "requested_at": "2026-01-01T00:00:00+00:00",
                "stage": "marked",
            }
        ),
    )
    desk.archive.mark_all_unembedded(planet.id)
    kept = ids[: len(ids) // 2]
    desk.archive.mark_embedded(kept)
    assert desk.indexing.pending_reindex()["stage"] == "marked"

    with_admin_channel = dataclasses.replace(
        config, discord=dataclasses.replace(config.discord, admin_channel=world.admin_log.id)
    )
    await world.env.restart_bot(create_bot(with_admin_channel, desk, poll=False))
    for _ in range(100):
        if world.admin_log.history():
            break
        await world.env.advance_time(1)
    notices = [m.content for m in world.admin_log.history()]
    assert len(notices) == 1, notices
    assert f"feed {planet.id}" in notices[0] and f"<@{world.admin.id}>" in notices[0]
    assert f"{len(ids) - len(kept)} passages embedded now" in notices[0], notices[0]
    assert desk.indexing.pending_reindex() is None
    counts = desk.archive.counts()
    assert counts["embedded_passages"] == counts["passages"]
    # another restart: nothing left to resume, nothing said
    await world.env.restart_bot(create_bot(with_admin_channel, desk, poll=False))
    await world.env.advance_time(5)
    assert len(world.admin_log.history()) == 1


async def test_reindex_records_its_request_until_done(world, desk, monkeypatch):
    seen = []
    real = desk.indexing._reindex

    def spy(store, request, progress):
        seen.append(desk.indexing.pending_reindex())
        return real(store, request, progress)

    monkeypatch.setattr(desk.indexing, "_reindex", spy)
    await world.admin.slash(world.general, "reindex")
    assert seen and seen[0]["requested_by"] == world.admin.id and seen[0]["scoped"] is True
    assert desk.indexing.pending_reindex() is None


async def test_imports_and_reindexes_are_capped_and_cooled_down_per_server(world, desk, feeds):
    """One server's admins cannot import without end or keep the bot re-embedding: a file over the
    import cap is refused with the limit, a second import or reindex soon after waits, and another
    server is not held by this one's cooldown."""
    desk.feeds.config = dataclasses.replace(
        desk.feeds.config, feeds=dataclasses.replace(desk.feeds.config.feeds, max_feeds_per_import=2)
    )
    urls = [feeds.new(f"o{i}", f"Outlet {i}").url for i in range(3)]

    def opml(some):
        body = "".join(f'<outline text="x" xmlUrl="{u}"/>' for u in some)
        return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>'.encode()

    big = await world.admin.slash(world.general, "feeds import", file=("big.opml", opml(urls)))
    assert "at most 2 feeds and this file has 3" in big.response.content
    simcord.assert_error(world.env, LimitReached)
    done = await world.admin.slash(world.general, "feeds import", file=("a.opml", opml(urls[:2])))
    assert "2 added" in done.response.content  # a refused file does not count against the cooldown
    again = await world.admin.slash(world.general, "feeds import", file=("b.opml", opml(urls[2:])))
    assert "again in" in again.response.content and "added" not in again.response.content
    simcord.assert_error(world.env)
    assert len(desk.archive.list_feeds(Scope(world.guild.id, everything=False))) == 2 + 2  # and the two global ones

    first = await world.admin.slash(world.general, "reindex")
    assert first.response.content.startswith("✅ Reindex done")
    second = await world.admin.slash(world.general, "reindex")
    assert "reindexed recently" in second.response.content and "Reindex done" not in second.response.content

    other = world.env.create_guild("Elsewhere")
    mods = other.create_role("Mods", permissions=discord.Permissions(manage_guild=True))
    admin = other.add_member(world.env.create_user("other-admin"), roles=[mods])
    theirs = await admin.slash(other.create_text_channel("general"), "reindex")
    assert theirs.response.content.startswith("✅ Reindex done")
