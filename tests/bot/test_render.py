"""bot.render: limits, clean trimming, escaping (no Discord needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import discord
import pytest

from bot import render
from index.models import Answer, Article, Citation, Hit, PassageRow


def article(i: int, title: str = "Title", text: str = "Body text.", outlet: str = "Outlet") -> Article:
    return Article(
        id=i,
        guid=f"g{i}",
        url=f"https://news.example/a/{i}",
        title=title,
        outlet=outlet,
        authors=("A",),
        published=f"2025-03-0{i % 9 + 1}T10:00:00+00:00",
        published_ts=1_740_000_000.0 + i,
        date_source="feed",
        fetched_at="",
        language="en",
        summary=text[:300],
        text=text,
        text_source="feed",
    )


def hit(i: int, **kw) -> Hit:
    a = article(i, **kw)
    return Hit(article=a, passage=PassageRow(f"p{i}", i, 0, a.title, a.text, a.published_ts, a.outlet), score=1.0)


def within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= render.EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed.fields) <= render.MAX_FIELDS
    assert all(
        len(f.value) <= render.FIELD_VALUE_LIMIT and len(f.name) <= render.FIELD_NAME_LIMIT for f in embed.fields
    )


def test_trim_cuts_at_a_word_with_an_ellipsis():
    assert render.trim("short", 10) == "short"
    cut = render.trim("alpha beta gamma delta epsilon", 20)
    assert cut == "alpha beta gamma…" and len(cut) <= 20
    assert render.trim("x" * 50, 10) == "x" * 9 + "…"
    assert not render.trim("abc\\" + "d" * 20, 5).endswith("\\…")


def test_fit_lines_keeps_whole_lines():
    lines = [f"line number {i}" for i in range(100)]
    text = render.fit_lines(lines, 200)
    assert len(text) <= 200 and text.splitlines()[-1].startswith("…and ")
    assert all(line.startswith("line number") for line in text.splitlines()[:-1])


def test_safe_escapes_markdown_and_mentions():
    text = render.safe("**bold** @everyone @here <@&123> <@456> <@!789> [x](y) # head")
    assert "@everyone" not in text and "@here" not in text
    for raw in ("<@&123>", "<@456>", "<@!789>"):
        assert raw not in text
    assert "\\*\\*bold\\*\\*" in text
    assert render.unsafe(text).replace("\u200b", "") == "**bold** @everyone @here <@&123> <@456> <@!789> [x](y) # head"


def test_link_and_url_safety():
    assert (
        render.link("A [weird] title", "https://x.example/a (1)")
        == "[A \\[weird\\] title](https://x.example/a%20%281%29)"
    )
    assert render.link("Title", "javascript:alert(1)") == "Title"
    assert render.safe_url("ftp://x") is None


def test_huge_answer_fits_and_keeps_sources():
    huge = "The report says many things about everything. " * 400
    citations = [Citation(n, article(n, title="T" * 900 + f" {n}"), "q") for n in range(1, 6)]
    answer = Answer("Q" * 500, huge + " [1] [2] [3] [4] [5]", citations, False, notices=["n" * 3000])
    embed = render.answer_embed(answer)
    within_limits(embed)
    assert embed.title.endswith("…")
    assert "**Sources**" in embed.description
    assert embed.description.split("\n\n**Sources**")[0].endswith("…")
    assert "(https://news.example/a/1)" in embed.description


def test_answer_embed_round_trips_question_and_quotes():
    question = "What did *they* say about @everyone and <@&1>?"
    citations = [Citation(1, article(1), "First sentence here."), Citation(2, article(2), "Second one.")]
    answer = Answer(question, "First sentence here. [1] Second one. [2] More of the first. [1]", citations, False)
    embed = render.answer_embed(answer)
    assert "@everyone" not in embed.title
    assert render.question_from_embed(embed) == question
    assert render.quotes_from_embed(embed) == {1: ["First sentence here.", "More of the first."], 2: ["Second one."]}


def test_hedged_answer_opens_with_the_plain_sentence_and_keeps_its_sources():
    citations = [Citation(1, article(1), "First sentence here."), Citation(2, article(2), "Second one.")]
    answer = Answer("q", "First sentence here. [1] Second one. [2]", citations, False, hedged=True)
    embed = render.answer_embed(answer)
    first, rest = embed.description.split("\n", 1)
    assert first == "I found no coverage that answers this directly; the closest:"
    assert rest.startswith("First sentence here. [[1]](https://news.example/a/1) Second one.")
    assert "**Sources**" in embed.description and "(https://news.example/a/2)" in embed.description
    assert embed.colour == render.WARN_COLOUR
    # the opening is not a quote of source [1]
    assert render.quotes_from_embed(embed) == {1: ["First sentence here."], 2: ["Second one."]}
    plain = render.answer_embed(Answer("q", "First sentence here. [1]", citations[:1], False))
    assert not plain.description.startswith("I found no coverage") and plain.colour == render.COLOUR


def test_stale_answer_opens_with_the_date_of_its_newest_source():
    from dataclasses import replace

    def on(i: int, day: int) -> Article:
        return replace(article(i), published_ts=datetime(2025, 3, day, 23, 30, tzinfo=UTC).timestamp())

    # the newest source dates the opening, in UTC as the sources are
    citations = [Citation(1, on(1, 2), "First sentence here."), Citation(2, on(2, 3), "Second one.")]
    answer = Answer("q", "First sentence here. [1] Second one. [2]", citations, False, hedged=True)
    answer.hedge_reason = "stale"
    embed = render.answer_embed(answer)
    first, rest = embed.description.split("\n", 1)
    assert first == "I found no recent coverage that answers this; the closest is from 3 March 2025:"
    assert rest.startswith("First sentence here. [[1]](https://news.example/a/1)")
    assert embed.colour == render.WARN_COLOUR
    assert render.quotes_from_embed(embed) == {1: ["First sentence here."], 2: ["Second one."]}


def test_abstained_answer_lists_closest():
    answer = Answer("q", "I couldn't find coverage.", [], True, hits=[hit(i) for i in range(1, 9)])
    embed = render.answer_embed(answer)
    assert "**Closest articles**" in embed.description
    assert embed.description.count("https://news.example/a/") == 5


@pytest.mark.parametrize("n", [0, 3, 60])
def test_result_pages(n):
    hits = [hit(i, title=f"Story {i} " + "x" * 400, text="y" * 5000) for i in range(n)]
    embed = render.hits_page_embed("Search: " + "z" * 400, hits, 1, 5, notices=["note " * 400])
    within_limits(embed)
    if n == 0:
        assert embed.description == "No matching articles."
    if n == 60:
        assert "**6.**" in embed.description and embed.footer.text == "Page 2/12 · 60 results"


def test_finalize_enforces_every_limit():
    embed = discord.Embed(title="t" * 1000, description="d" * 10000)
    for _ in range(40):
        embed.add_field(name="n" * 300, value="v" * 2000)
    embed.set_footer(text="f" * 3000)
    embed.set_author(name="a" * 300)
    within_limits(render.finalize(embed))


def test_status_embed_shows_no_paths():
    stats = {
        "articles": 3,
        "passages": 9,
        "embedded_passages": 9,
        "vectors": 9,
        "model": "m",
        "feeds": 1,
        "archive_bytes": 5_000_000,
        "last_poll": None,
        "index_error": "https://user:pw@chroma.example down",
        "failing_feeds": [{"name": "https://u:p@feed.example/rss", "error": "HTTP 500"}],
    }
    text = str(render.status_embed(stats).to_dict())
    assert "pw@" not in text and "u:p@" not in text and "4.8 MB" in text


def test_direct_answer_line_stays_bold_and_the_rest_is_escaped():
    body = render.answer_body("**700** federal *agents* [1]\n\nHoman said 700 agents will leave @everyone. [1]")
    lead, rest = body.split("\n")
    assert lead == "**700** federal \\*agents\\* [1]"
    assert "@\u200beveryone" in rest and "\n" not in rest
    # text that merely starts with ** (no direct line) is escaped like any other
    assert render.answer_body("**bold** from an article [1]").startswith("\\*\\*bold")


def test_citation_markers_link_to_their_sources():
    citations = [Citation(1, article(1), "First sentence here."), Citation(2, article(2), "Second one.")]
    text = "**700** agents [1]\n\nFirst sentence here. [1] Second one. [2] An article's own \\[3\\] stays. [3]"
    embed = render.answer_embed(Answer("Q?", text, citations, False))
    body = embed.description.split("\n\n**Sources**")[0]
    assert "**700** agents [[1]](https://news.example/a/1)" in body
    assert "Second one. [[2]](https://news.example/a/2)" in body
    assert body.endswith("stays. [3]")  # no source numbered 3: left as it is
    assert render.quotes_from_embed(embed)[2] == ["Second one."]  # the passages button still reads it back


def test_linked_markers_fit_the_description():
    citations = [Citation(n, article(n), "q") for n in range(1, 6)]
    marks = " ".join(f"Claim number {i} is stated here. [{i % 5 + 1}]" for i in range(300))
    embed = render.answer_embed(Answer("Q", marks, citations, False))
    within_limits(embed)
    assert "[[1]](https://news.example/a/1)" in embed.description
