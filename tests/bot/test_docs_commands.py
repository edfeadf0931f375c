"""The slash commands the README and docs/*.md show exist in the running bot's command tree, with
the sub-commands and the options they name (`/feeds filter add|list`, `/ask … [source]`,
`/feeds add url:…`), and the README's invite asks for the permissions the bot's features use."""

from __future__ import annotations

import re
from pathlib import Path

import discord
from discord import app_commands

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _slash_mentions(text: str) -> list[list[str]]:
    """Every inline code span that starts with a slash command, as words."""
    outside = re.sub(r"```.*?```", "", text, flags=re.S)
    return [code[1:].split() for code in re.findall(r"`(/[a-z][^`\n]*)`", outside)]


def _problems(tree: app_commands.CommandTree, words: list[str]) -> list[str]:
    top = {c.name: c for c in tree.get_commands()}
    shown = "/" + " ".join(words)
    command = top.get(words[0])
    if command is None:
        return [f"{shown}: no /{words[0]}"]
    rest = words[1:]
    while isinstance(command, app_commands.Group) and rest:
        names = rest[0].split("|")
        subs = [command.get_command(n) for n in names]
        if not all(subs):
            if all(re.fullmatch(r"[a-z_]+", n) for n in names):
                return [f"{shown}: /{command.qualified_name} has no {rest[0]}"]
            return []  # a placeholder ("…"), not a sub-command
        if len(subs) > 1:
            return []  # alternatives: each exists
        command, rest = subs[0], rest[1:]
    if not isinstance(command, app_commands.Command):
        return []
    params = {p.name for p in command.parameters}
    named = [w.strip("[]") for w in rest if re.fullmatch(r"\[[a-z_]+\]", w)]
    named += [w.split(":", 1)[0] for w in rest if re.fullmatch(r"[a-z_]+:\S+", w)]
    return [f"{shown}: /{command.qualified_name} has no option {n!r}" for n in named if n not in params]


async def test_every_slash_command_in_the_docs_exists(world):
    problems, seen = [], 0
    for page in PAGES:
        for words in _slash_mentions(page.read_text(encoding="utf-8")):
            seen += 1
            problems += [f"{page.name}: {p}" for p in _problems(world.bot.tree, words)]
    assert seen > 20, "the docs show almost no slash command: is the pattern right?"
    assert not problems, "\n".join(problems)


async def test_the_check_sees_a_wrong_command_option_and_sub_command(world):
    tree = world.bot.tree
    assert _problems(tree, ["ask", "question", "[source]"]) == []
    assert _problems(tree, ["nosuch"]) == ["/nosuch: no /nosuch"]
    assert _problems(tree, ["ask", "[nosuch]"]) == ["/ask [nosuch]: /ask has no option 'nosuch'"]
    assert _problems(tree, ["feeds", "nosuch"]) == ["/feeds nosuch: /feeds has no nosuch"]
    assert _problems(tree, ["feeds", "add", "nosuch:1"]) == ["/feeds add nosuch:1: /feeds add has no option 'nosuch'"]


def test_the_readme_invite_asks_for_what_the_bot_uses():
    """The invite URL's permissions: read and send in channels and threads, embeds (answers are
    embeds), message history (follow-ups); the second integer adds Create Public Threads (a thread
    per post). Never more than these."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    base = discord.Permissions(
        view_channel=True,
        send_messages=True,
        send_messages_in_threads=True,
        embed_links=True,
        read_message_history=True,
    )
    threads = discord.Permissions(base.value)
    threads.create_public_threads = True
    asked = {int(v) for v in re.findall(r"permissions=(\d+)", readme)}
    assert asked == {base.value, threads.value}
    assert "scope=bot%20applications.commands" in readme
