"""Messages for digests, timelines and story comparison, within Discord's limits, escaped and
never pinging (built on :mod:`bot.render`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from index.models import Article, Digest, DigestSchedule, StoryComparison, Timeline

from ... import render
from ...render import COLOUR, DESCRIPTION_LIMIT, FIELD_VALUE_LIMIT, fit_lines, link, one_line, safe, short_date, trim

MAX_LINKS = 4  # links shown per digest story


def _day(moment: datetime) -> str:
    return moment.strftime("%d %b %Y").lstrip("0")


def _span(since: datetime, until: datetime) -> str:
    if since.date() == until.date() or (until - since).total_seconds() <= 86400:
        return f"{_day(since)} {since:%H:%M} – {_day(until)} {until:%H:%M} UTC"
    return f"{_day(since)} – {_day(until)}"


def outlet_link(article: Article) -> str:
    target = render.safe_url(article.url)
    name = safe(trim(one_line(article.outlet) or "source", 40))
    return f"[{name}]({target})" if target else name


def digest_embed(digest: Digest, title: str | None = None) -> discord.Embed:
    """The period's stories, most widely covered first: headline linked, extract, coverage and links."""
    heading = title or ("Digest" + (f": {one_line(digest.topic)}" if digest.topic else ""))
    embed = discord.Embed(title=trim(f"{heading} · {_span(digest.since, digest.until)}", 250), colour=COLOUR)
    blocks = []
    for n, story in enumerate(digest.stories, 1):
        outlets = story.outlets
        links = [outlet_link(a) for a in story.articles[:MAX_LINKS]]
        if len(story.articles) > MAX_LINKS:
            links.append(f"+{len(story.articles) - MAX_LINKS} more")
        count = len(story.articles)
        coverage = f"{len(outlets)} outlet{'s' * (len(outlets) != 1)}, {count} article{'s' * (count != 1)}"
        block = f"**{n}.** {link(story.headline.title, story.headline.url, 120)}"
        if story.extract:
            block += f"\n{safe(trim(one_line(story.extract), 320))}"
        block += f"\n*{coverage}:* " + " · ".join(links)
        blocks.append(block)
    embed.description = fit_lines(blocks, DESCRIPTION_LIMIT, sep="\n\n") if blocks else "No stories in this period."
    embed.set_footer(text=f"Ranked by how many outlets covered each story · {digest.articles} articles in the period")
    return render.finalize(embed)


def schedules_text(schedules: Sequence[DigestSchedule]) -> str:
    if not schedules:
        return "No digests are scheduled in this server. Admins: `/digest schedule`."
    lines = []
    for s in schedules:
        line = f"`#{s.id}` <#{s.channel_id}> — {s.when}"
        if s.topic:
            line += f" — topic: {safe(trim(one_line(s.topic), 80))}"
        if s.last_key:
            line += f" — last: {s.last_key} ({s.last_state})"
        lines.append(line)
    return render.message_text(fit_lines(lines, 1900))


def timeline_text(timeline: Timeline) -> str:
    """What goes with the chart: the span and counts, then the dated, cited chronology."""
    head = (
        f"**Timeline: {safe(trim(one_line(timeline.topic), 100))}** — {timeline.total} articles, per "
        f"{timeline.bucket}, {_day(timeline.since)} – {_day(timeline.until)}"
    )
    if timeline.counts:
        by_outlet = ", ".join(f"{safe(trim(o, 40))} {sum(c)}" for o, c in list(timeline.counts.items())[:6])
        head += f"\nBy outlet: {by_outlet}"
    peaks = {a.id: (b, n) for b, n, a in timeline.peaks}
    lines = []
    for a in timeline.chronology:
        target = render.safe_url(a.url)
        title = safe(trim(one_line(a.title) or "(untitled)", 110))
        cited = f"[{title}](<{target}>)" if target else title
        line = f"• **{short_date(a.published)}** — {safe(trim(a.outlet, 40))}: {cited}"
        if a.id in peaks:
            bucket, n = peaks[a.id]
            line += f" *(peak: {n} articles {timeline.bucket_label(bucket)})*"
        lines.append(line)
    if not lines:
        return render.message_text(head + "\nNo archived article mentions every word of that topic in this span.")
    return render.message_text(head + "\n\n**Chronology**\n" + fit_lines(lines, 1900 - len(head)))


def comparison_embed(comparison: StoryComparison) -> discord.Embed:
    first = comparison.first
    embed = discord.Embed(title=trim("Story: " + safe(one_line(first.title) or "(untitled)"), 250), colour=COLOUR)
    lines = [
        f"• **{short_date(a.published)}** — {safe(trim(a.outlet, 40))}: {link(a.title, a.url, 110)}"
        for a in comparison.articles
    ]
    outlets = comparison.outlets
    embed.description = (
        f"**First reported by {safe(trim(first.outlet, 60))}** on {short_date(first.published)}: "
        f"{link(first.title, first.url, 150)}\n\n"
        f"**Carried by {len(outlets)} outlet{'s' * (len(outlets) != 1)}**\n" + fit_lines(lines, 2400)
    )
    for unit, claims in comparison.disagreements[:6]:
        quotes = [
            f"**{safe(c.text)}** — {safe(trim(c.article.outlet, 40))}, {short_date(c.article.published)}\n"
            f"> {safe(trim(one_line(c.sentence), 260))}"
            for c in claims
        ]
        embed.add_field(
            name=trim(f"Figures differ: {one_line(unit)}", 250),
            value=fit_lines(quotes, FIELD_VALUE_LIMIT),
            inline=False,
        )
    if not comparison.disagreements:
        note = "Only one outlet carried it." if len(outlets) < 2 else "No figure differs between the outlets' articles."
        embed.add_field(name="Figures", value=note, inline=False)
    return render.finalize(embed)
