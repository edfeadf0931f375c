"""Reading the archive: questions answered with cited sources, the latest articles, one article, the
sources, and the cheap checks the bot runs before it defers."""

from __future__ import annotations

from collections.abc import Callable

from ..answers.extractive import ExtractiveAnswerer
from ..answers.llm import LLMAnswerer
from ..config import llm_api_key
from ..errors import IndexUnavailable, NotFound
from ..models import GLOBAL, Answer, Article, Hit, Scope
from ..parts import Parts
from ..text.dates import check_order, parse_moment
from .retriever import clean_question


class ReadingService:
    def __init__(self, parts: Parts):
        self.config = parts.config
        self.archive = parts.archive
        self.retriever = parts.retriever
        self.extractive = ExtractiveAnswerer(parts.config.answers, parts.embedder_or_load)
        self.answerer: ExtractiveAnswerer | LLMAnswerer = self.extractive
        if parts.config.answers.llm_url:
            self.answerer = LLMAnswerer(parts.config.answers, llm_api_key(parts.config), self.extractive)

    @property
    def streams(self) -> bool:
        """True when answers can be streamed as drafts (the LLM answerer is configured)."""
        return isinstance(self.answerer, LLMAnswerer)

    def ask(
        self,
        question: str,
        *,
        as_of=None,
        since=None,
        until=None,
        source: str | None = None,
        scope: Scope = GLOBAL,
        context: str | None = None,
        on_draft: Callable[[str], None] | None = None,
    ) -> Answer:
        """``on_draft(text_so_far)``: with the LLM answerer, called (from this thread) as the reply is
        written; the Answer returned is the checked one. Ignored by the extractive answerer."""
        result = self.retriever.search(
            question, as_of=as_of, since=since, until=until, source=source, limit=8, scope=scope, context=context
        )
        if on_draft is not None and isinstance(self.answerer, LLMAnswerer):
            return self.answerer.answer(question, result, on_text=on_draft)
        return self.answerer.answer(question, result)

    def latest(
        self, topic: str | None = None, *, source: str | None = None, limit: int = 10, as_of=None, scope: Scope = GLOBAL
    ) -> list[Hit]:
        limit = max(1, min(int(limit), 50))
        if topic and topic.strip():
            result = self.retriever.search(topic, source=source, limit=limit * 3, as_of=as_of, scope=scope)
            relevant = [h for h in result.hits if h.dense >= self.config.answers.min_relevance or h.keyword > 0.3]
            relevant.sort(key=lambda h: -(h.article.published_ts or 0))
            return relevant[:limit]
        outlets = self.retriever.resolve_outlets(source, scope)
        until = parse_moment(as_of, end_of_day=True, name="as-of")
        articles = self.archive.latest_articles(
            limit=limit * 3, until_ts=until.timestamp() if until else None, outlets=outlets, scope=scope
        )
        hits = [Hit(article=a, passage=self.archive.first_passage(a), score=0.0) for a in articles]
        try:
            self.retriever.refresh_mirror()
        except IndexUnavailable:
            pass
        return self.retriever.group_stories(hits, limit)[:limit]

    def article(self, url_or_id: str | int, scope: Scope = GLOBAL) -> Article:
        article = self.archive.get_article(url_or_id)
        if scope.scoped and not self.archive.article_visible(article.id, scope.guild_id):
            raise NotFound(f"no article {url_or_id!r} in this server's feeds")
        return article

    def sources(self, scope: Scope = GLOBAL) -> dict:
        return {"outlets": self.archive.outlets(scope), "feeds": self.archive.list_feeds(scope)}

    def check_query(
        self,
        question: str | None,
        *,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        scope: Scope = GLOBAL,
    ) -> None:
        """The cheap checks of a question and its options, without searching (the bot runs them
        before deferring, so a mistake gets an ephemeral reply): an empty question, unreadable
        dates, since after until, an unknown source. Raises BadQuery."""
        if question is not None:
            clean_question(question)
        since_dt = parse_moment(since, name="since")
        until_dt = parse_moment(until, end_of_day=True, name="until")
        check_order(since_dt, until_dt)
        if source:
            self.retriever.resolve_outlets(source, scope)

    def passage_texts(self, article_id: int, scope: Scope = GLOBAL) -> tuple[Article, list[str]]:
        """An article visible in scope and the texts of its passages, in order (NotFound otherwise)."""
        article = self.article(article_id, scope)
        return article, [p.text for p in self.archive.article_passages(article.id)]
