"""The extractive summary a post template shows as ``{summary}`` (and digests reuse): the one or two
sentences of the article that best say what its title says, by the answers' own sentence selection
(:func:`index.answers.selection.best_sentences`; the lead wins unless a later sentence says much
more). One function, so a better summariser can replace it in one place."""

from __future__ import annotations

from ..answers.selection import best_sentences
from ..models import Article
from ..text.lead import strip_furniture

MAX_SUMMARY_CHARS = 400


def summarize(article: Article, max_chars: int = MAX_SUMMARY_CHARS) -> str:
    """One or two sentences, in the article's order, within ``max_chars``."""
    text = strip_furniture(article.text or article.summary or "")  # a dateline is no summary
    sentences = best_sentences(article.title or "", text, 2, max_chars)
    return " ".join(sentences)[:max_chars]
