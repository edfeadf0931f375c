"""The ingest progress bar (rich), shared by `newsdesk ingest` and the terminal session's `ingest`.

Built from the pipeline's progress events: "start", "feed", "embedding", "embedded", "done".
"""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress_printer(enabled: bool, console=None):
    """(bar, callback), or (None, None) when not enabled. Use the bar as a context manager around
    the job and pass the callback as its ``progress``."""
    if not enabled:
        return None, None
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
        console=console,
    )
    tasks = {}

    def progress(event, **info):
        if event == "start":
            tasks["feeds"] = bar.add_task("feeds", total=info["feeds"])
        elif event == "feed":
            bar.advance(tasks["feeds"])
            if info.get("error"):
                bar.console.print(f"[red]✗[/red] {info['feed'].url}: {info['error']}")
        elif event == "embedding":
            tasks["embed"] = bar.add_task("passages", total=info["pending"])
        elif event == "embedded" and "embed" in tasks:
            bar.advance(tasks["embed"], info["count"])

    return bar, progress
