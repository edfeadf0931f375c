"""/feeds filter add|list|remove|test: which new articles a feed posts."""

from __future__ import annotations

import discord
from discord import app_commands

from index.models import FILTER_FIELDS

from .... import render
from ....autocomplete import feed_autocomplete
from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ._group import Part, feeds

filters = app_commands.Group(name="filter", description="Which new articles a feed posts (admins)", parent=feeds)


class Filters(Part):
    @filters.command(name="add", description="Post only matching articles (include) or never them (exclude).")
    @app_commands.describe(
        feed="The feed (id, URL or name)",
        action="include or exclude",
        pattern="Comma-separated words or phrases, or a regular expression",
        field="Where to look (default: title, text and author)",
        regex="The pattern is a regular expression",
        negate="Match articles WITHOUT the pattern",
        case_sensitive="Match case (default: no)",
    )
    @app_commands.choices(
        action=[app_commands.Choice(name=a, value=a) for a in ("include", "exclude")],
        field=[app_commands.Choice(name=f, value=f) for f in FILTER_FIELDS],
    )
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def filter_add(
        self,
        interaction: discord.Interaction,
        feed: app_commands.Range[str, 1, 2000],
        action: str,
        pattern: app_commands.Range[str, 1, 300],
        field: str = "any",
        regex: bool = False,
        negate: bool = False,
        case_sensitive: bool = False,
    ) -> None:
        bot = self.bot
        rule = await bot.call(
            bot.desk.settings.add_filter,
            feed.strip(),
            action,
            field,
            pattern,
            regex=regex,
            negate=negate,
            case_sensitive=case_sensitive,
            scope=interaction_admin_scope(interaction),
            added_by=interaction.user.id,
        )
        await private(
            interaction, f"Added filter {render.rule_line(rule)}. Try it on recent articles with `/feeds filter test`."
        )

    @filters.command(name="list", description="A feed's filters.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def filter_list(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, rules = await bot.call(bot.desk.settings.filters, feed.strip(), interaction_admin_scope(interaction))
        await private(interaction, embed=render.filters_embed(found, rules))

    @filters.command(name="remove", description="Remove one filter (by its number) or all of a feed's filters.")
    @app_commands.describe(feed="The feed (id, URL or name)", filter="The filter's number, or all")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def filter_remove(
        self,
        interaction: discord.Interaction,
        feed: app_commands.Range[str, 1, 2000],
        filter: app_commands.Range[str, 1, 20],
    ) -> None:  # noqa: A002
        bot = self.bot
        found = await bot.call(
            bot.desk.settings.remove_filter, feed.strip(), filter, interaction_admin_scope(interaction)
        )
        await private(
            interaction,
            f"Removed filter {render.safe(filter)} of **{render.safe(render.trim(found.display_name, 100))}**.",
        )

    @filters.command(name="test", description="Which of the feed's last 20 articles the filters pass, and why not.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def filter_test(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, results = await bot.call(
            bot.desk.settings.test_filters, feed.strip(), interaction_admin_scope(interaction)
        )
        await private(interaction, embed=render.filter_test_embed(found, results))
