"""How relevant new articles are to a followed topic: the hybrid retrieval of ``/ask``
(index.search.retriever), restricted to the new articles and the follow's scope.

A search ranks articles against each other, so its keyword half is normalised to the best
candidate: fine for an order, meaningless for a threshold (among three new articles the best
always scores 1). An alert needs an absolute score, so this uses the retriever's absolute parts:

- dense: the best passage's score on the retriever's vector mirror (cosine less the density
  penalty), searched with a row mask of just the new articles (and the server's scope);
- keyword: the topic's lexical coverage (the share of its IDF weight the article's title and best
  passages contain), the retriever's ``coverage_weight`` times it added, as in its ranking;
- length: the retriever's length correction (the best of many passages wins by chance alone);
- date: only the articles that arrived in this pass are candidates, and a date the topic names
  ("in March 2026") is removed from its words like the retriever does.

The score is ``dense - length correction + coverage_weight * coverage`` (the retriever's base
score before its time factors, with coverage in place of the normalised BM25)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from ..errors import IndexUnavailable
from ..models import Hit, Scope
from ..search.lexical import coverage, stems
from ..search.retriever import Retriever, clean_question, length_correction
from ..text.dates import resolve_time

log = logging.getLogger(__name__)

PASSAGES_PER_ARTICLE = 3  # the best passages whose words count for the coverage


def topic_query(topic: str) -> str:
    """The topic as search words (markup and a named date removed)."""
    text = clean_question(topic)
    intent = resolve_time(text, datetime.now(UTC), None, None)
    return intent.query.strip() or text


def score_articles(retriever: Retriever, topic: str, article_ids: Iterable[int], scope: Scope) -> list[Hit]:
    """Hits for the given articles (those visible in scope), best first, ``score`` the alert score,
    ``dense`` the best cosine and ``keyword`` the coverage. Articles without embedded passages are
    scored on coverage alone (as the keyword-only fallback of a search)."""
    ids = set(article_ids)
    if not ids:
        return []
    archive = retriever.archive
    query = topic_query(topic)
    config = retriever.config
    dense: dict[int, list[tuple[float, float, str]]] = {}  # article -> [(score, cosine, passage id)]
    try:
        retriever.refresh_mirror()
        mirror = retriever.mirror
        if len(mirror):
            allowed = mirror.article_mask(ids)
            if scope.scoped:
                allowed = allowed & retriever.scope_rows(scope.guild_id)
            candidates = int(allowed.sum())
            if candidates:
                vector = retriever.embed_query(query)
                found = mirror.search(vector, candidates, allowed)
                meta = archive.passage_meta(set(found.ids))
                for pid, score, cosine in zip(found.ids, found.scores.tolist(), found.cosines.tolist(), strict=True):
                    if pid in meta:
                        dense.setdefault(meta[pid][0], []).append((score, cosine, pid))
    except IndexUnavailable as exc:
        log.warning("topic alerts without the dense index (%s): coverage only", exc)
    visible = ids if not scope.scoped else {a for a in ids if a in dense or archive.article_visible(a, scope.guild_id)}
    articles = archive.articles_by_ids(visible)
    if not articles:
        return []
    weights = retriever.question_weights(query)
    lengths = archive.passage_counts(list(articles))
    best: dict[int, list[str]] = {}
    for aid in articles:
        scored = sorted(dense.get(aid, []), reverse=True)
        best[aid] = [pid for _, _, pid in scored[:PASSAGES_PER_ARTICLE]]
    passages = archive.passages_by_ids(pid for pids in best.values() for pid in pids)
    hits = []
    for aid, article in articles.items():
        pids = [pid for pid in best[aid] if pid in passages]
        rows = [passages[pid] for pid in pids] or archive.article_passages(aid)[:PASSAGES_PER_ARTICLE]
        if not rows:
            rows = [archive.first_passage(article)]
        covered = max(coverage(weights, stems(f"{article.title} {p.text}")) for p in rows) if weights else 0.0
        scored = sorted(dense.get(aid, []), reverse=True)
        top_score, top_cosine = (scored[0][0], scored[0][1]) if scored else (0.0, 0.0)
        score = top_score - length_correction(lengths.get(aid, 1)) + config.coverage_weight * covered
        hits.append(
            Hit(article=article, passage=rows[0], score=score, dense=top_cosine, keyword=covered, passages=rows)
        )
    hits.sort(key=lambda h: (-h.score, h.article.id))
    return hits
