"""`newsdesk feeds`: the feed list and each feed's delivery settings (filters, templates, pings,
options, a channel's limits, why an article was or was not posted), OPML in and out."""

from __future__ import annotations

import click

from ..models import FILTER_FIELDS
from .context import Context, pass_ctx
from .edges import emit_json, handle_errors


# -- feeds ----------------------------------------------------------------------
@click.group()
def feeds():
    """Manage the feed list."""


def _feed_dict(f) -> dict:
    return {
        "id": f.id,
        "url": f.url,
        "name": f.display_name,
        "articles": f.articles,
        "status": f.status,
        "last_error": f.last_error,
        "warning": f.warning,
        "last_fetch": f.last_fetch_at,
        "guild_id": f.guild_id,
        "channel_id": f.channel_id,
    }


@feeds.command("add")
@click.argument("url")
@click.option("--name", default="", help="Display name.")
@pass_ctx
@handle_errors
def feeds_add(c: Context, url, name):
    """Add a feed by URL."""
    feed, created = c.desk.feeds.add(url, name)
    click.echo(f"{'added' if created else 'already present'}: [{feed.id}] {feed.url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def feeds_list(c: Context, as_json):
    """List feeds with status and last error."""
    rows = [_feed_dict(f) for f in c.desk.archive.list_feeds()]
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "articles", "status", "last error or warning")
    for r in rows:
        note = r["last_error"] or (f"warning: {r['warning']}" if r["warning"] else "")
        table.add_row(str(r["id"]), r["name"], str(r["articles"]), r["status"], note[:120])
    Console().print(table)


@feeds.command("remove")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_remove(c: Context, feed):
    """Remove a feed (by id, URL or name) and the articles only it carried."""
    removed, articles = c.desk.feeds.remove(feed)
    click.echo(f"removed [{removed.id}] {removed.url} ({articles} articles)")


# -- feeds: delivery (filters, limits, the delivery log) --------------------------
@feeds.group("filter")
def feeds_filter():
    """Which new articles a feed auto-posts: include/exclude rules."""


@feeds_filter.command("add")
@click.argument("feed")
@click.argument("action", type=click.Choice(["include", "exclude"]))
@click.argument("pattern")
@click.option("--field", type=click.Choice(FILTER_FIELDS), default="any", show_default=True)
@click.option("--regex", is_flag=True, help="PATTERN is a regular expression (else comma-separated words).")
@click.option("--negate", is_flag=True, help="Match articles WITHOUT the pattern.")
@click.option("--case-sensitive", is_flag=True)
@pass_ctx
@handle_errors
def feeds_filter_add(c: Context, feed, action, pattern, field, regex, negate, case_sensitive):
    """Add a filter to FEED."""
    rule = c.desk.settings.add_filter(
        feed, action, field, pattern, regex=regex, negate=negate, case_sensitive=case_sensitive
    )
    click.echo(f"added {rule.describe()}")


@feeds_filter.command("list")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_filter_list(c: Context, feed):
    """List FEED's filters."""
    _, rules = c.desk.settings.filters(feed)
    for rule in rules:
        click.echo(rule.describe())
    if not rules:
        click.echo("no filters: every new article is posted")


@feeds_filter.command("remove")
@click.argument("feed")
@click.argument("filter_id")
@pass_ctx
@handle_errors
def feeds_filter_remove(c: Context, feed, filter_id):
    """Remove one of FEED's filters by number (or `all`)."""
    found = c.desk.settings.remove_filter(feed, filter_id)
    click.echo(f"removed filter {filter_id} of [{found.id}] {found.display_name}")


@feeds_filter.command("test")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_filter_test(c: Context, feed):
    """Which of FEED's last 20 articles its filters pass, and why the others do not."""
    _, results = c.desk.settings.test_filters(feed)
    for article, passes, why in results:
        click.echo(f"{'pass' if passes else 'FAIL'} [{article.id}] {article.title}" + ("" if passes else f" — {why}"))
    click.echo(f"{sum(1 for _, ok, _ in results if ok)} of {len(results)} would be posted")


