"""Admin: /feeds add|remove|list|import|export|why|limits, /feeds filter add|list|remove|test,
/feeds template set|preview|show|clear, /feeds ping and /feeds options; members: /subscribe, /unsubscribe.

Every command here is hidden from non-admins by ``default_permissions``
(Manage Server), is guild-only, AND checks at run time (:func:`admin_only`):
server owners can open command permissions to anyone. Bot owners act on every
feed; server admins on their server's feeds (the service raises PermissionDenied
/ NotFound for the others).
"""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from index.errors import BadQuery, FetchError
from index.models import FILTER_FIELDS, Scope
from index.service import redact

from ... import render
from ...autocomplete import feed_autocomplete
from ...checks import admin_only, guard, interaction_admin_scope, is_admin, record_server_use, server_cooldown
from ...roles import handout_problem, opening_problem

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
MAX_OPML_BYTES = 2_000_000
ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)


class Feeds(commands.Cog):
    feeds = app_commands.Group(
        name="feeds",
        description="Manage the news feeds (admins)",
        guild_only=True,
        default_permissions=ADMIN_PERMISSIONS,
    )

    def __init__(self, bot):
        self.bot = bot

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
            await interaction.followup.send(
                render.message_text(
                    'I found no feed there: the page links to none (`<link rel="alternate">`) '
                    "and none of the usual paths (/feed, /rss.xml, …) is a feed. "
                    "Give the feed's own URL."
                ),
                ephemeral=True,
                allowed_mentions=NONE,
            )
            return
        if found is not None and len(found) > 1:
            view = DiscoveredFeeds(self, interaction.user.id, found, name, channel, backfill)
            await interaction.followup.send(
                render.message_text(f"That page offers {len(found)} feeds. Which one shall I add?"),
                view=view,
                ephemeral=True,
                allowed_mentions=NONE,
            )
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
            await interaction.followup.send(
                render.message_text(f"That feed is already in the archive for {where} (id {feed.id})."),
                ephemeral=True,
                allowed_mentions=NONE,
            )
            return
        report = await bot.heavy_call(bot.desk.indexing.ingest, feed.id)
        label = render.safe(render.trim(feed.display_name, 100))
        if report.feeds_failed:
            error = next(iter(report.errors.values()), "unknown error")
            text = (
                f"Added **{label}** (id {feed.id}), but the first fetch failed: "
                f"{render.safe(render.trim(redact(render.one_line(error)), 300))}. It will be retried."
            )
        else:
            text = f"Added **{label}** (id {feed.id}): {report.articles_new} articles archived."
        if channel is not None:
            text += f" New articles will be posted in {channel.mention}."
            if backfill and not report.feeds_failed:
                queued = await bot.call(
                    bot.desk.settings.backfill, feed.id, backfill, interaction_admin_scope(interaction)
                )
                text += f" {queued} existing articles will be posted there too."
        text = "\n".join([text, *notes])
        await interaction.followup.send(render.message_text(text), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="remove", description="Remove a feed and the articles only it carried.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def remove(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed, articles = await bot.heavy_call(
            bot.desk.feeds.remove, feed.strip(), interaction_admin_scope(interaction)
        )
        await interaction.followup.send(
            render.message_text(
                f"Removed **{render.safe(render.trim(removed.display_name, 100))}** "
                f"(id {removed.id}); {articles} articles left the archive."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @feeds.command(name="list", description="The feeds this server reads.")
    @admin_only()
    async def list_(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        feeds = await bot.call(bot.desk.archive.list_feeds, interaction_admin_scope(interaction))
        await interaction.response.send_message(embed=render.feeds_embed(feeds), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="import", description="Import feeds from an OPML file.")
    @app_commands.describe(file="An OPML file (as exported by most feed readers)")
    @server_cooldown("import")
    @admin_only()
    async def import_(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        bot = self.bot
        if file.size > MAX_OPML_BYTES:
            raise BadQuery(f"that file is too big ({file.size} bytes; the limit is {MAX_OPML_BYTES})")
        await interaction.response.defer(ephemeral=True, thinking=True)
        content = await file.read()
        scope = Scope(guild_id=interaction.guild_id, everything=False)  # imported feeds belong to this server
        result = await bot.call(bot.desk.feeds.import_opml, content, scope, interaction.user.id)
        record_server_use(bot, "import", interaction)
        lines = [
            f"Imported from **{render.safe(render.trim(file.filename, 100))}**: "
            f"{len(result['added'])} added, {len(result['existing'])} already present, "
            f"{len(result['refused'])} refused."
        ]
        for url, reason in list(result["refused"].items())[:10]:
            lines.append(f"• refused {render.safe(render.trim(url, 120))}: {render.safe(render.trim(reason, 160))}")
        if result["added"]:
            lines.append("New feeds are fetched on the next poll.")
        await interaction.followup.send(render.message_text("\n".join(lines)), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="export", description="Export the feeds as an OPML file.")
    @admin_only()
    async def export(self, interaction: discord.Interaction) -> None:
        bot = self.bot
        opml = await bot.call(bot.desk.feeds.export_opml, interaction_admin_scope(interaction))
        data = opml.encode("utf-8") if isinstance(opml, str) else opml
        await interaction.response.send_message(
            "Here are the feeds as OPML.",
            file=discord.File(io.BytesIO(data), filename="newsdesk-feeds.opml"),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    # -- delivery: filters, flood control, the delivery log -----------------------------
    filter = app_commands.Group(name="filter", description="Which new articles a feed posts (admins)", parent=feeds)

    @filter.command(name="add", description="Post only matching articles (include) or never them (exclude).")
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
        await interaction.response.send_message(
            render.message_text(
                f"Added filter {render.rule_line(rule)}. Try it on recent articles with `/feeds filter test`."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @filter.command(name="list", description="A feed's filters.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def filter_list(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, rules = await bot.call(bot.desk.settings.filters, feed.strip(), interaction_admin_scope(interaction))
        await interaction.response.send_message(
            embed=render.filters_embed(found, rules), ephemeral=True, allowed_mentions=NONE
        )

    @filter.command(name="remove", description="Remove one filter (by its number) or all of a feed's filters.")
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
        await interaction.response.send_message(
            render.message_text(
                f"Removed filter {render.safe(filter)} of **{render.safe(render.trim(found.display_name, 100))}**."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @filter.command(name="test", description="Which of the feed's last 20 articles the filters pass, and why not.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def filter_test(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, results = await bot.call(
            bot.desk.settings.test_filters, feed.strip(), interaction_admin_scope(interaction)
        )
        await interaction.response.send_message(
            embed=render.filter_test_embed(found, results), ephemeral=True, allowed_mentions=NONE
        )

    template = app_commands.Group(name="template", description="How a feed's posts look (admins)", parent=feeds)

    @template.command(
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
        await interaction.response.send_message(
            render.message_text(
                f"Template set for **{render.safe(render.trim(found.display_name, 100))}** "
                f"({style}, {render.safe(timezone)}). See it with `/feeds template preview`."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @template.command(
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
        await interaction.response.send_message(
            **render.post_message((tpl.style, text), article, None), ephemeral=True
        )  # no pings: AllowedMentions.none()

    @template.command(name="show", description="A feed's post template.")
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
        await interaction.response.send_message(render.message_text(text), ephemeral=True, allowed_mentions=NONE)

    @template.command(name="clear", description="Back to the default teaser.")
    @app_commands.describe(feed="The feed (id, URL or name)")
    @app_commands.autocomplete(feed=feed_autocomplete)
    @admin_only()
    async def template_clear(self, interaction: discord.Interaction, feed: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found = await bot.call(bot.desk.settings.clear_template, feed.strip(), interaction_admin_scope(interaction))
        await interaction.response.send_message(
            render.message_text(
                f"**{render.safe(render.trim(found.display_name, 100))}** posts the default teaser again."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    ping = app_commands.Group(name="ping", description="Roles a feed's posts mention (admins)", parent=feeds)

    @ping.command(name="add", description="Mention a role when this feed posts (optionally only matching articles).")
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
        await interaction.response.send_message(render.message_text(text), ephemeral=True, allowed_mentions=NONE)

    @ping.command(name="remove", description="Stop mentioning a role.")
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
        await interaction.response.send_message(
            render.message_text(
                f"Posts of **{render.safe(render.trim(found.display_name, 100))}** no longer mention {role.mention}."
            ),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @ping.command(name="list", description="The roles a feed's posts mention.")
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
        await interaction.response.send_message(
            render.message_text(f"**{render.safe(render.trim(found.display_name, 100))}**:\n" + "\n".join(lines)),
            ephemeral=True,
            allowed_mentions=NONE,
        )

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
        await interaction.response.send_message(render.message_text(text), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="why", description="Was an article posted, where, or what held it back?")
    @app_commands.describe(article="The article's URL or id")
    @admin_only()
    async def why(self, interaction: discord.Interaction, article: app_commands.Range[str, 1, 2000]) -> None:
        bot = self.bot
        found, entries = await bot.call(bot.desk.settings.why, article.strip(), interaction_admin_scope(interaction))
        await interaction.response.send_message(render.why_text(found, entries), ephemeral=True, allowed_mentions=NONE)

    @feeds.command(name="limits", description="Flood control for a channel: show, or set (0 turns a limit off).")
    @app_commands.describe(
        channel="The channel",
        per_window="At most this many posts…",
        window_minutes="…per this many minutes",
        daily_max="At most this many posts a day",
        max_age_days="Skip articles published longer ago than this",
    )
    @admin_only()
    async def limits(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        per_window: app_commands.Range[int, 0, 1000] | None = None,
        window_minutes: app_commands.Range[int, 0, 10080] | None = None,
        daily_max: app_commands.Range[int, 0, 10000] | None = None,
        max_age_days: app_commands.Range[float, 0, 3650] | None = None,
    ) -> None:
        bot = self.bot
        changed = any(v is not None for v in (per_window, window_minutes, daily_max, max_age_days))
        if changed:
            await bot.call(
                bot.desk.settings.set_limits,
                channel.id,
                per_window=per_window,
                window_minutes=window_minutes,
                daily_max=daily_max,
                max_age_days=max_age_days,
                scope=interaction_admin_scope(interaction),
            )
        limits, held = await bot.call(bot.desk.settings.limits, channel.id)
        text = f"{'Set' if changed else 'Limits of'} {channel.mention}: {limits.describe()}. Held back now: {held}."
        await interaction.response.send_message(render.message_text(text), ephemeral=True, allowed_mentions=NONE)


class DiscoveredFeeds(discord.ui.View):
    """The feeds a web page offers, as a menu; the admin who ran /feeds add picks one."""

    def __init__(self, cog: Feeds, owner_id: int, found, name, channel, backfill: int):
        super().__init__(timeout=300)
        self.cog, self.owner_id, self.found = cog, owner_id, {f.url: f for f in found}
        self.name, self.channel, self.backfill = name, channel, backfill
        self.choose.options = [  # type: ignore[assignment]  # discord.py types the decorated select as Never
            discord.SelectOption(
                label=render.trim(render.one_line(f.title) or f.url, 100),
                description=render.trim(f.url, 100),
                value=f.url[:100],
            )
            for f in found[:25]
            if len(f.url) <= 100
        ]

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id and is_admin(
            interaction.client, interaction.user, interaction.guild, interaction.permissions
        ):
            return True
        await interaction.response.send_message(
            "Only the admin who ran /feeds add can choose.", ephemeral=True, allowed_mentions=NONE
        )
        return False

    @discord.ui.select(placeholder="Choose a feed", min_values=1, max_values=1)
    async def choose(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        chosen = self.found[select.values[0]]
        self.stop()
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.cog.add_found(
            interaction,
            chosen.url,
            self.name,
            self.channel,
            self.backfill,
            f"Chose {render.safe(render.trim(chosen.url, 300))}.",
        )


class Subscriptions(commands.Cog):
    """/subscribe and /unsubscribe: members give themselves (or drop) a role a feed pings, when an
    admin made that ping subscribable. Open to everyone; the role must be one of this server's
    subscribable ping roles (checked in the archive at run time)."""

    def __init__(self, bot):
        self.bot = bot

    async def _role(self, interaction: discord.Interaction, role: discord.Role) -> discord.Role:
        bot = self.bot
        if role.is_default() or not await bot.call(bot.desk.archive.role_subscribable, interaction.guild_id, role.id):
            raise BadQuery(f"{role.name} is not a role you can subscribe to here")
        return role

    @app_commands.command(name="subscribe", description="Get pinged when a feed posts (a role an admin opened).")
    @app_commands.describe(role="The feed's ping role")
    @app_commands.guild_only()
    async def subscribe(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._role(interaction, role)
        problem = handout_problem(role, role.guild.me)  # again now: the role may have changed since
        if problem:
            raise BadQuery(f"{problem}, so I won't hand it out")
        try:
            await _member(interaction).add_roles(role, reason="newsdesk /subscribe")
        except discord.Forbidden:
            raise BadQuery("I can't give that role (I need Manage Roles, above that role)") from None
        await interaction.response.send_message(
            render.message_text(f"Subscribed: you'll be pinged as {role.mention}. `/unsubscribe` to stop."),
            ephemeral=True,
            allowed_mentions=NONE,
        )

    @app_commands.command(name="unsubscribe", description="Stop being pinged by a feed's role.")
    @app_commands.describe(role="The feed's ping role")
    @app_commands.guild_only()
    async def unsubscribe(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._role(interaction, role)
        try:
            await _member(interaction).remove_roles(role, reason="newsdesk /unsubscribe")
        except discord.Forbidden:
            raise BadQuery("I can't take that role (I need Manage Roles, above that role)") from None
        await interaction.response.send_message(
            render.message_text(f"Unsubscribed from {role.mention}."), ephemeral=True, allowed_mentions=NONE
        )


async def setup(bot) -> None:
    await bot.add_cog(Feeds(bot))
    await bot.add_cog(Subscriptions(bot))


def _member(interaction: discord.Interaction) -> discord.Member:
    """The member who used a guild-only command."""
    user = interaction.user
    if not isinstance(user, discord.Member):
        raise BadQuery("that works in a server only")
    return user
