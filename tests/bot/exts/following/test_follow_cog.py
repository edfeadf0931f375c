"""Topic alerts through the unmodified bot in simcord, over a real archive and feeds
served on 127.0.0.1 that gain items between ingests: /follow, /unfollow, /following, the
delivery loop, several processes, DMs (also closed ones), limits, mentions."""

from __future__ import annotations

import simcord
from support.discord import message_requests

from bot import create_bot
from bot.errors import NotAdmin
from bot.exts.following import alerts as alerts_cog
from index import policy
from index.errors import BadQuery, LimitReached, NotFound, PermissionDenied
from index.following import alerts as following
from index.service import Newsdesk
from index.vectors.embedders import HashEmbedder

HASH_THRESHOLD = 0.3  # the hash embedder's scale (see tests/index/following)

VOLCANO = (
    "Volcano erupts again on the Reykjanes peninsula",
    "The volcano near Grindavik erupted again overnight, sending lava toward the evacuated town. Geologists "
    "said the eruption on the Reykjanes peninsula could last for days.",
)
TRAM = ("Tram timetable changes on Sunday", "Trams run less often on Sunday while engineers replace the rails.")


def alert_titles(channel) -> list[str]:
    return [m.embeds[0].title for m in channel.history() if m.embeds]


async def pass_(world) -> None:
    """One delivery pass of the running bot's loop (its timer, as in production)."""
    await world.env.advance_time(alerts_cog.ALERT_INTERVAL_SECONDS + 1)


def threshold(desk) -> None:
    desk.following.threshold = HASH_THRESHOLD


async def test_a_channel_follow_gets_the_new_matching_article_once(world, desk, feeds, config):
    threshold(desk)
    made = await world.admin.slash(world.general, "follow", topic="volcano eruption", channel=world.news)
    assert made.ephemeral and "Following **volcano eruption**" in made.response.content
    await pass_(world)
    assert world.news.history() == []  # what was archived before the follow is not news
    feeds.planet.add_item(*VOLCANO, slug="volcano-again")
    feeds.wire.add_item(VOLCANO[0], "Wire report: " + VOLCANO[1], slug="volcano-wire")
    feeds.planet.add_item(*TRAM, slug="tram")
    desk.indexing.ingest()
    await pass_(world)
    assert alert_titles(world.news) == [VOLCANO[0]]
    embed = world.news.history()[0].embeds[0]
    also = {f.name: f.value for f in embed.fields}["Also reported by"]
    assert ("Wire Service" in also) != ("Wire Service" in embed.footer.text)  # the other copy, folded in
    assert "following “volcano eruption”" in embed.footer.text

    # more passes, a restart, and a second process on the same archive never send it again
    await pass_(world)
    await world.env.restart_bot(create_bot(config, desk))
    await pass_(world)
    other = Newsdesk(config, embedder=HashEmbedder())
    try:
        threshold(other)
        await world.env.restart_bot(create_bot(config, other))
        await pass_(world)
    finally:
        other.close()
    assert alert_titles(world.news) == [VOLCANO[0]]


async def test_an_alert_claimed_by_another_process_is_not_sent_again(world, desk, feeds, config):
    threshold(desk)
    await world.admin.slash(world.general, "follow", topic="volcano eruption", channel=world.news)
    feeds.planet.add_item(*VOLCANO, slug="volcano-claimed")
    desk.indexing.ingest()
    other = Newsdesk(config, embedder=HashEmbedder())  # the worker or another bot, passing first
    try:
        threshold(other)
        assert other.following.plan() == 1
        (batch,) = other.following.batches()
        assert other.following.claim(batch.follow.id, batch.alerts[0].article.id)
    finally:
        other.close()
    await pass_(world)
    assert world.news.history() == []


async def test_a_members_dm_follow_and_unfollow(world, desk, feeds):
    threshold(desk)
    made = await world.member.slash(world.general, "follow", topic="volcano eruption")
    assert made.ephemeral and "in your DMs" in made.response.content
    feeds.planet.add_item(*VOLCANO, slug="volcano-dm")
    desk.indexing.ingest()
    await pass_(world)
    dm = world.member.user.dm_channel
    assert alert_titles(dm) == [VOLCANO[0]]
    assert world.news.history() == [] and world.general.history() == []

    listing = await world.member.slash(world.general, "following")
    assert (
        listing.ephemeral and "volcano eruption" in listing.response.content and "Your DMs" in listing.response.content
    )
    (follow,) = desk.following.list_follows(user_id=world.member.id)
    gone = await world.member.slash(world.general, "unfollow", follow=str(follow.id))
    assert gone.ephemeral and "Stopped following" in gone.response.content
    feeds.planet.add_item("Volcano eruption ends", "The volcano eruption near Grindavik ended.", slug="v-end")
    desk.indexing.ingest()
    await pass_(world)
    assert alert_titles(dm) == [VOLCANO[0]]


