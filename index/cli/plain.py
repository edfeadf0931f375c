"""Plain-text rendering of answers and results for the terminal."""

from __future__ import annotations

from ..models import Answer, Hit


def short_date(published: str | None) -> str:
    return (published or "")[:10]


def render_answer(answer: Answer) -> str:
    lines = [answer.shown_text, ""]
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            a = c.article
            lines.append(f"[{c.n}] {a.title} — {a.outlet}, {short_date(a.published)}\n    {a.url}")
    elif answer.hits:
        lines.append("Closest articles:")
        for h in answer.hits[:5]:
            lines.append(
                f"- {h.article.title} — {h.article.outlet}, {short_date(h.article.published)}\n    {h.article.url}"
            )
    if answer.mode != "extractive":
        lines.append(f"(answer mode: {answer.mode})")
    for notice in answer.notices:
        lines.append(f"note: {notice}")
    return "\n".join(lines)


def render_hits(hits: list[Hit], notices: list[str]) -> str:
    if not hits:
        return "No matching articles."
    lines = []
    for i, h in enumerate(hits, 1):
        a = h.article
        lines.append(f"{i}. {a.title} — {a.outlet}, {short_date(a.published)}")
        lines.append(f"   {a.url}")
        snippet = " ".join(h.passage.text.split())[:200]
        if snippet:
            lines.append(f"   {snippet}")
        if h.also:
            lines.append("   also: " + ", ".join(sorted({x.outlet for x in h.also})))
    for notice in notices:
        lines.append(f"note: {notice}")
    return "\n".join(lines)


def render_report(report) -> tuple[str, list[str]]:
    """An ingest or reindex report: (the summary line, one line per error)."""
    d = report.to_dict()
    summary = (
        f"feeds: {d['feeds_ok']} ok ({d['feeds_not_modified']} unchanged), {d['feeds_failed']} failed; "
        f"articles: {d['articles_new']} new, {d['articles_updated']} updated, {d['articles_unchanged']} unchanged; "
        f"passages embedded: {d['passages_embedded']}"
        + (
            f" (+{d['passages_recovered']} found in the index after an interrupted run)"
            if d.get("passages_recovered")
            else ""
        )
        + f"; {d['seconds']}s"
    )
    return summary, [f"  error {url}: {why}" for url, why in d["errors"].items()]


class DraftPrinter:
    """``DraftPrinter(write)`` is an ``on_draft`` callback that writes only what each draft adds
    (``write`` takes a piece of text, no newline). A draft that is not a continuation of the last one
    is written on a new line, whole.
    ``written``: whether anything was written (then end the draft before the checked answer)."""

    def __init__(self, write):
        self.write = write
        self.shown = ""

    @property
    def written(self) -> bool:
        return bool(self.shown)

    def __call__(self, text: str) -> None:
        piece = text[len(self.shown) :] if text.startswith(self.shown) else "\n" + text
        if piece:
            self.write(piece)
        self.shown = text