@feeds.group("template")
def feeds_template():
    """How a feed's auto-posts look: {title} {url} {outlet} {published[:fmt]} {summary} {author} {categories}."""


@feeds_template.command("set")
@click.argument("feed")
@click.argument("template")
@click.option("--style", type=click.Choice(["embed", "text"]), default="embed", show_default=True)
@click.option("--timezone", "timezone_name", default="UTC", show_default=True, help="Time zone of {published}.")
@pass_ctx
@handle_errors
def feeds_template_set(c: Context, feed, template, style, timezone_name):
    """Set FEED's post template (validated: an unknown placeholder is an error)."""
    found, _ = c.desk.settings.set_template(feed, template, style=style, timezone_name=timezone_name)
    click.echo(f"template set for [{found.id}] {found.display_name} ({style}, {timezone_name})")


@feeds_template.command("show")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_template_show(c: Context, feed):
    """Show FEED's post template."""
    found, template = c.desk.settings.template(feed)
    click.echo("default teaser" if template is None else f"{template.style} {template.timezone}: {template.body}")


@feeds_template.command("clear")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_template_clear(c: Context, feed):
    """Back to the default teaser."""
    found = c.desk.settings.clear_template(feed)
    click.echo(f"[{found.id}] {found.display_name} posts the default teaser")


@feeds_template.command("preview")
@click.argument("feed")
@click.argument("template", required=False)
@click.option("--style", type=click.Choice(["embed", "text"]), default=None)
@click.option("--timezone", "timezone_name", default=None)
@pass_ctx
@handle_errors
def feeds_template_preview(c: Context, feed, template, style, timezone_name):
    """Render FEED's template (or TEMPLATE, not saved) with its newest article."""
    _, _, _, text = c.desk.settings.preview_template(feed, template, style=style, timezone_name=timezone_name)
    click.echo(text)


@feeds.command("options")
@click.argument("feed")
@click.option("--thread/--no-thread", default=None, help="Open a thread on each post.")
@click.option(
    "--updates",
    type=click.Choice(["ignore", "edit", "repost"]),
    default=None,
    help="What a re-published, changed article does to its post.",
)
@click.option("--forum-title", default=None, help="Forum posts: a title template ('' resets).")
@click.option("--forum-tags", default=None, help="Forum posts: 'Tag=words; Other=words'.")
@pass_ctx
@handle_errors
def feeds_options(c: Context, feed, thread, updates, forum_title, forum_tags):
    """Show or set FEED's delivery options."""
    found, opts = c.desk.settings.set_options(
        feed, thread=thread, updates=updates, forum_title=forum_title, forum_tags=forum_tags
    )
    tags = "; ".join(f"{n}={w}" for n, w in opts["forum_tags"]) or "none"
    click.echo(
        f"[{found.id}] thread {'on' if opts['thread'] else 'off'}; updates {opts['updates']}; "
        f"forum title {opts['forum_title'] or '{title}'}; forum tags {tags}"
    )


@feeds.command("discover")
@click.argument("url")
@pass_ctx
@handle_errors
def feeds_discover(c: Context, url):
    """The feeds behind URL (a site, a YouTube channel, a subreddit, a Mastodon profile)."""
    found = c.desk.feeds.discover(url)
    for f in found:
        click.echo(f"{f.url}\t{f.title}\t({f.how})")
    if not found:
        click.echo("no feed found")


@feeds.group("ping")
def feeds_ping():
    """Roles a feed's auto-posts mention (opt-in)."""


