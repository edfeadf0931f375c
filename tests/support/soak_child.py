"""The delivery soak's child process: the real bot (polling on) in a simcord world, run until a
stop file appears or it is killed with SIGKILL.

simcord's world lives in this process, so "what Discord holds" is kept in a journal file beside
the archive: every message the bot's HTTP calls commit to a channel is appended to it (one
``write`` of one JSON line, at the moment Discord stores it — before the bot sees the answer), and
a restarted child first puts the journal's messages back in their channels, authored by the bot,
before the bot connects. So a restarted bot sees in its channels' history what the killed one
sent, which is what a real restart against Discord sees.

Run: ``python -m support.soak_child CONFIG JOURNAL STOP HEARTBEAT`` with the worktree and
``tests/`` on PYTHONPATH (as a module: tests/support/discord.py must not shadow discord.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

TICK_SECONDS = 61  # virtual seconds per step: one poll (poll_interval_minutes = 1) and every pass
ANSWER_LATENCY_SECONDS = 0.05  # between Discord storing a message and the bot getting the answer
HASH_THRESHOLD = 0.3  # topic alerts at the hash embedder's scale (see tests/index/following)


def world(env):
    """The same world in every child (simcord ids are deterministic: same calls, same ids)."""
    guild = env.create_guild("Newsroom")
    channels = {name: guild.create_text_channel(name) for name in ("news", "alerts", "watch", "admin-log")}
    editor = guild.add_member(env.create_user("alice"))
    return guild, channels, editor


def restore(env, journal: Path) -> int:
    """Put the journal's messages back in their channels, authored by the bot (not broadcast:
    the bot is not connected yet). Returns how many."""
    if not journal.exists():
        return 0
    backend = env.backend
    n = 0
    for line in journal.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill never reached "Discord" whole
        backend.create_message(
            entry["channel_id"], backend.bot_user.id, entry["content"], embeds=entry["embeds"], broadcast=False
        )
        n += 1
    return n


def record_sends(env, journal: Path) -> None:
    """Append every message the bot gets committed to a channel to the journal, at commit time."""
    backend = env.backend
    real = backend.commit_message
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def commit(message, *, broadcast: bool = True):
        out = real(message, broadcast=broadcast)
        if message.author_id == backend.bot_user.id:
            entry = {"channel_id": message.channel_id, "content": message.content, "embeds": message.embeds}
            os.write(fd, (json.dumps(entry) + "\n").encode())
            time.sleep(ANSWER_LATENCY_SECONDS)  # the answer is on its way back: a kill now loses it
        return out

    backend.commit_message = commit


async def run(config_path: str, journal: Path, stop: Path, heartbeat: Path) -> None:
    import simcord

    from bot import create_bot
    from index.config import load_config
    from index.service import Newsdesk
    from index.vectors.embedders import HashEmbedder

    config = load_config(config_path)
    desk = Newsdesk(config, embedder=HashEmbedder())
    desk.following.threshold = HASH_THRESHOLD
    env = simcord.Env(create_bot(config, desk, poll=True))
    world(env)
    restore(env, journal)
    record_sends(env, journal)
    await env.start()
    ticks = 0
    try:
        while not stop.exists():
            desk.archive.db.execute("UPDATE feeds SET next_poll_at = 0")  # due on the real clock
            await env.advance_time(TICK_SECONDS)
            ticks += 1
            heartbeat.write_text(str(ticks))
    finally:
        await env.shutdown()
        desk.close()


if __name__ == "__main__":
    os.environ.setdefault("NEWSDESK_ALLOW_PRIVATE_NETWORKS", "1")
    config_arg, journal_arg, stop_arg, heartbeat_arg = sys.argv[1:5]
    asyncio.run(run(config_arg, Path(journal_arg), Path(stop_arg), Path(heartbeat_arg)))
