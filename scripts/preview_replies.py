"""Screenshots of the bot's replies as a member sees them in Discord: the real bot in simcord, over
a small archive fetched from feeds served on 127.0.0.1, each reply rendered by simcord's preview
and photographed with headless Chromium.

    pip install "simcord[preview]"          # the preview's runtime (linkify-it, av, …)
    python scripts/preview_replies.py [--out shots/] [--chromium chromium]

A development tool: it needs no network beyond 127.0.0.1 and no model (a hash embedder stands in).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's packages, and the tests' builders

import discord  # noqa: E402
import simcord  # noqa: E402
from support.newsroom import STORIES, WIRE_STORIES, FeedServer, make_feed  # noqa: E402

from bot import create_bot  # noqa: E402
from index.config import Config, DataConfig, DiscordConfig, EmbeddingConfig, FeedsConfig  # noqa: E402
from index.service import Newsdesk  # noqa: E402
from index.vectors.embedders import HashEmbedder  # noqa: E402

# briefs whose title is their lead, and pages that open with a dateline or live-blog furniture
BRIEFS = [
    (
        "The Pitt notched 25 nominations for the Emmys",
        "The Pitt notched 25 nominations for the Emmys. The hospital drama leads every other series this year, "
        "ahead of two streaming comedies.",
        0,
    ),
    (
        "Spielberg returns to science fiction",
        "Feb. 8, 2026, 6:51 p.m. ET Steven Spielberg is making a new film about visitors from space. "
        "Shooting starts in the summer in New Mexico.",
        1,
    ),
    (
        "What's next for Bad Bunny after the halftime show",
        "12:38 am ET February 9, 2026 Share this update What's next for Bad Bunny? The singer announced a "
        "stadium tour across Latin America and Europe.",
        1,
    ),
]
OLD = [  # coverage from weeks before the archive's newest: a question about now gets its date
    (
        "Port names Ana Ruiz harbour master",
        "The port authority named Ana Ruiz its harbour master. She ran the pilot service for a decade and "
        "starts in the spring.",
        40,
    ),
]
SOLO = [("Harbour ferry adds a night crossing", "The harbour ferry adds a night crossing from March.", 0)]
LIVE = [  # a live blog's entries, auto-posted with the default teaser
    (
        "Storm closes the coast road",
        "Updated Feb. 9, 2026, 7:02 a.m. ET Share this update Police closed the coast road after waves "
        "swept debris across both lanes overnight.",
        0,
    ),
    (
        "Ferries cancelled until noon",
        "12:38 am ET February 9, 2026 The harbour authority cancelled all ferries until noon.",
        0,
    ),
]


def build_desk(server: FeedServer, data_dir: str) -> tuple[Config, Newsdesk, str, str]:
    config = Config(
        data=DataConfig(dir=data_dir),
        embedding=EmbeddingConfig(model="hash-embedder-256"),
        feeds=FeedsConfig(allow_private_networks=True, fetch_full_text="never", workers=2, retries=0),
        discord=DiscordConfig(ask_cooldown_seconds=0, search_cooldown_seconds=0),
    )
    desk = Newsdesk(config, embedder=HashEmbedder())
    for name, title, stories in (
        ("planet", "Daily Planet", STORIES),
        ("wire", "Wire Service", WIRE_STORIES),
        ("briefs", "Culture Briefs", BRIEFS),
        ("port", "Port Weekly", OLD),
    ):
        feed = make_feed(server, name, title, stories, "/preview")
        desk.feeds.add(feed.url, title)
    desk.indexing.ingest()
    solo = make_feed(server, "solo", "Harbour Gazette", SOLO, "/preview")
    live = make_feed(server, "live", "Coast Live", LIVE, "/preview")
    return config, desk, solo.url, live.url


async def shoot(env, channel, viewer, path: Path, chromium: str, height: int = 900) -> None:
    """One screenshot of ``channel`` as ``viewer`` sees it (ephemeral replies included)."""
    async with env.preview(channel, viewers=[viewer], layout="channel", display="fixed", width=1000, height=height):
        url = env._preview.url
        proc = await asyncio.create_subprocess_exec(
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size=1000,{height}",
            "--virtual-time-budget=8000",
            f"--screenshot={path}",
            url,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.wait_for(proc.wait(), 120)
    print(path, "ok" if path.exists() else "MISSING")


async def main(out: Path, chromium: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    server = FeedServer()
    with tempfile.TemporaryDirectory() as data_dir:
        config, desk, solo_url, live_url = build_desk(server, data_dir)
        env = simcord.Env(create_bot(config, desk))
        guild = env.create_guild("Newsroom")
        editors = guild.create_role("Editors", permissions=discord.Permissions(manage_guild=True))
        admin = guild.add_member(env.create_user("alice"), roles=[editors])
        member = guild.add_member(env.create_user("bob"))
        await env.start()
        try:
            latest = guild.create_text_channel("latest")
            await member.slash(latest, "latest", source="Culture Briefs", count=5)
            await shoot(env, latest, member, out / "latest_briefs.png", chromium)

            search = guild.create_text_channel("search")
            await member.slash(search, "search", query="Pitt nominations Emmys hospital drama")
            await shoot(env, search, member, out / "search_snippets.png", chromium)

            ask = guild.create_text_channel("ask")
            await member.slash(ask, "ask", question="What happened with the volcano near Grindavik?")
            await shoot(env, ask, member, out / "ask_citation_links.png", chromium)

            hedged = guild.create_text_channel("hedged")
            await member.slash(hedged, "ask", question="What will the central bank do about unemployment?")
            await shoot(env, hedged, member, out / "ask_hedged.png", chromium)

            stale = guild.create_text_channel("stale")
            await member.slash(stale, "ask", question="Who is the harbour master?")
            await shoot(env, stale, member, out / "ask_stale.png", chromium)

            digest = guild.create_text_channel("digest")
            today = datetime.now(UTC).date()
            await member.slash(
                digest,
                "digest now",
                since=(today - timedelta(days=3)).isoformat(),
                until=today.isoformat(),
            )
            await shoot(env, digest, member, out / "digest_window.png", chromium, height=1100)

            feeds = guild.create_text_channel("admin")
            await admin.slash(feeds, "feeds add", url=solo_url)
            await shoot(env, feeds, admin, out / "feeds_add.png", chromium, height=500)

            posts = guild.create_text_channel("posts")
            await admin.slash(feeds, "feeds add", url=live_url, channel=posts, backfill=2)
            await env.advance_time(config.feeds.poll_interval_minutes * 60 + 1)  # the posting loop's pass
            await shoot(env, posts, member, out / "autopost_teasers.png", chromium)

            expired = guild.create_text_channel("expired")
            await member.slash(expired, "latest")
            await env.advance_time(601)
            await shoot(env, expired, member, out / "latest_expired.png", chromium)
        finally:
            await env.shutdown()
            desk.close()
            server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("shots"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.chromium))
