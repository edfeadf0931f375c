"""Embeds and messages for Discord, always within Discord's limits.

Everything that comes from an article or a user (titles, quotes, questions,
outlet names) goes through :func:`safe` (markdown and mentions escaped) before it
is shown. Long text is cut at a word boundary and ends with "…"; lists are cut at
whole lines ("…and 3 more"). :func:`finalize` enforces every embed limit last, so
no builder here can produce an embed Discord would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import discord

from index.models import HEDGE_OPENING_STARTS, Alert, Answer, Article, Feed, Follow, Hit
from index.service import redact

from .markers import link_markers, through_last_marker, unlink_markers

MESSAGE_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
MAX_FIELDS = 25
ELLIPSIS = "…"

COLOUR = discord.Colour.from_rgb(46, 110, 180)
WARN_COLOUR = discord.Colour.from_rgb(200, 120, 30)
FOLLOW_UP_HINT = "Reply to this message to ask a follow-up."

_MENTION_LIKE = re.compile(r"<(@[!&]?|#)(\d+)>")
_UNESCAPED_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")
_ESCAPED = re.compile(r"\\([\\*_`~|>#\[\]()\-:])")


# -- text helpers --------------------------------------------------------------
def trim(text: str | None, limit: int) -> str:
    """At most ``limit`` characters; a cut ends at a word boundary with "…"."""
    text = text or ""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    cut = cut.rstrip()
    # never end on a lone backslash: it would escape the ellipsis
    while cut.endswith("\\"):
        cut = cut[:-1]
    return cut + ELLIPSIS


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def no_mentions(text: str) -> str:
    """Neutralise @everyone, @here and every <@…>, <@&…>, <@!…> form (zero-width space)."""
    text = discord.utils.escape_mentions(text)
    return _MENTION_LIKE.sub(lambda m: f"<{m.group(1)}\u200b{m.group(2)}>", text)


def safe(text: str | None) -> str:
    """Text from an article or a user, made inert: secrets redacted, markdown and mentions escaped."""
    text = discord.utils.escape_markdown(redact(text or ""))
    text = _UNESCAPED_BRACKET.sub(r"\1\\\2", text)
    text = re.sub(r"^(\s*)([#\-])", r"\1\\\2", text, flags=re.M)
    return no_mentions(text)


def unsafe(text: str | None) -> str:
    """Undo :func:`safe` (for reading our own embeds back, e.g. a follow-up's question)."""
    text = (text or "").replace("\u200b", "")
    return _ESCAPED.sub(r"\1", text)


def safe_url(url: str | None) -> str | None:
    """A URL usable in a markdown link or embed url; None unless http(s)."""
    url = (url or "").strip()
    if not url.lower().startswith(("http://", "https://")) or len(url) > 1000:
        return None
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def link(title: str, url: str | None, limit: int = 150) -> str:
    label = safe(trim(one_line(title) or "(untitled)", limit))
    target = safe_url(url)
    return f"[{label}]({target})" if target else label


def count(n: int, noun: str) -> str:
    """ "1 article", "2 articles" (the noun's plural is its -s form)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def short_date(published: str | None) -> str:
    return (published or "")[:10] or "undated"


def ts_date(ts: float | None) -> str:
    if not ts:
        return "—"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def fit_lines(lines: Sequence[str], limit: int, *, sep: str = "\n", more: str = "…and {n} more") -> str:
    """Join whole lines until ``limit``; what does not fit is summarised as "…and N more"."""
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        line = trim(line, limit)
        remaining = len(lines) - i - 1
        tail = len(sep) + len(more.format(n=remaining + 1)) + 2
        extra = len(line) + (len(sep) if out else 0)
        if used + extra + (tail if remaining else 0) > limit:
            out.append(more.format(n=len(lines) - i))
            break
        out.append(line)
        used += extra
    text = sep.join(out)
    return trim(text, limit)


def embed_size(embed: discord.Embed) -> int:
    return len(embed)


def finalize(embed: discord.Embed) -> discord.Embed:
    """Enforce every embed limit (titles, description, fields, footer, author, 6000 total)."""
    if embed.title:
        embed.title = trim(embed.title, TITLE_LIMIT)
    if embed.description:
        embed.description = trim(embed.description, DESCRIPTION_LIMIT)
    if embed.author and embed.author.name:
        embed.set_author(
            name=trim(embed.author.name, AUTHOR_LIMIT), url=embed.author.url, icon_url=embed.author.icon_url
        )
    if embed.footer and embed.footer.text:
        embed.set_footer(text=trim(embed.footer.text, FOOTER_LIMIT), icon_url=embed.footer.icon_url)
    fields = [
        (trim(f.name or "\u200b", FIELD_NAME_LIMIT), trim(f.value or "\u200b", FIELD_VALUE_LIMIT), f.inline)
        for f in embed.fields
    ][:MAX_FIELDS]
    embed.clear_fields()
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    # total: shrink the description first, then drop fields from the end, then the footer
    while len(embed) > EMBED_TOTAL_LIMIT:
        excess = len(embed) - EMBED_TOTAL_LIMIT
        if embed.description and len(embed.description) > 200:
            embed.description = trim(embed.description, max(200, len(embed.description) - excess - 1))
        elif embed.fields:
            embed.remove_field(len(embed.fields) - 1)
        elif embed.footer and embed.footer.text:
            embed.remove_footer()
        elif embed.description:
            embed.description = trim(embed.description, max(0, len(embed.description) - excess - 1))
        else:
            embed.title = trim(embed.title, max(1, len(embed.title or "") - excess - 1))
    return embed


def message_text(text: str) -> str:
    """Plain message content within the 2000-character limit."""
    return trim(text, MESSAGE_LIMIT)


# -- answers -----------------------------------------------------------------------
def source_line(n: int, article: Article) -> str:
    return (
        f"[{n}] {link(article.title, article.url)} — {safe(trim(article.outlet, 80))}, {short_date(article.published)}"
    )


def hit_line(hit: Hit, *, number: int | None = None, snippet: bool = True, snippet_chars: int = 160) -> str:
    a = hit.article
    head = f"**{number}.** " if number is not None else "• "
    line = f"{head}{link(a.title, a.url)} — {safe(trim(a.outlet, 80))}, {short_date(a.published)}"
    if snippet:
        text = one_line(hit.snippet)
        if text and text != one_line(a.title):
            line += f"\n> {safe(trim(text, snippet_chars))}"
    if hit.also:
        outlets = sorted({x.outlet for x in hit.also if x.outlet and x.outlet != a.outlet}) or sorted(
            {x.outlet for x in hit.also if x.outlet}
        )
        if outlets:
            line += "\n*also: " + safe(trim(", ".join(outlets), 200)) + "*"
    return line


def answer_embed(answer: Answer, question: str | None = None) -> discord.Embed:
    """The answer, with [n] markers, then the numbered sources (or the closest articles)."""
    question = one_line(question or answer.question)
    embed = discord.Embed(
        title=safe(trim(question, TITLE_LIMIT - 20)),
        colour=WARN_COLOUR if answer.abstained or answer.hedged else COLOUR,
    )
    if answer.citations:
        heading = "**Sources**"
        lines = [source_line(c.n, c.article) for c in answer.citations]
    elif answer.hits:
        heading = "**Closest articles**"
        lines = [hit_line(h, snippet=False) for h in answer.hits[:5]]
    else:
        heading, lines = "", []
    sources = fit_lines(lines, 1800) if lines else ""
    budget = DESCRIPTION_LIMIT - len(sources) - len(heading) - 4
    opening = f"{safe(answer.opening)}\n" if answer.hedged else ""  # not an answer (or an old one): say so first
    body = opening + linked_answer(answer, budget - len(opening))
    embed.description = body + (f"\n\n{heading}\n{sources}" if sources else "")
    if answer.notices:
        embed.add_field(name="Note", value=safe(redact(" ".join(answer.notices))), inline=False)
    mode = "" if answer.mode == "extractive" else f" · {answer.mode}"
    embed.set_footer(text=f"newsdesk{mode} · {FOLLOW_UP_HINT}")
    return finalize(embed)


_MARKER = re.compile(r"(\[\d{1,3}\])")
_DIRECT = re.compile(r"\A\*\*(.+?)\*\*([^\n]*)\n\n(.*)\Z", re.S)


def linked_answer(answer: Answer, budget: int) -> str:
    """The answer's body within ``budget`` characters, each [n] a link to its source (embed
    descriptions render ``[text](url)``; ``[[1]](url)`` shows as a linked "[1]"). Falls back to
    plain markers when the links would not fit."""
    urls = {c.n: safe_url(c.article.url) for c in answer.citations}
    text = answer_body(answer.text)
    body = trim_answer(text, max(200, budget))
    linked = link_markers(body, urls)
    if len(linked) > budget:  # the links' length comes out of the text's room
        body = trim_answer(text, max(200, budget - (len(linked) - len(body))))
        linked = link_markers(body, urls)
    return linked if len(linked) <= max(budget, len(body)) else body


def answer_body(text: str) -> str:
    """The answer made inert on one line, except its bold direct-answer line (``**700** agents [1]``,
    written by the answerer, never by an article), which stays bold on a line of its own."""
    match = _DIRECT.match(text or "")
    if not match:
        return safe_answer(one_line(text))
    key, rest, sentences = match.groups()
    lead = f"**{safe(one_line(key))}** {safe_answer(one_line(rest))}".rstrip()
    return lead + "\n" + safe_answer(one_line(sentences))


def safe_answer(text: str) -> str:
    """Answer text made inert, keeping its [n] citation markers as they are."""
    return "".join(part if _MARKER.fullmatch(part) else safe(part) for part in _MARKER.split(text))


def trim_answer(text: str, limit: int) -> str:
    """Trim an answer without leaving a dangling half marker."""
    if len(text) <= limit:
        return text
    cut = trim(text, limit)
    return re.sub(r"\s*\[\d{0,3}…$", "…", cut)


def question_from_embed(embed: discord.Embed) -> str | None:
    """The question an answer embed was for (its title), as the user wrote it."""
    if not embed.title or not (embed.footer and embed.footer.text and FOLLOW_UP_HINT in embed.footer.text):
        return None
    return unsafe(embed.title).rstrip(ELLIPSIS).strip() or None


_CITED = re.compile(r"(.+?)\s*\[(\d{1,3})\](?:\s+|$)", re.S)


def quotes_from_embed(embed: discord.Embed) -> dict[int, list[str]]:
    """{n: [sentences cited as [n]]} read back from an answer embed's description."""
    text = unlink_markers((embed.description or "").split("\n\n**", 1)[0])
    first, newline, rest = text.partition("\n")
    text = rest if newline and unsafe(first).startswith(HEDGE_OPENING_STARTS) else text  # the opening is no quote
    quotes: dict[int, list[str]] = {}
    for m in _CITED.finditer(through_last_marker(text)):
        sentence = unsafe(m.group(1)).strip()
        if sentence:
            quotes.setdefault(int(m.group(2)), []).append(sentence)
    return quotes


