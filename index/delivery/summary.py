"""The extractive summary a post template shows as ``{summary}``: for now the article's first one
or two sentences. One function, so a better summariser can replace it in one place."""

from __future__ import annotations

from ..models import Article
from ..text.chunking import split_sentences

MAX_SUMMARY_CHARS = 400


def summarize(article: Article, max_chars: int = MAX_SUMMARY_CHARS) -> str:
    """The first sentence, and the second too when both fit in ``max_chars``."""
    sentences = split_sentences(article.text or article.summary or "")
    if not sentences:
        return ""
    summary = sentences[0]
    if len(sentences) > 1 and len(summary) + 1 + len(sentences[1]) <= max_chars:
        summary += " " + sentences[1]
    return summary[:max_chars]
