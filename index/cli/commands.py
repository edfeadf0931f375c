"""The `newsdesk` command: a thin shell over index.service.Newsdesk."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from .. import unanswerable
from ..config import discord_token
from ..errors import ConfigError, NewsdeskError
from ..evaluate import evaluate, format_report
from ..logsafety import install_redaction
from ..service import Newsdesk
from ..worker import run_worker
from . import feeds as feeds_commands
from . import following, following_digests, migrate, watches
from .context import Context, pass_ctx
from .edges import dense_json, emit_json, handle_errors
from .plain import DraftPrinter, render_answer, render_hits, render_report
from .progress import progress_printer
from .session import run_chat
from .watches import questions_text

log = logging.getLogger(__name__)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "chromadb", "sentence_transformers", "trafilatura", "htmldate", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))

    install_redaction()


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
@click.option(
    "--one-pass",
    is_flag=True,
    help="Read each feed once, as a poll does: entries past a feed's share wait for the next ingest.",
)
@pass_ctx
@handle_errors
def ingest(c: Context, feed, full, as_json, one_pass):
    """Fetch feeds, archive new articles and embed their passages (reading on until every feed is complete)."""
    # the resume notice goes to stderr, with --json too (stdout keeps the one JSON object)
    bar, progress = progress_printer(not as_json and sys.stderr.isatty(), say=lambda line: click.echo(line, err=True))
    if bar:
        with bar:
            report = c.desk.indexing.ingest(feed, full=full, progress=progress, complete=not one_pass)
    else:
        report = c.desk.indexing.ingest(feed, full=full, progress=progress, complete=not one_pass)
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
    report = c.desk.indexing.reindex(full=full, feed=feed)
    _print_report(report, as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-discover", is_flag=True, help="Do not fetch sites to suggest feeds for unanswered questions.")
@pass_ctx
@handle_errors
def stats(c: Context, as_json, no_discover):
    """Archive and index counts; unanswered and down-voted questions by topic, with feeds to add."""
    data = c.desk.health.stats()
    groups = c.desk.feedback.report(find_feeds=not no_discover)
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
    a = c.desk.reading.article(url_or_id)
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
    report = c.desk.health.doctor(fix)
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
                result = c.desk.retriever.search(
                    q["question"],
                    as_of=q.get("asked_at") or as_of,
                    source=source,
                    since=since,
                    until=until,
                    limit=limit,
                )
                emit_json({"id": q.get("id"), "results": [h.to_dict() for h in result.hits], **dense_json(c.desk)})
            except NewsdeskError as exc:
                emit_json({"id": q.get("id"), "results": [], "error": str(exc)})
        return
    if not query:
        raise NewsdeskError("give a QUERY or --queries FILE")
    result = c.desk.retriever.search(query, as_of=as_of, source=source, since=since, until=until, limit=limit)
    if as_json:
        emit_json({"results": [h.to_dict() for h in result.hits], "notices": result.notices, **dense_json(c.desk)})
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
                answer = c.desk.reading.ask(
                    q["question"], as_of=q.get("asked_at") or as_of, source=source, since=since, until=until
                )
                emit_json({"id": q.get("id"), **answer.to_dict(), **dense_json(c.desk)})
            except NewsdeskError as exc:
                emit_json({"id": q.get("id"), "answer": "", "citations": [], "abstained": True, "error": str(exc)})
        return
    if not question:
        raise NewsdeskError("give a QUESTION or --queries FILE")
    if not as_json and c.desk.reading.streams and sys.stdout.isatty():
        # the draft as it comes, then the checked answer (which is what the sources support)
        printer = DraftPrinter(lambda piece: click.secho(piece, nl=False, dim=True))
        answer = c.desk.reading.ask(question, as_of=as_of, source=source, since=since, until=until, on_draft=printer)
        if printer.written:
            click.echo("\n")
    else:
        answer = c.desk.reading.ask(question, as_of=as_of, source=source, since=since, until=until)
    if answer.abstained or not answer.citations:  # kept for `newsdesk stats`
        c.desk.feedback.record(answer, via="cli", as_of=as_of)
    if as_json:
        emit_json(answer.to_dict() | dense_json(c.desk))
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
    hits = c.desk.reading.latest(topic, source=source, limit=limit, as_of=as_of)
    if as_json:
        emit_json({"results": [h.to_dict() for h in hits]})
        return

    click.echo(render_hits(hits, []))


@cli.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False))
@click.option("--limit", default=None, type=int)
@click.option("--report", "report_path", default="eval-report.json", show_default=True)
@click.option("--no-answers", is_flag=True, help="Retrieval metrics only.")
@click.option(
    "--unanswerable-sample",
    "unanswerable_sample",
    default=None,
    type=click.IntRange(min=1),
    help="Draw N questions, copy the data directory without their gold articles, and ask them (now "
    "unanswerable) and N others (still answerable) of the copy: how often each is abstained or hedged.",
)
@click.option("--seed", default=31, show_default=True, help="Random seed of --unanswerable-sample's draw.")
@click.option(
    "--copy-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where --unanswerable-sample's copy goes (default: beside the data directory); reused for the same draw.",
)
@pass_ctx
@handle_errors
def eval_cmd(c: Context, questions, limit, report_path, no_answers, unanswerable_sample, seed, copy_dir):
    """Hits@k, MRR@10, answer accuracy, abstain and hedge rates and latency on an evaluation file."""

    if unanswerable_sample:
        _eval_unanswerable(c, _read_queries(questions), unanswerable_sample, seed, copy_dir, report_path)
        return
    report = evaluate(
        c.desk, _read_queries(questions)[:limit] if limit else _read_queries(questions), answers=not no_answers
    )
    Path(report_path).write_text(json.dumps(report, indent=2))
    click.echo(format_report(report))
    click.echo(f"report written to {report_path}")


def _eval_unanswerable(c: Context, questions: list[dict], sample: int, seed: int, copy_dir, report_path) -> None:
    gone, kept = unanswerable.split_questions(questions, sample, seed)
    data_dir = Path(c.config.data.dir).resolve()
    target = Path(copy_dir) if copy_dir else data_dir.with_name(f"{data_dir.name}-unanswerable-{sample}-{seed}")
    made = unanswerable.build_copy(c.config, target, gone, Newsdesk)
    desk = Newsdesk(unanswerable.copy_config(c.config, target))
    try:
        report = unanswerable.evaluate_unanswerable(desk, gone, kept)
    finally:
        desk.close()
    Path(report_path).write_text(json.dumps(report | {"copy": str(target), "removed": made}, indent=2))
    click.echo(unanswerable.format_unanswerable(report, made))
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


# -- the command modules: each lists its top-level commands in COMMANDS ---------------
for module in (feeds_commands, following, following_digests, migrate, watches):
    for command in module.COMMANDS:
        cli.add_command(command)


def main():
    cli(prog_name="newsdesk")


if __name__ == "__main__":
    main()
