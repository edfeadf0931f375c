"""`newsdesk watch add|list|remove|check` (standing questions from a terminal) and the unanswered
and down-voted questions `newsdesk stats` shows.

A watch added here has no Discord destination: `newsdesk watch check` re-asks the terminal's
watches against the coverage archived since their last check and prints what changed (the bot
checks and posts the watches made in Discord). The commands take the group's Context from
``ctx.obj``."""

from __future__ import annotations

import click

from ..models import QuestionGroup, Watch, WatchChange
from .edges import emit_json, handle_errors


def watch_line(w: Watch) -> str:
    where = (
        f"channel {w.channel_id}" if w.channel_id else f"DMs of {w.user_id}" if w.user_id else "terminal (watch check)"
    )
    server = f" · server {w.guild_id}" if w.guild_id else ""
    return f"#{w.id} {w.question} → {where}{server} · {len(w.answer)} sentence(s), checked {w.checked_at or 'never'}"


def change_text(change: WatchChange) -> str:
    numbers: dict[int, int] = {}
    for _, a in change.new:
        numbers.setdefault(a.id, len(numbers) + 1)
    for a in change.new_sources:
        numbers.setdefault(a.id, len(numbers) + 1)
    lines = [f"#{change.watch.id} {change.watch.question}", "  new in the answer:"]
    lines += [f"    + {s} [{numbers[a.id]}]" for s, a in change.new]
    if change.superseded:
        lines.append("  no longer in it (superseded):")
        lines += [f"    - {s}" for s in change.superseded]
    articles = {a.id: a for _, a in change.new} | {a.id: a for a in change.new_sources}
    lines.append("  new sources:" if change.new_sources else "  sources:")
    for i, n in numbers.items():
        a = articles[i]
        lines.append(f"    [{n}] {a.title} — {a.outlet}, {(a.published or '')[:10]}\n        {a.url}")
    return "\n".join(lines)


def questions_text(groups: list[QuestionGroup]) -> list[str]:
    """The unanswered and down-voted questions by topic, for `newsdesk stats`."""
    if not groups:
        return ["questions: no unanswered or down-voted questions"]
    lines = ["questions the archive fell short on, by topic:"]
    for g in groups:
        lines.append(f"  {g.label} ({len(g.questions)})")
        for q in g.questions:
            how = "unanswered" if q["abstained"] else f"down {q['down']} / up {q['up']}"
            lines.append(f"    - {q['question']} [{how}]")
        for s in g.suggestions:
            lines.append(f"    feed to add: {s['url']} ({s['title']}; {s['how']})")
        if not g.suggestions:
            lines.append(f"    {g.discovery}")
    return lines


@click.group("watch")
def watch():
    """Standing questions: re-asked after each ingest, the changes printed by `watch check`."""


@watch.command("add")
@click.argument("question")
@click.pass_obj
@handle_errors
def watch_add(c, question):
    """Watch QUESTION: its answer now is kept; `watch check` prints when new coverage changes it."""
    found, answer = c.desk.watches.add(question)
    click.echo(f"watching #{found.id}: {found.question}")
    click.echo(f"  answer now: {answer.text}")


@watch.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handle_errors
def watch_list(c, as_json):
    """Every watch (the terminal's and the servers')."""
    found = c.desk.watches.list_watches()
    if as_json:
        emit_json([w.to_dict() for w in found])
        return
    for w in found:
        click.echo(watch_line(w))
    if not found:
        click.echo("no watches")


@watch.command("remove")
@click.argument("watch_id")
@click.pass_obj
@handle_errors
def watch_remove(c, watch_id):
    """Stop watch WATCH_ID."""
    removed = c.desk.watches.remove(watch_id)
    click.echo(f"removed #{removed.id}: {removed.question}")


@watch.command("check")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per change.")
@click.pass_obj
@handle_errors
def watch_check(c, as_json):
    """Re-ask the terminal's watches against the coverage archived since their last check; print
    each whose cited answer changed (each change once, also across processes)."""
    changes = c.desk.watches.check(False)
    for change in changes:
        if as_json:
            emit_json(change.to_dict())
        else:
            click.echo(change_text(change))
    if not changes and not as_json:
        click.echo("no watched answer changed")


COMMANDS = [watch]
