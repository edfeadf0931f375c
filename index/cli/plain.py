"""Plain-text rendering of answers and results for the terminal."""

from __future__ import annotations

from ..models import Answer, Hit


def short_date(published: str | None) -> str:
    return (published or "")[:10]


def render_answer(answer: Answer) -> str:
    lines = [answer.text, ""]
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
