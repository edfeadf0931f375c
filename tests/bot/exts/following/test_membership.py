"""A member who leaves a server stops getting its private articles by DM, and what a server made
goes when the bot is removed from it: the running bot in simcord over a real archive, with a
private feed of the server served on 127.0.0.1."""

from __future__ import annotations

from support.newsroom import METRO

from bot.delivery import DRAIN_SECONDS
from bot.exts.following import alerts as alerts_cog
from index.models import Scope

VOLCANO = (
    "Volcano erupts again on the Reykjanes peninsula",
    "The volcano near Grindavik erupted again overnight, sending lava toward the evacuated town. Geologists "
    "said the eruption on the Reykjanes peninsula could last for days.",
)
LATER = (
    "Volcano eruption near Grindavik grows",
    "The volcano eruption near Grindavik grew overnight, with a new fissure on the Reykjanes peninsula.",
)


def dms(world) -> list[str]:
    """Titles of what the bot sent the member by DM (topic alerts and watch updates)."""
    channel = world.member.user.dm_channel
    return [m.embeds[0].title for m in channel.history() if m.embeds] if channel is not None else []


async def pass_(world) -> None:
    await world.env.advance_time(alerts_cog.ALERT_INTERVAL_SECONDS + 1)


async def private_feed_and_dm_follow(world, desk, feeds):
    """The server's own feed (no other server sees it) and the member's DM follow made there."""
    desk.following.threshold = 0.3  # the hash embedder's scale
    metro = feeds.new("metro", "Metro News", METRO)
    added = await world.admin.slash(world.general, "feeds add", url=metro.url)
    assert "Added" in added.response.content
    made = await world.member.slash(world.general, "follow", topic="volcano eruption")
    assert "in your DMs" in made.response.content
    desk.watches.add("What is the volcano doing?", guild_id=world.guild.id, user_id=world.member.id, created_by=1)
    metro.add_item(*VOLCANO, slug="volcano")
    desk.indexing.ingest()
    await pass_(world)
    assert VOLCANO[0] in dms(world)  # while a member, the DM comes
    return metro


async def test_a_member_who_left_gets_no_more_private_articles_by_dm(world, desk, feeds):
    """Without the members intent the bot never hears the member leave: it asks before the DM."""
    assert not world.bot.intents.members
    metro = await private_feed_and_dm_follow(world, desk, feeds)
    world.guild.remove_member(world.member)
    assert desk.following.list_follows(user_id=world.member.id)  # nothing heard yet
    before = dms(world)
    metro.add_item(*LATER, slug="later")
    desk.indexing.ingest()
    await pass_(world)
    assert dms(world) == before and LATER[0] not in before  # neither the alert nor the watch's update
    assert desk.following.list_follows(user_id=world.member.id) == []  # found gone: the follows made there went too
    assert desk.watches.list_watches(Scope(world.guild.id, everything=False)) == []


async def test_removing_the_bot_from_a_server_drops_its_follows_and_watches(world, desk, feeds):
    await private_feed_and_dm_follow(world, desk, feeds)
    await world.admin.slash(world.general, "follow", topic="harbour", channel=world.news)
    assert desk.following.list_follows(guild_id=world.guild.id, user_id=world.member.id)
    world.env.backend.remove_guild(world.guild.id)
    await world.env.settle()
    assert desk.following.list_follows(everything=True) == []
    assert desk.watches.list_watches(Scope(world.guild.id, everything=False)) == []


def waiting_dms(desk, user_id: int) -> list[dict]:
    """The member's DM deliveries in the outbox that are not sent."""
    rows = desk.archive.db.execute(
        "SELECT key, state, reason, reported FROM delivery_outbox WHERE user_id = ? AND state != 'sent' ORDER BY key",
        [user_id],
    ).fetchall()
    return [dict(zip(("key", "state", "reason", "reported"), r, strict=True)) for r in rows]


async def test_a_dm_queued_before_the_member_left_is_dropped_at_its_retry(world, desk, feeds):
    """The membership is asked again when a queued DM is sent, not only when it is queued: an
    alert (and a watch's update) refused once, then retried after the member left, is dropped."""
    world.set_discord(admin_channel=world.admin_log.id)
    metro = await private_feed_and_dm_follow(world, desk, feeds)
    dm = world.member.user.dm_channel
    world.env.inject_error("POST", f"/channels/{dm.id}/messages", status=400, times=None)
    before = dms(world)
    metro.add_item(*LATER, slug="later")
    desk.indexing.ingest()
    await pass_(world)
    waiting = waiting_dms(desk, world.member.id)
    assert any(r["key"].startswith("alert:") for r in waiting)  # queued while a member, refused once
    assert {r["state"] for r in waiting} == {"retry"}
    world.env.backend.faults.clear()  # Discord would take it now…
    world.guild.remove_member(world.member)  # …but the member has left
    desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0")  # the retry is due
    await world.env.advance_time(DRAIN_SECONDS + 1)
    assert dms(world) == before and LATER[0] not in before  # neither the alert nor the watch's update
    dropped = waiting_dms(desk, world.member.id)
    assert [r["key"] for r in dropped] == [r["key"] for r in waiting]
    assert all(r["state"] == "dropped" and "no longer in the server" in r["reason"] for r in dropped)
    assert all(r["reported"] == 0 for r in dropped)
    assert not [m for m in world.admin_log.history() if "Gave up" in (m.content or "")]
    assert desk.following.list_follows(user_id=world.member.id) == []  # found gone: the follows made there went
    assert desk.watches.list_watches(Scope(world.guild.id, everything=False)) == []
    desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0")
    await world.env.advance_time(DRAIN_SECONDS * 3)  # settled for good: never tried again
    assert waiting_dms(desk, world.member.id) == dropped and dms(world) == before


async def test_a_dm_whose_membership_cannot_be_checked_waits_untried(world, desk, feeds):
    """Discord does not answer the membership question at the retry: nothing is sent, nothing is
    dropped, no attempt is counted; the DM goes once the answer comes (still a member)."""
    metro = await private_feed_and_dm_follow(world, desk, feeds)
    dm = world.member.user.dm_channel
    world.env.inject_error("POST", f"/channels/{dm.id}/messages", status=400, times=None)
    metro.add_item(*LATER, slug="later")
    desk.indexing.ingest()
    await pass_(world)
    waiting = waiting_dms(desk, world.member.id)
    assert waiting and {r["state"] for r in waiting} == {"retry"}
    attempts = {r["key"]: desk.archive.outbox_row(r["key"])["attempts"] for r in waiting}
    world.env.backend.faults.clear()
    world.env.inject_error("GET", f"/guilds/{world.guild.id}/members/{world.member.id}", status=500, times=None)
    desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0")
    await world.env.advance_time(DRAIN_SECONDS + 1)
    assert LATER[0] not in dms(world)
    held = waiting_dms(desk, world.member.id)
    assert {r["state"] for r in held} == {"retry"} and all("unknown" in r["reason"] for r in held)
    assert {r["key"]: desk.archive.outbox_row(r["key"])["attempts"] for r in held} == attempts
    assert desk.following.list_follows(user_id=world.member.id)  # nothing dropped on an unknown answer
    world.env.backend.faults.clear()
    desk.archive.db.execute("UPDATE delivery_outbox SET next_try_at = 0")
    await world.env.advance_time(DRAIN_SECONDS + 1)
    assert dms(world).count(LATER[0]) == 1 and waiting_dms(desk, world.member.id) == []
