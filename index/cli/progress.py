"""The ingest progress bar (rich), shared by `newsdesk ingest` and the terminal session's `ingest`.

Built from the pipeline's progress events: "resume" (an interrupted run is continued), "start",
"feed", "embedding", "embedded", "done".
"""

from __future__ import annotations

from collections.abc import Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def resume_line(embedded: int, pending: int, recovered: int = 0) -> str:
    """What an ingest says when it continues an interrupted run."""
    line = f"resuming: {embedded:,} passages already embedded, {pending:,} to go"
    if recovered:
        line += f" ({recovered:,} of them found in the vector index, not embedded again)"
    return line


def progress_printer(enabled: bool, console=None, say: Callable[[str], None] | None = None):
    """(bar, callback): a rich bar when ``enabled`` (use the bar as a context manager around the job
    and pass the callback as its ``progress``); without a bar, a callback only when ``say`` is given
    (it prints the resume notice), else (None, None)."""
    if not enabled:
        if say is None:
            return None, None

        def quiet(event, **info):
            if event == "resume":
                say(resume_line(info["embedded"], info["pending"], info.get("recovered", 0)))

        return None, quiet
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
        console=console,
    )
    tasks = {}

    def completed(task_id) -> float:
        return next(t for t in bar.tasks if t.id == task_id).completed

    def progress(event, **info):
        if event == "resume":
            bar.console.print(resume_line(info["embedded"], info["pending"], info.get("recovered", 0)))
            # the passages bar starts from what the interrupted runs did
            tasks["embed"] = bar.add_task(
                "passages", total=info["embedded"] + info["pending"], completed=info["embedded"]
            )
        elif event == "start":
            tasks["feeds"] = bar.add_task("feeds", total=info["feeds"])
        elif event == "pass" and "feeds" in tasks:  # the feeds with entries left are read again
            task = next(t for t in bar.tasks if t.id == tasks["feeds"])
            bar.update(tasks["feeds"], total=(task.total or 0) + info["feeds"])
        elif event == "feed":
            bar.advance(tasks["feeds"])
            if info.get("error"):
                bar.console.print(f"[red]✗[/red] {info['feed'].url}: {info['error']}")
        elif event == "embedding":
            if "embed" in tasks:
                bar.update(tasks["embed"], total=completed(tasks["embed"]) + info["pending"])
            else:
                tasks["embed"] = bar.add_task("passages", total=info["pending"])
        elif event == "embedded" and "embed" in tasks:
            bar.advance(tasks["embed"], info["count"])
            done = completed(tasks["embed"])
            task = next(t for t in bar.tasks if t.id == tasks["embed"])
            if task.total is not None and done > task.total:
                bar.update(tasks["embed"], total=done)

    return bar, progress
