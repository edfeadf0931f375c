"""The `newsdesk` command: a thin shell over index.service.Newsdesk."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from ..config import Config, discord_token, load_config
from ..errors import ConfigError, NewsdeskError
from ..evaluate import evaluate, format_report
from ..logsafety import install_redaction
from ..models import FILTER_FIELDS
from ..service import Newsdesk
from ..worker import run_worker
from . import following
from .edges import emit_json, handle_errors
from .plain import DraftPrinter, render_answer, render_hits, render_report
from .progress import progress_printer
from .session import run_chat
from .watches import questions_text
from .watches import watch as watch_group

log = logging.getLogger(__name__)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "chromadb", "sentence_transformers", "trafilatura", "htmldate", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))

    install_redaction()


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config: Config | None = None
        self._desk = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def desk(self):
        if self._desk is None:
            self._desk = Newsdesk(self.config)
        return self._desk


pass_ctx = click.make_pass_decorator(Context)


@click.group(invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: ./config.toml when present, else defaults).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(package_name="newsdesk")
@click.pass_context
def cli(ctx, config_path, verbose):
    """newsdesk: answers with cited sources over an archive of news feeds."""
    _setup_logging(verbose)
    ctx.obj = Context(config_path)
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


# -- feeds ----------------------------------------------------------------------
@cli.group()
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
    feed, created = c.desk.add_feed(url, name)
    click.echo(f"{'added' if created else 'already present'}: [{feed.id}] {feed.url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def feeds_list(c: Context, as_json):
    """List feeds with status and last error."""
    rows = [_feed_dict(f) for f in c.desk.list_feeds()]
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "articles", "status", "last error")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], str(r["articles"]), r["status"], (r["last_error"] or "")[:80])
    Console().print(table)


@feeds.command("remove")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_remove(c: Context, feed):
    """Remove a feed (by id, URL or name) and the articles only it carried."""
    removed, articles = c.desk.remove_feed(feed)
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
    rule = c.desk.add_filter(feed, action, field, pattern, regex=regex, negate=negate, case_sensitive=case_sensitive)
    click.echo(f"added {rule.describe()}")


@feeds_filter.command("list")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_filter_list(c: Context, feed):
    """List FEED's filters."""
    _, rules = c.desk.list_filters(feed)
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
    found = c.desk.remove_filter(feed, filter_id)
    click.echo(f"removed filter {filter_id} of [{found.id}] {found.display_name}")


@feeds_filter.command("test")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_filter_test(c: Context, feed):
    """Which of FEED's last 20 articles its filters pass, and why the others do not."""
    _, results = c.desk.test_filters(feed)
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
    found, _ = c.desk.set_template(feed, template, style=style, timezone_name=timezone_name)
    click.echo(f"template set for [{found.id}] {found.display_name} ({style}, {timezone_name})")


@feeds_template.command("show")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_template_show(c: Context, feed):
    """Show FEED's post template."""
    found, template = c.desk.get_template(feed)
    click.echo("default teaser" if template is None else f"{template.style} {template.timezone}: {template.body}")


