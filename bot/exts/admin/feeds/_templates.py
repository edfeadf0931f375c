"""/feeds template set|preview|show|clear: how a feed's posts look."""

from __future__ import annotations

import discord
from discord import app_commands

from .... import render
from ....autocomplete import feed_autocomplete
from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ._group import Part, feeds

templates = app_commands.Group(name="template", description="How a feed's posts look (admins)", parent=feeds)


class Templates(Part):
    @templates.command(
        name="set",
        description="Set a feed's post template: {title} {url} {outlet} {published} {summary} {author} {categories}.",
    )
    @app_commands.describe(
        feed="The feed (id, URL or name)",
        template="Text with placeholders; {published:%d %b %Y %H:%M} takes a date format",
        style="An embed (default) or plain text",
        timezone="Time zone of {published} (e.g. Europe/Berlin)",
    )
    @app_commands.choices(style=[app_commands.Choice(name=s, value=s) for s in ("embed", "text")])
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def template_set(
        self,
        interaction: discord.Interaction,
        feed: app_commands.Range[str, 1, 2000],
        template: app_commands.Range[str, 1, 1500],
        style: str = "embed",
        timezone: app_commands.Range[str, 1, 60] = "UTC",
    ) -> None:
        bot = self.bot
        scope = interaction_admin_scope(interaction)
        found, _ = await bot.call(
            bot.desk.settings.set_template,
            feed.strip(),
            template,
            style=style,
            timezone_name=timezone,
            scope=scope,
            updated_by=interaction.user.id,
        )
        await private(
            interaction,
            f"Template set for **{render.safe(render.trim(found.display_name, 100))}** "
            f"({style}, {render.safe(timezone)}). See it with `/feeds template preview`.",
        )

    @templates.command(
        name="preview", description="Preview a template (the feed's, or one given here) on its newest article."
    )
    @app_commands.describe(
        feed="The feed (id, URL or name)",
        template="A template to try (not saved)",
        style="An embed or plain text",
        timezone="Time zone of {published}",
    )
    @app_commands.choices(style=[app_commands.Choice(name=s, value=s) for s in ("embed", "text")])
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def template_preview(
        self,
        interaction: discord.Interaction,
        feed: app_commands.Range[str, 1, 2000],
        template: app_commands.Range[str, 1, 1500] | None = None,
        style: str | None = None,
        timezone: app_commands.Range[str, 1, 60] | None = None,
    ) -> None:
        bot = self.bot
        _, tpl, article, text = await bot.call(
            bot.desk.settings.preview_template,
            feed.strip(),
            template,
            style=style,
            timezone_name=timezone,
            scope=interaction_admin_scope(interaction),
            escape=render.safe,
        )
        await private(
            interaction, **render.post_message((tpl.style, text), article, None)
        )  # no pings: AllowedMentions.none()

    @templates.command(name="show", description="A feed's post template.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def template_show(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, tpl = await bot.call(bot.desk.settings.template, feed.strip(), interaction_admin_scope(interaction))
        name = render.safe(render.trim(found.display_name, 100))
        text = (
            f"**{name}** uses the default teaser."
            if tpl is None
            else f"**{name}** ({tpl.style}, {render.safe(tpl.timezone)}):\n```\n{tpl.body.replace('`', 'ˋ')}\n```"
        )
        await private(interaction, text)

    @templates.command(name="clear", description="Back to the default teaser.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def template_clear(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found = await bot.call(bot.desk.settings.clear_template, feed.strip(), interaction_admin_scope(interaction))
        await private(
            interaction, f"**{render.safe(render.trim(found.display_name, 100))}** posts the default teaser again."
        )