@feeds_ping.command("add")
@click.argument("feed")
@click.argument("role_id", type=int)
@click.option("--pattern", default=None, help="Only for articles matching these words (or --regex).")
@click.option("--field", type=click.Choice(FILTER_FIELDS), default="any")
@click.option("--regex", is_flag=True)
@click.option("--subscribable", is_flag=True, help="Members may give themselves the role with /subscribe.")
@pass_ctx
@handle_errors
def feeds_ping_add(c: Context, feed, role_id, pattern, field, regex, subscribable):
    """Mention ROLE_ID when FEED posts."""
    found = c.desk.settings.add_ping(
        feed, role_id, pattern=pattern, field=field, regex=regex, subscribable=subscribable
    )
    click.echo(f"[{found.id}] pings role {role_id}" + (f" when {field} matches {pattern!r}" if pattern else ""))


@feeds_ping.command("list")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_ping_list(c: Context, feed):
    """The roles FEED's posts mention."""
    _, pings = c.desk.settings.pings(feed)
    for p in pings:
        click.echo(
            f"role {p['role_id']}"
            + (f" when {p['field']} matches {p['pattern']!r}" if p["pattern"] else "")
            + (" (subscribable)" if p["subscribable"] else "")
        )
    if not pings:
        click.echo("no role is mentioned")


@feeds_ping.command("remove")
@click.argument("feed")
@click.argument("role_id", type=int)
@pass_ctx
@handle_errors
def feeds_ping_remove(c: Context, feed, role_id):
    """Stop mentioning ROLE_ID."""
    found = c.desk.settings.remove_ping(feed, role_id)
    click.echo(f"[{found.id}] no longer pings role {role_id}")


@feeds.command("why")
@click.argument("article")
@pass_ctx
@handle_errors
def feeds_why(c: Context, article):
    """Whether ARTICLE (URL or id) was auto-posted, where, or what held it back."""
    found, entries = c.desk.settings.why(article)
    click.echo(f"[{found.id}] {found.title}")
    for e in entries:
        feed = e.get("feed")
        click.echo(
            f"  channel {e.get('channel_id') or '-'} via {feed.display_name if feed else 'a removed feed'}: "
            f"{e['state']} — {e['reason']}" + (f" (message {e['message_id']})" if e.get("message_id") else "")
        )
    if not entries:
        click.echo("  no feed carrying it posts to a channel")


@feeds.command("limits")
@click.argument("channel_id", type=int)
@click.option("--per-window", type=int, default=None, help="At most this many posts…")
@click.option("--window-minutes", type=int, default=None, help="…per this many minutes.")
@click.option("--daily-max", type=int, default=None, help="At most this many posts a day.")
@click.option("--max-age-days", type=float, default=None, help="Skip articles published longer ago.")
@click.option(
    "--summarise-over",
    type=int,
    default=None,
    help="Past this many new articles in one pass, one summary line instead (default: pace them).",
)
@pass_ctx
@handle_errors
def feeds_limits(c: Context, channel_id, per_window, window_minutes, daily_max, max_age_days, summarise_over):
    """Show or set CHANNEL_ID's flood control (0 turns a limit off)."""
    if any(v is not None for v in (per_window, window_minutes, daily_max, max_age_days, summarise_over)):
        c.desk.settings.set_limits(
            channel_id,
            per_window=per_window,
            window_minutes=window_minutes,
            daily_max=daily_max,
            max_age_days=max_age_days,
            summarise_over=summarise_over,
        )
    limits, held = c.desk.settings.limits(channel_id)
    click.echo(f"channel {channel_id}: {limits.describe()}; held back now: {held}")


@feeds.command("import")
@click.argument("source")
@pass_ctx
@handle_errors
def feeds_import(c: Context, source):
    """Import feeds from an OPML file or URL."""
    content = c.desk.feeds.read_opml(source)
    result = c.desk.feeds.import_opml(content)
    click.echo(
        f"imported {len(result['added'])} feeds ({len(result['existing'])} already present, "
        f"{len(result['refused'])} refused)"
    )
    for url, why in result["refused"].items():
        click.echo(f"  refused {url}: {why}", err=True)


@feeds.command("export")
@pass_ctx
@handle_errors
def feeds_export(c: Context):
    """Print the feed list as OPML."""
    click.echo(c.desk.feeds.export_opml(), nl=False)


COMMANDS = [feeds]