def passages_embed(items: list[tuple[int, Article, str, list[str]]]) -> discord.Embed:
    """items: (n, article, passage text, quotes). Each citation: header, then the passage with the quotes in bold."""
    embed = discord.Embed(title="Passages behind the answer", colour=COLOUR)
    per = max(300, (DESCRIPTION_LIMIT - 200) // max(1, len(items)))
    blocks = []
    for n, article, passage, quotes in items:
        header = source_line(n, article)
        room = max(100, per - len(header) - 10)
        blocks.append(header + "\n" + _quote_block(passage, quotes, room))
    embed.description = fit_lines(blocks, DESCRIPTION_LIMIT, sep="\n\n") if blocks else "No passages."
    return finalize(embed)


def _quote_block(passage: str, quotes: list[str], room: int) -> str:
    passage = one_line(passage)
    spans = []
    for q in quotes:
        q = one_line(q)
        pos = passage.find(q) if q else -1
        if pos >= 0:
            spans.append((pos, pos + len(q)))
    if not spans:
        body = " ".join(one_line(q) for q in quotes) or passage
        return "> " + safe(trim(body, room))
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    context = max(0, (room - (end - start)) // 2)
    lo, hi = max(0, start - context), min(len(passage), end + context)
    pieces, cursor = [], lo
    for s, e in sorted(spans):
        if s < cursor:
            continue
        pieces.append(safe(passage[cursor:s]))
        pieces.append("**" + safe(passage[s:e]) + "**")
        cursor = e
    pieces.append(safe(passage[cursor:hi]))
    text = ("…" if lo > 0 else "") + "".join(pieces) + ("…" if hi < len(passage) else "")
    if len(text) > room + 200:  # the bold markers must stay balanced: fall back to plain text
        text = safe(trim(" ".join(one_line(q) for q in quotes), room))
    return "> " + text


# -- lists -----------------------------------------------------------------------------
def hits_page_embed(
    title: str,
    hits: Sequence[Hit],
    page: int,
    per_page: int,
    *,
    notices: Iterable[str] = (),
    empty: str = "No matching articles.",
) -> discord.Embed:
    pages = max(1, -(-len(hits) // per_page))
    page = max(0, min(page, pages - 1))
    chunk = hits[page * per_page : (page + 1) * per_page]
    lines = [hit_line(h, number=page * per_page + i + 1) for i, h in enumerate(chunk)]
    embed = discord.Embed(title=safe(trim(one_line(title), TITLE_LIMIT - 10)), colour=COLOUR)
    embed.description = fit_lines(lines, DESCRIPTION_LIMIT, sep="\n\n") if lines else empty
    notes = [safe(redact(n)) for n in notices]
    if notes:
        embed.add_field(name="Note", value=" ".join(notes), inline=False)
    if len(hits) > per_page:
        embed.set_footer(text=f"Page {page + 1}/{pages} · {len(hits)} results")
    return finalize(embed)


def article_embed(article: Article) -> discord.Embed:
    embed = discord.Embed(
        title=safe(trim(one_line(article.title) or "(untitled)", TITLE_LIMIT - 10)),
        url=safe_url(article.url),
        colour=COLOUR,
    )
    opening = one_line(article.text or article.summary)
    if opening.startswith(one_line(article.title)) and len(opening) > len(article.title) + 40:
        opening = opening[len(one_line(article.title)) :].lstrip(" .:-—")
    embed.description = safe(trim(opening, 400)) if opening else "*(no text archived)*"
    embed.add_field(name="Outlet", value=safe(trim(article.outlet, 200)) or "—", inline=True)
    embed.add_field(name="Published", value=short_date(article.published), inline=True)
    if article.authors:
        embed.add_field(name="Authors", value=safe(trim(", ".join(article.authors), 500)), inline=True)
    target = safe_url(article.url)
    if target:
        embed.add_field(name="Link", value=target, inline=False)
    embed.set_footer(text=f"Article {article.id}")
    return finalize(embed)


def teaser_embed(article: Article, feed: Feed | None = None) -> discord.Embed:
    """An auto-posted article: title linked, outlet, date, teaser of at most 300 characters."""
    embed = discord.Embed(
        title=safe(trim(one_line(article.title) or "(untitled)", TITLE_LIMIT - 10)),
        url=safe_url(article.url),
        colour=COLOUR,
    )
    teaser = one_line(article.teaser)
    if teaser:
        embed.description = safe(trim(teaser, 300))
    outlet = article.outlet or (feed.display_name if feed else "")
    embed.set_footer(text=trim(f"{one_line(outlet)} · {short_date(article.published)}", 200))
    return finalize(embed)


def sources_embed(outlets: list[dict], feeds: list[Feed]) -> discord.Embed:
    embed = discord.Embed(title="Sources in the archive", colour=COLOUR)
    lines = [
        f"**{safe(trim(o['outlet'] or '(unknown)', 80))}** — {o['articles']} articles, "
        f"latest {ts_date(o.get('latest_ts'))}"
        for o in outlets
    ]
    embed.description = fit_lines(lines, 3000) if lines else "No articles archived yet."
    if feeds:
        feed_lines = [f"`{f.id}` {safe(trim(f.display_name, 60))} — {f.status}, {f.articles} articles" for f in feeds]
        embed.add_field(name=f"Feeds ({len(feeds)})", value=fit_lines(feed_lines, FIELD_VALUE_LIMIT), inline=False)
    return finalize(embed)


def feeds_embed(feeds: list[Feed], title: str = "Feeds") -> discord.Embed:
    embed = discord.Embed(title=title, colour=COLOUR)
    lines = []
    for f in feeds:
        where = f" → <#{f.channel_id}>" if f.channel_id else ""
        owner = "global" if f.guild_id is None else "this server"
        line = f"`{f.id}` **{safe(trim(f.display_name, 80))}** ({owner}) — {f.status}, {f.articles} articles{where}"
        line += f"\n{safe(trim(strip_credentials(f.url), 200))}"
        note = f.last_error if f.status == "error" and f.last_error else f.warning  # an error, else a warning
        if note:
            line += f"\n⚠ {safe(trim(redact(one_line(note)), 200))}"
        lines.append(line)
    embed.description = (
        fit_lines(lines, DESCRIPTION_LIMIT, sep="\n\n") if lines else "No feeds yet. Add one with `/feeds add`."
    )
    return finalize(embed)


def status_embed(stats: dict) -> discord.Embed:
    """Health at a glance. Only counts, the model name and feed errors: never paths, URLs with secrets or tokens."""
    embed = discord.Embed(title="Newsdesk status", colour=COLOUR)
    size = stats.get("archive_bytes")  # absent in a server's own view: the file holds every server's
    archive = f"{stats.get('articles', 0)} articles" + (f" · {_bytes(size)}" if size is not None else "")
    embed.add_field(name="Archive", value=archive, inline=True)
    embed.add_field(
        name="Passages", value=f"{stats.get('passages', 0)} ({stats.get('embedded_passages', 0)} embedded)", inline=True
    )
    vectors = stats.get("vectors")
    embed.add_field(name="Vectors", value=str(vectors) if vectors is not None else "index unavailable", inline=True)
    embed.add_field(name="Model", value=safe(trim(str(stats.get("model") or "—"), 200)), inline=True)
    embed.add_field(name="Feeds", value=str(stats.get("feeds", 0)), inline=True)
    embed.add_field(name="Last poll", value=safe(str(stats.get("last_poll") or "never")), inline=True)
    failing = stats.get("failing_feeds") or []
    if failing:
        lines = [
            f"**{safe(trim(strip_credentials(f.get('name') or ''), 80))}** — "
            f"{safe(trim(redact(one_line(f.get('error') or 'error')), 200))}"
            for f in failing
        ]
        embed.add_field(name=f"Failing feeds ({len(failing)})", value=fit_lines(lines, FIELD_VALUE_LIMIT), inline=False)
    else:
        embed.add_field(name="Failing feeds", value="none", inline=False)
    if stats.get("index_error"):
        embed.add_field(
            name="Index", value=safe(trim(strip_credentials(redact(stats["index_error"])), 300)), inline=False
        )
    off = stats.get("dense_problem")  # searches fall back to keywords alone: why
    dense = f"⚠️ off — searches use keywords alone: {safe(trim(strip_credentials(redact(one_line(off))), 300))}"
    embed.add_field(name="Semantic search", value=dense if off else "on", inline=False)
    return finalize(embed)


def strip_credentials(text: str) -> str:
    """Remove user:password@ from any URL in the text."""
    return re.sub(r"(?<!\w)(\w+://)[^/\s@]+@", r"\1", text)  # from a word's start only: linear


def _bytes(size: int) -> str:
    n = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


# -- delivery (filters, limits, the delivery log) ------------------------------------
def filters_embed(feed: Feed, rules: Sequence) -> discord.Embed:
    """A feed's filter rules (FilterRule objects from the service)."""
    embed = discord.Embed(title=trim(f"Filters of {one_line(feed.display_name)}", TITLE_LIMIT), colour=COLOUR)
    lines = [rule_line(r) for r in rules]
    embed.description = (
        fit_lines(lines, DESCRIPTION_LIMIT)
        if lines
        else "No filters: every new article is posted. Add one with `/feeds filter add`."
    )
    return finalize(embed)


def rule_line(rule) -> str:
    """One filter rule, its pattern shown as code (never markdown, never a mention)."""
    neg = "not " if rule.negate else ""
    case = ", case-sensitive" if rule.case_sensitive else ""
    pattern = no_mentions(trim(rule.pattern, 300)).replace("`", "ˋ")
    return f"`#{rule.id}` {rule.action} {neg}{rule.field} {'regex' if rule.regex else 'words'} `{pattern}`{case}"


def filter_test_embed(feed: Feed, results: Sequence[tuple[Article, bool, str]]) -> discord.Embed:
    """Which of a feed's recent articles its filters pass, and why the others do not."""
    passed = sum(1 for _, ok, _ in results if ok)
    embed = discord.Embed(title=trim(f"Filter test: {one_line(feed.display_name)}", TITLE_LIMIT), colour=COLOUR)
    lines = [
        f"{'✅' if ok else '❌'} `{a.id}` {safe(trim(one_line(a.title), 90))}"
        + ("" if ok else f"\n  ↳ {safe(trim(why, 200))}")
        for a, ok, why in results
    ]
    embed.description = fit_lines(lines, DESCRIPTION_LIMIT) if lines else "The feed has no articles yet."
    embed.set_footer(text=f"{passed} of the last {len(results)} articles would be posted")
    return finalize(embed)


_STATE_ICONS = {
    "posted": "✅",
    "filtered": "🚫",
    "held": "⏸",
    "skipped": "⏭",
    "retry": "🔁",
    "failed": "❌",
    "sending": "⏳",
    "backlog": "📚",
    "waiting": "⏳",
    "none": "—",
    "claimed": "✅",
}


def why_text(article: Article, entries: Sequence[dict]) -> str:
    """The delivery log for one article, one line per channel."""
    lines = [f"**{safe(trim(one_line(article.title), 150))}** (article {article.id})"]
    for e in entries:
        feed = e.get("feed")
        where = f"<#{e['channel_id']}>" if e.get("channel_id") else "no channel"
        name = safe(trim(feed.display_name, 60)) if feed else "a removed feed"
        line = (
            f"{_STATE_ICONS.get(e['state'], '•')} {where} via {name}: **{e['state']}** — {safe(trim(e['reason'], 300))}"
        )
        if e.get("message_id") and e["state"] in ("posted", "claimed"):
            line += f" (message {e['message_id']})"
        if e["state"] == "retry" and e.get("next_try_at"):
            line += f"; next try <t:{int(e['next_try_at'])}:R>"
        lines.append(line)
    if not entries:
        lines.append("None of this server's feeds that carry it posts to a channel.")
    return message_text("\n".join(lines))


def post_message(
    content: tuple[str, str] | None, article: Article, feed: Feed | None, pings: Sequence[int] = ()
) -> dict:
    """The send() arguments of an auto-post: the default teaser embed, or a feed's template
    (already filled in with escaped values) as an embed's description or as plain text; the
    feed's opt-in role pings lead the content, and only they may mention anyone."""
    ping_line = " ".join(f"<@&{int(r)}>" for r in pings)
    allowed = ping_mentions(pings)
    if content is None:
        out = {"embed": teaser_embed(article, feed), "allowed_mentions": allowed}
        if ping_line:
            out["content"] = ping_line
        return out
    style, text = content
    if style == "text":
        return {"content": message_text(f"{ping_line}\n{text}" if ping_line else text), "allowed_mentions": allowed}
    embed = discord.Embed(
        title=safe(trim(one_line(article.title) or "(untitled)", TITLE_LIMIT - 10)),
        url=safe_url(article.url),
        colour=COLOUR,
        description=trim(text, DESCRIPTION_LIMIT),
    )
    out = {"embed": finalize(embed), "allowed_mentions": allowed}
    if ping_line:
        out["content"] = ping_line
    return out


def ping_mentions(roles: Sequence[int]) -> discord.AllowedMentions:
    """Mentions allowed in an auto-post: exactly the feed's ping roles (never @everyone/@here or users)."""
    if not roles:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False, users=False, replied_user=False, roles=[discord.Object(int(r)) for r in roles]
    )


# -- topic alerts ----------------------------------------------------------
def alert_embed(alert: Alert) -> discord.Embed:
    """One topic alert: the article (title linked, teaser, outlet and date), the other outlets'
    copies of the same story as "also reported by", and which follow it is for."""
    article = alert.article
    embed = discord.Embed(
        title=safe(trim(one_line(article.title) or "(untitled)", TITLE_LIMIT - 10)),
        url=safe_url(article.url),
        colour=COLOUR,
    )
    teaser = one_line(alert.snippet or article.summary or article.text)
    if teaser:
        embed.description = safe(trim(teaser, 300))
    if alert.also:
        lines = [link(f"{one_line(a.outlet) or 'another outlet'}: {one_line(a.title)}", a.url) for a in alert.also]
        embed.add_field(name="Also reported by", value=fit_lines(lines, FIELD_VALUE_LIMIT), inline=False)
    embed.set_footer(
        text=trim(
            f"{one_line(article.outlet)} · {short_date(article.published)} · "
            f"following “{one_line(alert.follow.topic)}” (#{alert.follow.id})",
            300,
        )
    )
    return finalize(embed)


def follow_line(follow: Follow) -> str:
    """A follow in a list: id, topic, where it is delivered."""
    target = f"<#{follow.channel_id}>" if follow.channel_id is not None else "your DMs"
    paused = " — ⏸ paused: your DMs could not be delivered" if follow.paused else ""
    return f"`#{follow.id}` **{safe(trim(one_line(follow.topic), 200))}** → {target}{paused}"
