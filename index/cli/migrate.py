"""`newsdesk migrate-archive`: copy the SQLite archive into PostgreSQL, resumable and
verified (index/archive/migrate.py). The target is ``--to URL`` or else the configured
``[archive] url`` / ``NEWSDESK_ARCHIVE_URL``; a password never has to be typed on the command
line (PGPASSWORD, ~/.pgpass, or the whole URL in NEWSDESK_ARCHIVE_URL) and is never printed."""

from __future__ import annotations

from pathlib import Path

import click

from ..archive.migrate import BATCH_ROWS, MigrationReport, check_target_url, migrate_archive
from ..errors import ArchiveError, ConfigError
from .edges import emit_json, handle_errors


def summary(report: MigrationReport, verify_only: bool) -> list[str]:
    lines = [f"source: {report.source} (SQLite, read-only; migrations {len(report.source_migrations)})"]
    lines.append(f"target: {report.target}" + (" (resumed)" if report.resumed and not verify_only else ""))
    if not verify_only:
        lines.append(
            f"copied {report.rows_copied:,} rows in {report.copy_seconds:.1f}s "
            f"({report.rows_per_second:,.0f} rows/s)"
            + (f"; sequences set: {', '.join(report.sequences_set)}" if report.sequences_set else "")
        )
    for c in report.checks:
        if not c.ok:
            lines.append(f"  {c.table}: source {c.source_rows:,} rows, target {c.target_rows:,}; checksums differ")
    for s in report.sequences_behind:
        lines.append(f"  {s}: its next value is already taken")
    rows = sum(c.source_rows for c in report.checks)
    lines.append(
        f"verified {len(report.checks)} tables ({rows:,} rows) in {report.verify_seconds:.1f}s: "
        + ("counts and checksums match" if not report.mismatched else f"DIFFERENT: {', '.join(report.mismatched)}")
    )
    return lines


@click.command("migrate-archive")
@click.option(
    "--to",
    "to_url",
    metavar="URL",
    default=None,
    help="postgresql://user@host:port/db (no password: PGPASSWORD or ~/.pgpass). "
    "Default: NEWSDESK_ARCHIVE_URL / [archive] url.",
)
@click.option(
    "--from",
    "from_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The SQLite archive to copy (default: the configured data directory's archive.db).",
)
@click.option("--verify-only", is_flag=True, help="Only compare counts and checksums of every table.")
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_ROWS, hidden=True)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.pass_obj
@handle_errors
def migrate_archive_command(obj, to_url, from_path, verify_only, batch_size, as_json):
    """Copy the SQLite archive into PostgreSQL: resumable, verified by counts and checksums.

    Stop the bot and the worker first. Nothing is embedded again: the Chroma index stays valid."""
    url = to_url or obj.config.archive.url
    if not url:
        raise ConfigError(
            "migrate-archive needs a target: --to postgresql://user@host/db, or NEWSDESK_ARCHIVE_URL "
            "(or [archive] url in the config)"
        )
    check_target_url(url, typed=to_url is not None)
    source = from_path or obj.config.archive_path
    report = migrate_archive(
        source,
        url,
        batch_size=batch_size,
        verify_only=verify_only,
        progress=None if as_json else lambda msg: click.echo(msg, err=True),
    )
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo("\n".join(summary(report, verify_only)))
    if report.mismatched:
        raise ArchiveError(f"the target differs from the source in: {', '.join(report.mismatched)}")
    if report.source_changed:
        raise ArchiveError(
            "the source changed while it was copied (is a bot or worker still running?): the target holds "
            "the snapshot taken at the start; stop them and run migrate-archive again"
        )


COMMANDS = [migrate_archive_command]