async def test_a_dm_that_cannot_be_delivered_is_recorded_and_not_retried(world, desk, feeds):
    threshold(desk)
    await world.member.slash(world.general, "follow", topic="volcano eruption")
    dm = world.member.user.dm_channel
    world.env.inject_error(
        "POST", f"/channels/{dm.id}/messages", status=403, code=50007, message="Cannot send messages", times=None
    )
    feeds.planet.add_item(*VOLCANO, slug="volcano-closed")
    desk.indexing.ingest()
    await pass_(world)
    (follow,) = desk.following.list_follows(user_id=world.member.id)
    assert follow.paused and "403" in follow.paused
    (row,) = desk.archive.follow_alert_rows(follow.id)
    assert row["state"] == "failed"
    attempts = len([r for r in world.env.http_requests if r.method == "POST" and r.path.endswith(f"{dm.id}/messages")])
    feeds.planet.add_item("Volcano eruption ends", "The volcano eruption near Grindavik ended.", slug="v-end2")
    desk.indexing.ingest()
    await pass_(world)
    await pass_(world)
    again = len([r for r in world.env.http_requests if r.method == "POST" and r.path.endswith(f"{dm.id}/messages")])
    assert again == attempts  # paused: no retries, nothing new tried
    listing = await world.member.slash(world.general, "following")  # the member is back: resumed
    assert "paused" not in listing.response.content
    assert desk.following.list_follows(user_id=world.member.id)[0].paused is None


async def test_only_admins_follow_for_a_channel(world, desk):
    refused = await world.member.slash(world.general, "follow", topic="volcano", channel=world.news)
    assert refused.ephemeral and "for server admins" in refused.response.content
    simcord.assert_error(world.env, NotAdmin)
    assert desk.following.list_follows(everything=True) == []


async def test_bad_arguments_get_ephemeral_errors(world, desk, monkeypatch):
    empty = await world.member.slash(world.general, "follow", topic="   ")
    assert empty.ephemeral and "the topic is empty" in empty.response.content
    simcord.assert_error(world.env, BadQuery)
    long = await world.member.slash(world.general, "follow", topic="volcano " * 40)
    assert long.ephemeral and "at most 200 characters" in long.response.content
    simcord.assert_error(world.env, BadQuery)
    unknown = await world.member.slash(world.general, "unfollow", follow="12345")
    assert unknown.ephemeral and "no follow '12345'" in unknown.response.content
    simcord.assert_error(world.env, NotFound)
    monkeypatch.setattr(policy, "DM_FOLLOWS_PER_MEMBER", 1)
    await world.member.slash(world.general, "follow", topic="volcano")
    over = await world.member.slash(world.general, "follow", topic="ferry")
    assert over.ephemeral and "at most 1 DM follows" in over.response.content
    simcord.assert_error(world.env, LimitReached)
    monkeypatch.setattr(policy, "CHANNEL_FOLLOWS_PER_GUILD", 1)
    await world.admin.slash(world.general, "follow", topic="volcano", channel=world.news)
    over = await world.admin.slash(world.general, "follow", topic="ferry", channel=world.general)
    assert over.ephemeral and "at most 1 channel follows" in over.response.content
    simcord.assert_error(world.env, LimitReached)
    # a member cannot remove the channel's follow
    (channel_follow,) = [f for f in desk.following.list_follows(guild_id=world.guild.id) if f.kind == "channel"]
    denied = await world.member.slash(world.general, "unfollow", follow=str(channel_follow.id))
    assert denied.ephemeral and "only the server's admins" in denied.response.content
    simcord.assert_error(world.env, PermissionDenied)


async def test_a_flood_is_summarised_in_one_line_and_nothing_pings(world, desk, feeds):
    threshold(desk)
    await world.admin.slash(world.general, "follow", topic="volcano eruption @everyone", channel=world.news)
    places = ["Hekla", "Katla", "Askja", "Grimsvotn", "Krafla", "Eyjafjallajokull", "Bardarbunga"]
    for i, place in enumerate(places):
        feeds.planet.add_item(
            f"@everyone <@&123> {place} volcano eruption begins",
            f"<@{world.admin.id}> The {place} volcano began an eruption; "
            + " ".join(f"{place.lower()}{j}" for j in range(i + 8)),
            slug=f"flood{i}",
        )
    desk.indexing.ingest()
    await pass_(world)
    history = world.news.history()
    embeds = [m for m in history if m.embeds]
    lines = [m.content for m in history if not m.embeds]
    assert len(embeds) == following.MAX_ALERTS_PER_TARGET
    overflow = len(places) - following.MAX_ALERTS_PER_TARGET
    assert len(lines) == 1 and lines[0].startswith(f"…and {overflow} more new articles on “volcano eruption")
    await pass_(world)
    assert len(world.news.history()) == len(history)  # the summarised ones never come later
    sent = [
        data
        for request, data in message_requests(world.env)
        if request.method == "POST" and request.path.endswith(f"/channels/{world.news.id}/messages")
    ]
    assert len(sent) == len(history)
    for data in sent:
        mentions = data.get("allowed_mentions")
        assert mentions is not None and mentions.get("parse") == [] and not mentions.get("roles")
        assert not mentions.get("users") and not mentions.get("replied_user")


async def test_unfollow_offers_only_the_follows_one_may_see(world, desk):
    await world.admin.slash(world.general, "follow", topic="volcano eruption", channel=world.news)
    await world.admin.slash(world.general, "follow", topic="ferry strike")  # the admin's own DMs
    await world.member.slash(world.general, "follow", topic="interest rates")
    choices = await world.member.autocomplete(world.general, "unfollow", "follow", "")
    names = sorted(c["name"].split(" ", 1)[1] for c in choices)
    assert names == ["interest rates", "volcano eruption"]  # not the admin's DMs
    typed = await world.member.autocomplete(world.general, "unfollow", "follow", "rates")
    assert [c["name"].split(" ", 1)[1] for c in typed] == ["interest rates"]