@feeds_template.command("clear")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_template_clear(c: Context, feed):
    """Back to the default teaser."""
    found = c.desk.clear_template(feed)
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
    _, _, _, text = c.desk.preview_template(feed, template, style=style, timezone_name=timezone_name)
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
    found, opts = c.desk.set_feed_options(
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
    found = c.desk.discover_feeds(url)
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
    found = c.desk.add_ping(feed, role_id, pattern=pattern, field=field, regex=regex, subscribable=subscribable)
    click.echo(f"[{found.id}] pings role {role_id}" + (f" when {field} matches {pattern!r}" if pattern else ""))


@feeds_ping.command("list")
@click.argument("feed")
@pass_ctx
@handle_errors
def feeds_ping_list(c: Context, feed):
    """The roles FEED's posts mention."""
    _, pings = c.desk.list_pings(feed)
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
    found = c.desk.remove_ping(feed, role_id)
    click.echo(f"[{found.id}] no longer pings role {role_id}")


@feeds.command("why")
@click.argument("article")
@pass_ctx
@handle_errors
def feeds_why(c: Context, article):
    """Whether ARTICLE (URL or id) was auto-posted, where, or what held it back."""
    found, entries = c.desk.why(article)
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
        c.desk.set_limits(
            channel_id,
            per_window=per_window,
            window_minutes=window_minutes,
            daily_max=daily_max,
            max_age_days=max_age_days,
            summarise_over=summarise_over,
        )
    limits, held = c.desk.channel_limits(channel_id)
    click.echo(f"channel {channel_id}: {limits.describe()}; held back now: {held}")


@feeds.command("import")
@click.argument("source")
@pass_ctx
@handle_errors
def feeds_import(c: Context, source):
    """Import feeds from an OPML file or URL."""
    content = c.desk.read_opml(source)
    result = c.desk.import_opml(content)
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
    click.echo(c.desk.export_opml(), nl=False)


# -- ingest and index -------------------------------------------------------------
def _print_report(report, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    summary, errors = render_report(report)
    click.echo(summary)
    for line in errors:
        click.echo(line, err=True)


@cli.command()
@click.option("--feed", default=None, help="Only this feed (id, URL or name).")
@click.option("--full", is_flag=True, help="Ignore ETag/Last-Modified and re-read every entry.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary object.")
@pass_ctx
@handle_errors
def ingest(c: Context, feed, full, as_json):
    """Fetch feeds, archive new articles and embed their passages."""
    # the resume notice goes to stderr, with --json too (stdout keeps the one JSON object)
    bar, progress = progress_printer(not as_json and sys.stderr.isatty(), say=lambda line: click.echo(line, err=True))
    if bar:
        with bar:
            report = c.desk.ingest(feed, full=full, progress=progress)
    else:
        report = c.desk.ingest(feed, full=full, progress=progress)
    _print_report(report, as_json)
    if report.feeds_failed and not report.feeds_ok:
        sys.exit(1)


@cli.command()
@click.option("--full", is_flag=True, help="Rebuild the whole index (needed after changing the model).")
@click.option("--feed", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def reindex(c: Context, full, feed, as_json):
    """Embed passages again (only missing ones unless --full)."""
    report = c.desk.reindex(full=full, feed=feed)
    _print_report(report, as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-discover", is_flag=True, help="Do not fetch sites to suggest feeds for unanswered questions.")
@pass_ctx
@handle_errors
def stats(c: Context, as_json, no_discover):
    """Archive and index counts; unanswered and down-voted questions by topic, with feeds to add."""
    data = c.desk.stats()
    groups = c.desk.question_report(find_feeds=not no_discover)  # issue #15
    if as_json:
        emit_json(data | {"questions": [g.to_dict() for g in groups]})
    else:
        for k, v in data.items():
            click.echo(f"{k}: {v}")
        click.echo("\n".join(questions_text(groups)))


@cli.command()
@click.argument("url_or_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def article(c: Context, url_or_id, as_json):
    """Show one archived article."""
    a = c.desk.article(url_or_id)
    if as_json:
        emit_json(a.to_dict())
        return
    click.echo(f"{a.title}\n{a.outlet} · {a.published} · {', '.join(a.authors)}\n{a.url}\n\n{a.text}")


@cli.command()
@click.option("--fix", is_flag=True, help="Repair what can be repaired.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def doctor(c: Context, fix, as_json):
    """Check the installation (model, Chroma, migrations, LLM endpoint) and that the archive and the index agree."""
    report = c.desk.doctor(fix)
    if as_json:
        emit_json(
            {
                "ok": report.ok,
                "problems": report.problems,
                "fixed": report.fixed,
                "counts": report.counts,
                "installation": report.installation,
            }
        )
    else:
        click.echo("consistent" if not report.problems else "problems:")
        for p in report.problems:
            click.echo(f"  - {p}")
        for f in report.fixed:
            click.echo(f"  fixed: {f}")
        click.echo(" ".join(f"{k}={v}" for k, v in report.counts.items()))
        click.echo(
            "installation: " + ", ".join(f"{c['check']} {'ok' if c['ok'] else 'PROBLEM'}" for c in report.installation)
        )
    if not report.ok:
        sys.exit(1)


# -- questions ---------------------------------------------------------------------
def _read_queries(path: str) -> list[dict]:
    queries = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                q = json.loads(line)
                if not isinstance(q, dict) or not isinstance(q.get("question"), str):
                    raise ValueError("no 'question' string")
            except ValueError as exc:
                raise NewsdeskError(f"{path}:{number}: not a query line ({exc})") from None
            queries.append(q)
    return queries


def _filters(f):
    for opt in reversed(
        [
            click.option("--as-of", default=None, help="Answer as of this date (nothing published later is used)."),
            click.option("--source", default=None, help="Only this outlet."),
            click.option("--since", default=None),
            click.option("--until", default=None),
            click.option("--json", "as_json", is_flag=True),
            click.option(
                "--queries",
                default=None,
                type=click.Path(exists=True, dir_okay=False),
                help="Batch mode: a JSONL file of {id, question, asked_at?}.",
            ),
        ]
    ):
        f = opt(f)
    return f


@cli.command()
@click.argument("query", required=False)
@_filters
@click.option("--limit", default=10, show_default=True)
@pass_ctx
@handle_errors
def search(c: Context, query, as_of, source, since, until, as_json, queries, limit):
    """Find articles (distinct, best first)."""
    if queries:
        for q in _read_queries(queries):
            try:
                result = c.desk.search(
                    q["question"],
                    as_of=q.get("asked_at") or as_of,
                    source=source,
                    since=since,
                    until=until,
                    limit=limit,
                )
                emit_json({"id": q.get("id"), "results": [h.to_dict() for h in result.hits]})
            except NewsdeskError as exc:
                emit_json({"id": q.get("id"), "results": [], "error": str(exc)})
        return
    if not query:
        raise NewsdeskError("give a QUERY or --queries FILE")
    result = c.desk.search(query, as_of=as_of, source=source, since=since, until=until, limit=limit)
    if as_json:
        emit_json({"results": [h.to_dict() for h in result.hits], "notices": result.notices})
        return

    click.echo(render_hits(result.hits, result.notices))


@cli.command()
@click.argument("question", required=False)
@_filters
@pass_ctx
@handle_errors
def ask(c: Context, question, as_of, source, since, until, as_json, queries):
    """Answer a question with cited sources."""
    if queries:
        for q in _read_queries(queries):
            try:
                answer = c.desk.ask(
                    q["question"], as_of=q.get("asked_at") or as_of, source=source, since=since, until=until
                )
                emit_json({"id": q.get("id"), **answer.to_dict()})
            except NewsdeskError as exc:
                emit_json({"id": q.get("id"), "answer": "", "citations": [], "abstained": True, "error": str(exc)})
        return
    if not question:
        raise NewsdeskError("give a QUESTION or --queries FILE")
    if not as_json and c.desk.streams and sys.stdout.isatty():
        # the draft as it comes, then the checked answer (which is what the sources support)
        printer = DraftPrinter(lambda piece: click.secho(piece, nl=False, dim=True))
        answer = c.desk.ask(question, as_of=as_of, source=source, since=since, until=until, on_draft=printer)
        if printer.written:
            click.echo("\n")
    else:
        answer = c.desk.ask(question, as_of=as_of, source=source, since=since, until=until)
    if answer.abstained or not answer.citations:  # kept for `newsdesk stats` (issue #15)
        c.desk.record_answer(answer, via="cli", as_of=as_of)
    if as_json:
        emit_json(answer.to_dict())
        return

    click.echo(render_answer(answer))


@cli.command()
@click.argument("topic", required=False)
@click.option("--source", default=None)
@click.option("--limit", default=10, show_default=True)
@click.option("--as-of", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def latest(c: Context, topic, source, limit, as_of, as_json):
    """Newest coverage, optionally of a topic."""
    hits = c.desk.latest(topic, source=source, limit=limit, as_of=as_of)
    if as_json:
        emit_json({"results": [h.to_dict() for h in hits]})
        return

    click.echo(render_hits(hits, []))


@cli.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False))
@click.option("--limit", default=None, type=int)
@click.option("--report", "report_path", default="eval-report.json", show_default=True)
@click.option("--no-answers", is_flag=True, help="Retrieval metrics only.")
@pass_ctx
@handle_errors
def eval_cmd(c: Context, questions, limit, report_path, no_answers):
    """Hits@k, MRR@10, answer accuracy and latency on an evaluation file."""

    report = evaluate(
        c.desk, _read_queries(questions)[:limit] if limit else _read_queries(questions), answers=not no_answers
    )
    Path(report_path).write_text(json.dumps(report, indent=2))
    click.echo(format_report(report))
    click.echo(f"report written to {report_path}")


@cli.command()
@pass_ctx
@handle_errors
def chat(c: Context):
    """A terminal session: ask, search, latest, article, follow-ups."""

    run_chat(c.desk)


@cli.command()
@click.option("--no-poll", is_flag=True, help="Only the bot; a `newsdesk worker` does the polling.")
@pass_ctx
@handle_errors
def run(c: Context, no_poll):
    """Run the Discord bot (or the terminal session when no DISCORD_TOKEN is set)."""
    token = discord_token()
    if not token:
        if sys.stdin.isatty() and sys.stdout.isatty():
            click.echo("No DISCORD_TOKEN set: opening the terminal session instead (see README).", err=True)

            run_chat(c.desk)
            return
        raise ConfigError("DISCORD_TOKEN is not set (the environment variable holding the bot token)")
    from bot import run_bot

    run_bot(c.config, token, desk=c.desk, poll=not no_poll)


@cli.command()
@click.option("--once", is_flag=True, help="One polling cycle, then exit.")
@pass_ctx
@handle_errors
def worker(c: Context, once):
    """Poll feeds and index on a schedule, without the bot."""

    run_worker(c.desk, once=once)


following.register(cli)


# -- following stories: digest, timeline, compare (index/cli/following_digests.py) --
from .following_digests import register as register_following_digests  # noqa: E402

register_following_digests(cli)


cli.add_command(watch_group)  # newsdesk watch add|list|remove|check (index/cli/watches.py)

from .migrate import migrate_archive_command  # noqa: E402  (newsdesk migrate-archive, issue #17)

cli.add_command(migrate_archive_command)


def main():
    cli(prog_name="newsdesk")


if __name__ == "__main__":
    main()
