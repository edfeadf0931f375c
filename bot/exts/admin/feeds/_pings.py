"""/feeds ping add|remove|list: roles a feed's posts mention."""

from __future__ import annotations

import discord
from discord import app_commands

from index.errors import BadQuery
from index.models import FILTER_FIELDS

from .... import render
from ....autocomplete import feed_autocomplete
from ....checks import admin_only, interaction_admin_scope
from ....replies import private
from ....roles import opening_problem
from ._group import Part, feeds

pings = app_commands.Group(name="ping", description="Roles a feed's posts mention (admins)", parent=feeds)


class Pings(Part):
    @pings.command(name="add", description="Mention a role when this feed posts (optionally only matching articles).")
    @app_commands.describe(
        feed="The feed (id, URL or name)",
        role="The role to mention",
        pattern="Only for articles matching these words (or regex)",
        field="Where to look",
        regex="The pattern is a regular expression",
        subscribable="Members may give themselves this role with /subscribe",
    )
    @app_commands.choices(field=[app_commands.Choice(name=f, value=f) for f in FILTER_FIELDS])
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def ping_add(
        self,
        interaction: discord.Interaction,
        feed: app_commands.Range[str, 1, 2000],
        role: discord.Role,
        pattern: app_commands.Range[str, 1, 300] | None = None,
        field: str = "any",
        regex: bool = False,
        subscribable: bool = False,
    ) -> None:
        bot = self.bot
        if role.is_default():
            raise BadQuery("@everyone is never pinged")
        if subscribable:
            caller = interaction.user if isinstance(interaction.user, discord.Member) else None
            problem = opening_problem(role, caller, role.guild.me)
            if problem:
                raise BadQuery(f"{problem}, so it cannot be made subscribable")
        found = await bot.call(
            bot.desk.settings.add_ping,
            feed.strip(),
            role.id,
            pattern=pattern,
            field=field,
            regex=regex,
            subscribable=subscribable,
            scope=interaction_admin_scope(interaction),
            added_by=interaction.user.id,
        )
        text = f"Posts of **{render.safe(render.trim(found.display_name, 100))}** will mention {role.mention}"
        text += f" when they match `{render.no_mentions(pattern).replace('`', 'ˋ')}`." if pattern else "."
        if subscribable:
            text += " Members can subscribe with `/subscribe`."
        await private(interaction, text)

    @pings.command(name="remove", description="Stop mentioning a role.")
    @app_commands.describe(feed="The feed (id, URL or name)", role="The role")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def ping_remove(
        self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000], role: discord.Role
    ) -> None:
        bot = self.bot
        found = await bot.call(
            bot.desk.settings.remove_ping, feed.strip(), role.id, interaction_admin_scope(interaction)
        )
        await private(
            interaction,
            f"Posts of **{render.safe(render.trim(found.display_name, 100))}** no longer mention {role.mention}.",
        )

    @pings.command(name="list", description="The roles a feed's posts mention.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def ping_list(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, pings = await bot.call(bot.desk.settings.pings, feed.strip(), interaction_admin_scope(interaction))
        lines = [
            f"<@&{p['role_id']}>"
            + (
                f" when {p['field']} matches `{render.no_mentions(p['pattern']).replace('`', 'ˋ')}`"
                if p["pattern"]
                else ""
            )
            + (" (subscribable)" if p["subscribable"] else "")
            for p in pings
        ] or ["No role is mentioned."]
        await private(interaction, f"**{render.safe(render.trim(found.display_name, 100))}**:\n" + "\n".join(lines))
