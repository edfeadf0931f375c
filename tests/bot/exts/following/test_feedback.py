"""👍/👎 under /ask answers and the unanswered and down-voted questions in /status, through the
unmodified bot in simcord over a real archive: a vote is stored (one per member and answer, a
second click changes it), survives a restart, and /status groups a server's own questions by topic
with the feeds discovery finds for them (or says it found none)."""

from __future__ import annotations

import discord
import pytest
from support.feeds import Item, rss20
from support.http import HTTPTestServer, send

from bot import create_bot
from index.errors import NotFound

VOLCANO = "What happened with the volcano in Iceland?"
QUANTUM = "Explain quantum entanglement photonics"
QUANTUM_TOO = "Any news on quantum entanglement photonics experiments?"
COOLDOWN = 11


def vote_ids(response) -> dict[str, str]:
    ids = [c["custom_id"] for row in response.components for c in row["components"] if "custom_id" in c]
    return {i.split(":")[2]: i for i in ids if i.startswith("nd:vote:")}


def votes(desk) -> list[tuple]:
    return desk.archive.db.execute("SELECT answer_id, voter, vote FROM answer_votes ORDER BY rowid").fetchall()


@pytest.fixture
def site():
    """A news site of its own on 127.0.0.1 whose home page names its feed."""
    server = HTTPTestServer()
    feed = rss20("Quantum Weekly", [Item("Photons entangled", "Entangled photons were measured.", "http://q/1", "q1")])
    server.route("/feed.xml", lambda req: send(req, 200, feed))
    link = f'<link rel="alternate" type="application/rss+xml" title="Quantum Weekly" href="{server.url("/feed.xml")}">'
    page = f"<html><head>{link}</head></html>"
    server.route("/", lambda req: send(req, 200, page, "text/html; charset=utf-8"))
    yield server
    server.close()


async def test_votes_are_stored_once_per_member_and_a_second_click_changes_it(world, desk, config):
    answer = (await world.member.slash(world.general, "ask", question=VOLCANO)).response
    ids = vote_ids(answer)
    assert set(ids) == {"up", "down"}
    answer_id = int(ids["up"].split(":")[3])
    record = desk.archive.get_asked(answer_id)
    assert record["question"] == VOLCANO and record["guild_id"] == world.guild.id and not record["abstained"]
    assert record["cited"] and record["as_of"]

    down = await world.member.click(answer, custom_id=ids["down"])
    assert down.ephemeral and "recorded" in down.response.content
    rows = votes(desk)
    assert [(a, v) for a, _, v in rows] == [(answer_id, -1)]
    assert str(world.member.id) not in rows[0][1]  # the member is a keyed hash, not their id

    up = await world.member.click(answer, custom_id=ids["up"])
    assert up.ephemeral and "Changed your vote" in up.response.content
    assert [(a, v) for a, _, v in votes(desk)] == [(answer_id, 1)]

    await world.env.restart_bot(create_bot(config, desk))  # persistent buttons: still work
    again = await world.member.click(answer, custom_id=ids["down"])
    assert "Changed your vote" in again.response.content
    await world.admin.click(answer, custom_id=ids["down"])
    assert sorted(v for _, _, v in votes(desk)) == [-1, -1] and len({r[1] for r in votes(desk)}) == 2
    assert desk.archive.vote_counts(answer_id) == (0, 2)


async def test_status_groups_a_servers_unanswered_and_down_voted_questions(world, desk, site):
    env = world.env
    answer = (await world.member.slash(world.general, "ask", question=VOLCANO)).response
    await world.member.click(answer, custom_id=vote_ids(answer)["down"])
    await env.advance_time(COOLDOWN)
    unanswered = (await world.member.slash(world.general, "ask", question=QUANTUM)).response
    assert vote_ids(unanswered) == {}  # an abstention is on the unanswered list already
    await env.advance_time(COOLDOWN)
    await world.member.slash(world.general, "ask", question=QUANTUM_TOO)
    await env.advance_time(COOLDOWN)
    named = f"What does {site.url('/')} report about quantum entanglement photonics?"
    await world.member.slash(world.general, "ask", question=named)

    # another server's questions stay its own
    other = env.create_guild("Elsewhere")
    lobby = other.create_text_channel("lobby")
    boss = other.add_member(
        env.create_user("carol"), roles=[other.create_role("Boss", permissions=discord.Permissions(manage_guild=True))]
    )
    asked = await boss.slash(lobby, "ask", question="Explain opera frescoes restoration techniques")
    assert "couldn't find" in asked.response.embeds[0].description

    status = await world.admin.slash(world.general, "status")
    assert status.ephemeral
    embeds = status.response.embeds
    assert embeds[0].title == "Newsdesk status" and embeds[1].title == "Questions the archive fell short on"
    fields = {f.name: f.value for f in embeds[1].fields}
    quantum = next(v for k, v in fields.items() if "quantum" in k and "(3)" in k)
    assert quantum.count("unanswered") == 3
    assert "Quantum Weekly" in quantum and site.url("/feed.xml") in quantum  # discovered on the named site
    volcano = next(v for k, v in fields.items() if "volcano" in k.lower())
    assert "👎 1" in volcano and "found no new feed" in volcano  # the cited site has no feed to discover
    assert "opera" not in str(fields)

    theirs = await boss.slash(lobby, "status")
    fields = {f.name: f.value for f in theirs.response.embeds[1].fields}
    assert "opera" in str(fields) and "quantum" not in str(fields) and "volcano" not in str(fields).lower()


async def test_a_vote_from_another_server_or_on_a_gone_answer_is_refused(world, desk):
    answer = (await world.member.slash(world.general, "ask", question=VOLCANO)).response
    answer_id = int(vote_ids(answer)["up"].split(":")[3])
    with pytest.raises(NotFound) as elsewhere:
        desk.feedback.vote(answer_id, world.member.id, 1, guild_id=world.guild.id + 1)
    with pytest.raises(NotFound) as nowhere:
        desk.feedback.vote(answer_id + 1000, world.member.id, 1, guild_id=world.guild.id + 1)
    assert str(elsewhere.value) == str(nowhere.value)  # the words do not tell which answers exist
    desk.archive.db.execute("DELETE FROM asked WHERE id = ?", [answer_id])
    gone = await world.member.click(answer, custom_id=vote_ids(answer)["up"])
    assert gone.ephemeral and "no longer on record" in gone.response.content
    assert votes(desk) == []
