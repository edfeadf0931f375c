"""`newsdesk digest`, `newsdesk timeline`, `newsdesk compare`: the terminal's side of /digest,
/timeline and /compare, listed in ``COMMANDS`` for the `newsdesk` group; the context object is
the group's (its ``desk`` is the Newsdesk), so this module needs nothing of :mod:`index.cli.commands`
(no import cycle)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import NewsdeskError
from ..following.compare import format_value
from ..models import Digest, StoryComparison, Timeline
from .edges import emit_json, handle_errors


def _day(value: str | None) -> str:
    return (value or "")[:10] or "undated"


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def digest_text(digest: Digest) -> str:
    head = f"Digest {digest.since:%Y-%m-%d %H:%M} – {digest.until:%Y-%m-%d %H:%M} UTC"
    if digest.topic:
        head += f" on {digest.topic!r}"
    lines = [head + f" ({digest.articles} articles)", ""]
    if not digest.stories:
        lines.append("No stories in this period.")
    for n, story in enumerate(digest.stories, 1):
        outlets = story.outlets
        lines.append(
            f"{n}. {story.headline.title}  [{_n(len(outlets), 'outlet')}, {_n(len(story.articles), 'article')}]"
        )
        if story.extract:
            lines.append(f"   {story.extract}")
        for a in story.articles:
            lines.append(f"   - {a.outlet}, {_day(a.published)}: {a.url}")
        lines.append("")
    return "\n".join(lines).rstrip()


def timeline_text(timeline: Timeline) -> str:
    lines = [
        f"Coverage of {timeline.topic!r} per {timeline.bucket}, {timeline.since:%Y-%m-%d} – "
        f"{timeline.until:%Y-%m-%d}: {timeline.total} articles"
    ]
    for outlet, counts in timeline.counts.items():
        lines.append(f"  {outlet}: {sum(counts)}")
    if timeline.peaks:
        lines.append("Peaks:")
        for bucket, n, a in timeline.peaks:
            lines.append(f"  {n} articles {timeline.bucket_label(bucket)} — {a.title}")
    if timeline.chronology:
        lines.append("Chronology:")
        for a in timeline.chronology:
            lines.append(f"  {_day(a.published)}  {a.outlet}: {a.title}\n              {a.url}")
    return "\n".join(lines)


def comparison_text(comparison: StoryComparison) -> str:
    first = comparison.first
    lines = [
        f"Story: {first.title}",
        f"First reported by {first.outlet} on {_day(first.published)}: {first.url}",
        f"Carried by {_n(len(comparison.outlets), 'outlet')}:",
    ]
    for a in comparison.articles:
        lines.append(f"  {_day(a.published)}  {a.outlet}: {a.title}\n              {a.url}")
    if comparison.disagreements:
        lines.append("Figures that differ:")
        for unit, claims in comparison.disagreements:
            lines.append(f"  {unit}: " + " vs ".join(f"{format_value(c.value)} ({c.article.outlet})" for c in claims))
            for c in claims:
                lines.append(f"    {c.article.outlet}: “{' '.join(c.sentence.split())}”")
    elif len(comparison.outlets) < 2:
        lines.append("Only one outlet carried it.")
    else:
        lines.append("No figure differs between the outlets' articles.")
    return "\n".join(lines)


@click.command("digest")
@click.option("--since", default=None, help="From this date (default: one period before --until).")
@click.option("--until", default=None, help="Up to this date (default: now).")
@click.option("--period", default=None, help="daily (default) or weekly, when --since is not given.")
@click.option("--topic", default=None, help="Only stories on this topic (hybrid retrieval, as `ask`).")
@click.option("--limit", default=8, show_default=True, help="Stories at most.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handle_errors
def digest(c, since, until, period, topic, limit, as_json):
    """The period's top stories, ranked by how many outlets covered them, with links."""
    result = c.desk.digests.make(since=since, until=until, period=period, topic=topic, limit=limit)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(digest_text(result))


@click.command("timeline")
@click.argument("topic")
@click.option("--since", default=None)
@click.option("--until", default=None)
@click.option("--as-of", default=None, help="What was known then: nothing published or archived later counts.")
@click.option("--out", "out", default=None, type=click.Path(dir_okay=False), help="Write the chart (PNG) here.")
@click.option("--json", "as_json", is_flag=True, help="The counts per outlet and bucket as JSON.")
@click.pass_obj
@handle_errors
def timeline(c, topic, since, until, as_of, out, as_json):
    """Coverage of TOPIC over time per outlet (articles holding every word of it), peaks, chronology."""
    result = c.desk.stories.timeline(topic, since=since, until=until, as_of=as_of, render=bool(out))
    if out:
        try:
            Path(out).write_bytes(result.png)
        except OSError as exc:
            raise NewsdeskError(f"cannot write {out}: {exc.strerror}") from None
    if as_json:
        emit_json({**result.to_dict(), "chart": out})
        return
    click.echo(timeline_text(result))
    if out:
        click.echo(f"chart: {out}")


@click.command("compare")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@handle_errors
def compare(c, query, as_json):
    """One story across outlets (a query, or an article URL or id): who was first, whose figures differ."""
    result = c.desk.stories.compare(query)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(comparison_text(result))


COMMANDS = [digest, timeline, compare]
