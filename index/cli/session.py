"""`newsdesk chat`: a terminal session over the same services as the bot.

On an empty archive it says so and walks the user through filling it: `feeds add URL`,
`feeds import FILE_OR_URL`, then `ingest` (with the same progress bar as `newsdesk ingest`).
"""

from __future__ import annotations

import sys

import click

from ..errors import NewsdeskError
from .plain import DraftPrinter, render_answer, render_hits, render_report
from .progress import progress_printer

HELP = """Commands:
  <question>              ask (a short follow-up keeps the previous question as context)
  ask <question>          ask a fresh question
  search <query>          matching articles
  latest [topic]          newest coverage
  article <url or id>     one article
  sources                 outlets and feeds
  feeds, feeds list       the feeds and how their last fetch went
  feeds add <url>         add a feed (RSS, Atom or JSON Feed)
  feeds import <file|url> add the feeds of an OPML list
  ingest                  fetch the feeds, archive and index new articles
  help, quit"""

EMPTY_NO_FEEDS = (
    "The archive is empty: there is nothing to answer from yet. Add a feed with "
    "`feeds add URL` (or `feeds import FILE_OR_URL` for an OPML list), then type `ingest`."
)
EMPTY_WITH_FEEDS = "The archive has {feeds} feed(s) but no articles yet: type `ingest` to fetch them."


def _empty_hint(desk) -> str | None:
    counts = desk.archive.counts()
    if counts["articles"]:
        return None
    return EMPTY_WITH_FEEDS.format(feeds=counts["feeds"]) if counts["feeds"] else EMPTY_NO_FEEDS


def _feed_lines(desk) -> str:
    feeds = desk.archive.list_feeds()
    if not feeds:
        return "No feeds yet. Add one with `feeds add URL`."
    lines = []
    for f in feeds:
        state = f.status or "not fetched yet"
        if f.status == "error" and f.last_error:
            state = f"error: {f.last_error}"
        elif f.warning:
            state = f"warning: {f.warning}"
        lines.append(f"[{f.id}] {f.display_name} — {f.articles} articles, {state}\n    {f.url}")
    return "\n".join(lines)


def _feeds(desk, rest: str, output) -> None:
    sub, _, arg = rest.strip().partition(" ")
    sub, arg = sub.lower(), arg.strip()
    if sub in ("", "list"):
        output(_feed_lines(desk))
    elif sub == "add":
        if not arg:
            output("Give the feed's address: feeds add https://example.com/rss.xml")
            return
        feed, created = desk.feeds.add(arg)
        if created:
            output(f"Added feed [{feed.id}] {feed.url}. Type `ingest` to fetch it.")
        else:
            output(f"Feed [{feed.id}] {feed.url} was already in the list.")
    elif sub == "import":
        if not arg:
            output("Give an OPML file or URL: feeds import subscriptions.opml")
            return
        result = desk.feeds.import_opml(desk.feeds.read_opml(arg))
        output(
            f"Imported {len(result['added'])} feeds ({len(result['existing'])} already present, "
            f"{len(result['refused'])} refused)." + (" Type `ingest` to fetch them." if result["added"] else "")
        )
        for url, why in result["refused"].items():
            output(f"  refused {url}: {why}")
    else:
        output("feeds: use `feeds`, `feeds add URL` or `feeds import FILE_OR_URL`.")


def _ingest(desk, output, show_progress: bool) -> None:
    if not desk.archive.list_feeds():
        output("There are no feeds to ingest. Add one first: feeds add URL")
        return
    bar, progress = progress_printer(show_progress, say=output)
    if bar:
        with bar:
            report = desk.indexing.ingest(progress=progress, complete=True)
    else:
        report = desk.indexing.ingest(progress=progress, complete=True)
    summary, _errors = render_report(report)
    output(summary)
    for feed in desk.archive.list_feeds():
        if feed.status == "error":
            output(f"Could not read {feed.url}: {feed.last_error or 'unknown error'}.")
        elif feed.articles == 0:
            output(f"{feed.url} answered but has no articles (the feed is empty).")
    if report.index_error:
        output(f"The articles are archived but not indexed: {report.index_error}")
    if desk.archive.counts()["articles"]:
        output("Ask a question about these articles.")
    else:
        output("The archive is still empty: check the feed addresses with `feeds`.")


def _write_on(text: str) -> None:
    click.echo(text, nl=False)


def run_chat(desk, input_fn=input, output=click.echo, *, show_progress: bool | None = None, stream=None) -> None:
    """The session. ``show_progress``: draw the ingest progress bar (default: when stderr is a terminal).
    ``stream(piece)``: where the draft of a streamed answer is written as it comes (default: the
    terminal, when stdout is one and the LLM answerer is configured); the checked answer follows."""
    if show_progress is None:
        show_progress = sys.stderr.isatty()
    if stream is None and output is click.echo and sys.stdout.isatty():
        stream = _write_on
    output("newsdesk — ask about the news in the archive. Type 'help' for commands, 'quit' to leave.")
    hint = _empty_hint(desk)
    if hint:
        output(hint)
    previous: str | None = None
    while True:
        try:
            line = input_fn("newsdesk> ").strip()
        except (EOFError, KeyboardInterrupt):
            output("")
            return
        if not line:
            continue
        verb, _, rest = line.partition(" ")
        verb = verb.lower()
        try:
            if verb in ("quit", "exit", "q"):
                return
            if verb in ("help", "?"):
                output(HELP)
            elif verb == "feeds":
                _feeds(desk, rest, output)
            elif verb == "ingest":
                _ingest(desk, output, show_progress)
            elif verb == "search":
                result = desk.retriever.search(rest)
                output(render_hits(result.hits, result.notices))
            elif verb == "latest":
                output(render_hits(desk.reading.latest(rest or None), []))
            elif verb == "article":
                a = desk.reading.article(rest)
                output(f"{a.title}\n{a.outlet} · {a.published}\n{a.url}\n\n{a.text[:1500]}")
            elif verb == "sources":
                for o in desk.reading.sources()["outlets"]:
                    output(f"{o['outlet']}: {o['articles']} articles")
            else:
                question = rest if verb == "ask" else line
                hint = _empty_hint(desk)
                if hint:
                    output(hint)
                    continue
                context = previous if verb != "ask" and previous and len(question.split()) <= 8 else None
                if stream is not None and desk.reading.streams:
                    printer = DraftPrinter(stream)
                    answer = desk.reading.ask(question, context=context, on_draft=printer)
                    if printer.written:
                        stream("\n\n")
                else:
                    answer = desk.reading.ask(question, context=context)
                output(render_answer(answer))
                previous = question if context is None else f"{context} {question}"
        except NewsdeskError as exc:
            output(f"error: {exc}")
