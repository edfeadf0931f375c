"""With the members intent, a member leaving is heard at once: the DM follows and watches made in
that server go before any delivery pass (those made in DMs stay)."""

from __future__ import annotations

import pytest
from test_membership import private_feed_and_dm_follow

from index.config import DiscordConfig
from index.models import Scope


@pytest.fixture
def discord_config() -> DiscordConfig:
    return DiscordConfig(members_intent=True)


async def test_a_leaving_member_loses_the_servers_dm_follows_at_once(world, desk, feeds):
    assert world.bot.intents.members
    await private_feed_and_dm_follow(world, desk, feeds)
    keep = desk.following.add("volcano", user_id=world.member.id, created_by=world.member.id)  # made in DMs
    world.guild.remove_member(world.member)
    await world.env.settle()
    assert [f.id for f in desk.following.list_follows(user_id=world.member.id)] == [keep.id]
    assert desk.watches.list_watches(Scope(world.guild.id, everything=False)) == []
