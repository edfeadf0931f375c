"""/feeds options: a thread per post, forum title and tags, updated articles."""

from __future__ import annotations

import discord
from discord import app_commands

from .... import render
from ....autocomplete import feed_autocomplete
from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ._group import Part, feeds


class Options(Part):
    @feeds.command(name="options", description="A thread per post, forum title and tags, updated articles.")
    @app_commands.describe(
        feed="The feed (id, URL or name)",
        thread="Open a thread on each post",
        updates="When the feed re-publishes a changed article: ignore, edit the post, repost it",
        forum_title="Forum posts: a title template ({title}, {outlet}, …); empty resets",
        forum_tags="Forum posts: Tag=words; Other=words (a tag is applied when its words match)",
    )
    @app_commands.choices(updates=[app_commands.Choice(name=m, value=m) for m in ("ignore", "edit", "repost")])
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def options(
        self,
        interaction: discord.Interaction,
        feed: app_commands.Range[str, 1, 2000],
        thread: bool | None = None,
        updates: str | None = None,
        forum_title: app_commands.Range[str, 0, 200] | None = None,
        forum_tags: app_commands.Range[str, 0, 1000] | None = None,
    ) -> None:
        bot = self.bot
        found, opts = await bot.call(
            bot.desk.settings.set_options,
            feed.strip(),
            thread=thread,
            updates=updates,
            forum_title=forum_title,
            forum_tags=forum_tags,
            scope=interaction_admin_scope(interaction),
        )
        tags = "; ".join(f"{name}={words}" for name, words in opts["forum_tags"]) or "none"
        text = (
            f"**{render.safe(render.trim(found.display_name, 100))}**: thread per post "
            f"{'on' if opts['thread'] else 'off'}; updated articles: {opts['updates']}; forum title: "
            f"{render.safe(opts['forum_title'] or '{title}')}; forum tags: {render.safe(tags)}."
        )
        await private(interaction, text)
