"""`newsdesk follow add|list|remove` and `newsdesk alerts`: topic alerts from a terminal.

A follow made here without ``--channel``/``--user`` has no target: ``newsdesk alerts`` shows what it
(and every other follow) would receive. The commands take the group's Context from ``ctx.obj``."""

from __future__ import annotations

import json

import click

from ..models import Alert, Follow
from .edges import handle_errors


def follow_line(follow: Follow) -> str:
    target = (
        f"channel {follow.channel_id}"
        if follow.kind == "channel"
        else f"DM to {follow.user_id}"
        if follow.kind == "dm"
        else "no target (newsdesk alerts)"
    )
    where = f"server {follow.guild_id}" if follow.guild_id is not None else "global feeds"
    paused = f" [paused: {follow.paused}]" if follow.paused else ""
    return f"#{follow.id}  {follow.topic!r}  → {target}, {where}{paused}"


def alert_lines(alert: Alert) -> list[str]:
    a = alert.article
    lines = [
        f"[#{alert.follow.id} {alert.follow.topic}] {a.title or '(untitled)'} — {a.outlet}, "
        f"{(a.published or '')[:10]}  (score {alert.score:.3f})",
        f"    {a.url}",
    ]
    if alert.also:
        lines.append("    also reported by: " + ", ".join(f"{o.outlet} ({o.url})" for o in alert.also))
    return lines


@click.group("follow")
def follow():
    """Follow topics: each new relevant article is alerted once (see `newsdesk alerts`)."""


@follow.command("add")
@click.argument("topic")
@click.option("--guild", "guild_id", type=int, default=None, help="The server whose feeds it sees (and owns it).")
@click.option("--channel", "channel_id", type=int, default=None, help="Deliver to this channel (needs --guild).")
@click.option("--user", "user_id", type=int, default=None, help="Deliver to this member by DM.")
@click.pass_obj
@handle_errors
def follow_add(c, topic, guild_id, channel_id, user_id):
    """Follow TOPIC (from the next article that arrives)."""
    if channel_id is not None and guild_id is None:
        raise click.UsageError("--channel needs --guild (the server the channel is in)")
    if channel_id is not None and user_id is not None:
        raise click.UsageError("give --channel or --user, not both")
    made = c.desk.following.add(topic, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
    click.echo(f"following: {follow_line(made)}")


@follow.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handle_errors
def follow_list(c, as_json):
    """Every follow."""
    follows = c.desk.following.list_follows(everything=True)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in follows], ensure_ascii=False))
        return
    if not follows:
        click.echo("no follows yet (newsdesk follow add TOPIC)")
    for f in follows:
        click.echo(follow_line(f))


@follow.command("remove")
@click.argument("follow_id")
@click.pass_obj
@handle_errors
def follow_remove(c, follow_id):
    """Stop following (by id, see `newsdesk follow list`)."""
    removed = c.desk.following.remove(follow_id, everything=True)
    click.echo(f"removed: {follow_line(removed)}")


@click.command("alerts")
@click.option("--since", default=None, help="Articles published since this date (default: those not looked at yet).")
@click.option("--threshold", type=float, default=None, help="Another relevance threshold, to compare.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handle_errors
def alerts(c, since, threshold, as_json):
    """What the follows would receive (nothing is sent or claimed)."""
    found = c.desk.following.preview(since=since, threshold=threshold)
    if as_json:
        click.echo(json.dumps([a.to_dict() for a in found], ensure_ascii=False))
        return
    if not found:
        click.echo("no alerts" + (f" since {since}" if since else " (no new relevant articles)"))
    for alert in found:
        click.echo("\n".join(alert_lines(alert)))


COMMANDS = [follow, alerts]
