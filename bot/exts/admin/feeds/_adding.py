"""/feeds add: check the URL (discovering the feed behind a web page), add, fetch once, report."""

from __future__ import annotations

import discord
from discord import app_commands

from index.errors import FetchError
from index.service import redact

from .... import render
from ....checks import admin_only, guard, interaction_admin_scope
from ....replies import private
from ._discovered import DiscoveredFeeds
from ._group import Part, feeds


class Adding(Part):
    @feeds.command(name="add", description="Add an RSS/Atom feed to this server (optionally auto-post to a channel).")
    @app_commands.describe(
        url="The feed's URL",
        name="A display name",
        channel="Post new articles here",
        backfill="Also post this many of its existing articles (default 0)",
    )
    @admin_only()
    @guard(None)
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        name: app_commands.Range[str, 0, 200] | None = None,
        channel: discord.TextChannel | discord.ForumChannel | None = None,
        backfill: app_commands.Range[int, 0, 50] = 0,
    ) -> None:
        bot = self.bot
        await interaction.response.defer(ephemeral=True, thinking=True)  # checking the URL may take a moment
        try:
            found = await bot.heavy_call(bot.desk.feeds.discover, url)
        except FetchError:
            found = None  # added as given: the first fetch reports what is wrong
        if found is not None and not found:
            await private(
                interaction,
                'I found no feed there: the page links to none (`<link rel="alternate">`) '
                "and none of the usual paths (/feed, /rss.xml, …) is a feed. "
                "Give the feed's own URL.",
            )
            return
        if found is not None and len(found) > 1:
            view = DiscoveredFeeds(self, interaction.user.id, found, name, channel, backfill)
            await private(interaction, f"That page offers {len(found)} feeds. Which one shall I add?", view=view)
            return
        note = None
        if found and found[0].url != url.strip():
            note = f"Found the feed at {render.safe(render.trim(found[0].url, 300))} ({found[0].how})."
        await self.add_found(interaction, found[0].url if found else url, name, channel, backfill, note)

    async def add_found(
        self,
        interaction: discord.Interaction,
        url: str,
        name: str | None,
        channel,
        backfill: int,
        note: str | None = None,
    ) -> None:
        """Add one feed (after discovery) and report, as a follow-up to a deferred interaction."""
        bot = self.bot
        notes = [note] if note else []
        if channel is not None:
            me = channel.guild.me
            perms = channel.permissions_for(me) if me is not None else None
            if perms is not None and not (perms.send_messages and perms.embed_links):
                notes.append(f"⚠ I can't post embeds in {channel.mention} yet (Send Messages + Embed Links needed).")
        feed, created = await bot.call(
            bot.desk.feeds.add,
            url,
            name or "",
            guild_id=interaction.guild_id,
            channel_id=channel.id if channel else None,
            added_by=interaction.user.id,
        )
        if not created:  # this server's own row or the global one: another server's is never named
            where = "every server" if feed.guild_id is None else "this server"
            label = render.safe(render.trim(feed.display_name, 100))
            await private(interaction, f"That feed is already in the archive as **{label}** (for {where}).")
            return
        report = await bot.heavy_call(bot.desk.indexing.ingest, feed.id)
        feed = await bot.call(bot.desk.feeds.find, feed.id)  # named by its title once fetched
        label = render.safe(render.trim(feed.display_name, 100))
        if report.feeds_failed:
            error = next(iter(report.errors.values()), "unknown error")
            text = (
                f"Added **{label}**, but the first fetch failed: "
                f"{render.safe(render.trim(redact(render.one_line(error)), 300))}. It will be retried."
            )
        else:
            text = f"Added **{label}**: {render.count(report.articles_new, 'article')} archived."
        if channel is not None:
            text += f" New articles will be posted in {channel.mention}."
            if backfill and not report.feeds_failed:
                queued = await bot.call(
                    bot.desk.settings.backfill, feed.id, backfill, interaction_admin_scope(interaction)
                )
                text += f" {render.count(queued, 'existing article')} will be posted there too."
        text = "\n".join([text, *notes])
        await private(interaction, text)
