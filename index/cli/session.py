"""`newsdesk chat`: a terminal session over the same services as the bot."""

from __future__ import annotations

import click

from ..errors import NewsdeskError
from .plain import render_answer, render_hits

HELP = """Commands:
  <question>            ask (a short follow-up keeps the previous question as context)
  ask <question>        ask a fresh question
  search <query>        matching articles
  latest [topic]        newest coverage
  article <url or id>   one article
  sources               outlets and feeds
  help, quit"""


def run_chat(desk, input_fn=input, output=click.echo) -> None:
    output("newsdesk — ask about the news in the archive. Type 'help' for commands, 'quit' to leave.")
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
            elif verb == "search":
                result = desk.search(rest)
                output(render_hits(result.hits, result.notices))
            elif verb == "latest":
                output(render_hits(desk.latest(rest or None), []))
            elif verb == "article":
                a = desk.article(rest)
                output(f"{a.title}\n{a.outlet} · {a.published}\n{a.url}\n\n{a.text[:1500]}")
            elif verb == "sources":
                for o in desk.sources()["outlets"]:
                    output(f"{o['outlet']}: {o['articles']} articles")
            else:
                question = rest if verb == "ask" else line
                context = previous if verb != "ask" and previous and len(question.split()) <= 8 else None
                answer = desk.ask(question, context=context)
                output(render_answer(answer))
                previous = question if context is None else f"{context} {question}"
        except NewsdeskError as exc:
            output(f"error: {exc}")
