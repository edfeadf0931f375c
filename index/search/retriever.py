"""Hybrid, date-aware retrieval over the archive.

Keyword (SQLite FTS5, BM25) and dense (the vector mirror) candidates are collapsed
to distinct articles, fused by a weighted sum of normalised scores, nudged by time
(the window the question names, and recent coverage) and by outlets named in the
question, then grouped into stories (near-duplicates folded under one result).
"""

from __future__ import annotations

import html
import logging
import math
import re
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from ..archive import Archive
from ..config import IndexConfig, RetrievalConfig
from ..errors import BadQuery, IndexUnavailable, NewsdeskError
from ..models import GLOBAL, Hit, Scope, SearchResult, TimeIntent
from ..text.dates import parse_moment, resolve_time, year_preference
from ..vectors.chroma import VectorStore
from ..vectors.engine import DenseEngine, engine_wanted
from ..vectors.mirror import DenseMirror
from .lexical import coverage, idf, question_words, stems
from .scoring import linear_fusion, max_normalise
from .stories import DAY, group_stories

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
WINDOW_BOOST = 1.0  # relevance x2 inside the window the question names
DAY_BOOST = 0.5  # and up to x2.5 on the very day it names
OUTLET_BOOST = 1.3  # an outlet named in the question
YEAR_BOOST = 0.2  # relevance x1.2 around a year the question uses as a label
LENGTH_SPREAD = 0.13  # about the spread of dense scores among unrelated passages (tuned on dev)
LENGTH_CAP = 30  # passages; the correction stops growing there
RERANK_DEPTH = 30  # articles the optional reranker reorders
COVERAGE_DEPTH = 30  # articles whose lexical coverage of the question is added


def length_correction(passages: int) -> float:
    """The best of n passages beats a single one by about spread * sqrt(2 ln n) by chance alone
    (the expected maximum of n draws); subtract that so long articles don't win on length."""
    n = min(max(passages, 1), LENGTH_CAP)
    return LENGTH_SPREAD * math.sqrt(2 * math.log(n))


class Reranker(Protocol):
    def rerank(self, question: str, passages: list[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A local cross-encoder (never downloaded): ``retrieval.rerank_model`` names its directory."""

    def __init__(self, path: str):
        from pathlib import Path

        if not Path(path).expanduser().is_dir():
            raise NewsdeskError(f"retrieval.rerank_model: {path!r} is not a local model directory")
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(str(Path(path).expanduser()), device="cpu", local_files_only=True)

    def rerank(self, question: str, passages: list[str]) -> list[float]:
        return [float(s) for s in self._model.predict([(question, p) for p in passages])]


_TAG = re.compile(r"<[a-zA-Z/!][^<>]{0,2000}>")


def clean_question(text: str) -> str:
    """The question as search text: markup pasted along with it (links copied from a web page)
    removed, entities decoded; empty or wordless questions refused."""
    text = (text or "").strip()
    if "<" in text or "&" in text:
        text = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    if not text:
        raise BadQuery("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        text = text[:MAX_QUESTION_CHARS]
    if not re.search(r"\w", text):
        raise BadQuery("the question has no words to search for")
    return text


@dataclass(frozen=True)
class _Bounds:
    """The hard date bounds of a search (unix times) and the window the question names, inside them."""

    since_ts: float | None
    until_ts: float | None
    window: tuple[float, float] | None

    @classmethod
    def of(cls, intent: TimeIntent) -> _Bounds:
        since_ts = intent.since.timestamp() if intent.since else None
        until_ts = intent.until.timestamp() if intent.until else None
        window = None
        if intent.window:
            window = (
                max(intent.window[0].timestamp(), since_ts or -1e18),
                min(intent.window[1].timestamp(), until_ts or 1e18),
            )
        return cls(since_ts, until_ts, window)


@dataclass
class _Dense:
    """Dense scores of candidate passages: ranking score (cosine less the density penalty) and cosine."""

    scores: dict[str, float] = field(default_factory=dict)
    cosines: dict[str, float] = field(default_factory=dict)
    query_vector: np.ndarray | None = None
    meta: dict[str, tuple] = field(default_factory=dict)  # archive records already read (DenseHits.meta)
    ran: bool = False  # a dense search was made (False: no vectors yet, or the index failed)
    error: str | None = None  # why the index failed: the search then stands on keywords alone

    def add_missing(self, mirror: DenseMirror | DenseEngine, passage_ids: list[str]) -> None:
        """Score keyword-only candidates against the query too (when it was embedded)."""
        if self.query_vector is None:
            return
        for pid, scored in zip(passage_ids, mirror.scores_for(self.query_vector, passage_ids), strict=True):
            if scored is not None:
                self.scores[pid], self.cosines[pid] = scored


@dataclass
class _Candidates:
    """Candidate articles: their passages (fused score, id), best dense/cosine/keyword scores, date and
    outlet; then the ranking's base score, factor and fused score."""

    passages: dict[int, list[tuple[float, str]]] = field(default_factory=dict)
    meta: dict[int, tuple[float, str]] = field(default_factory=dict)
    dense: dict[int, float] = field(default_factory=dict)
    cosine: dict[int, float] = field(default_factory=dict)
    keyword: dict[int, float] = field(default_factory=dict)
    base: dict[int, float] = field(default_factory=dict)
    factors: dict[int, float] = field(default_factory=dict)
    fused: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DenseState:
    """How the last search's dense half went, for doctor and /status: ran, or failed and why."""

    ran: bool
    error: str | None
    at: str  # ISO time of that search


class Retriever:
    def __init__(
        self, archive: Archive, config: RetrievalConfig, embedder_loader, store_loader, index: IndexConfig | None = None
    ):
        self.archive = archive
        self.config = config
        self._embedder_loader = embedder_loader
        self._store_loader = store_loader
        self.index_config = index or IndexConfig()
        self.mirror = DenseMirror(config.density_penalty, neighbours=self.index_config.neighbours)
        # Chroma's own query instead of the mirror (index.dense; "auto": past mirror_max_passages)
        self.engine = DenseEngine(archive, config.density_penalty)
        self.uses_engine = self.index_config.dense == "engine"
        self._document_frequency: dict[str, int] = {}
        self._document_frequency_basis = 0  # articles in the mirror when those counts were taken
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._outlets_cache: dict[tuple, list[str]] = {}
        self._scope_cache: dict[int | None, tuple[tuple, np.ndarray]] = {}
        # keyword searches run in these threads beside the dense half of a search
        self._keyword_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsdesk-keyword")
        self.dense_state: DenseState | None = None  # the last search's (None: none yet)
        self._reranker: Reranker | None = None
        if config.rerank_model:
            self._reranker = CrossEncoderReranker(config.rerank_model)

    # -- pieces ----------------------------------------------------------------
    def embed_query(self, text: str) -> np.ndarray:
        with self._cache_lock:
            if text in self._cache:
                self._cache.move_to_end(text)
                return self._cache[text]
        vector = self._embedder_loader().encode([text])[0]
        with self._cache_lock:
            self._cache[text] = vector
            while len(self._cache) > self.config.query_cache_size:
                self._cache.popitem(last=False)
        return vector

    @property
    def dense_index(self) -> DenseMirror | DenseEngine:
        """What dense candidates come from: the mirror or Chroma's engine."""
        return self.engine if self.uses_engine else self.mirror

    def refresh_mirror(self) -> None:
        generation = self.archive.get_meta("index_generation") or "0"
        if generation == self.dense_index.generation:
            return
        store: VectorStore = self._store_loader()
        store.follow(generation)  # another process's writes: an embedded client opens the index anew
        store.check_model()  # vectors of another model would make the query embedding meaningless
        if self.index_config.dense == "auto":
            self.uses_engine = engine_wanted(
                "auto", self.archive.embedded_passage_count(), self.index_config.mirror_max_passages
            )
        if self.uses_engine:
            if len(self.mirror):  # grown past the mirror's size: its memory is given back
                self.mirror = DenseMirror(self.config.density_penalty, neighbours=self.index_config.neighbours)
            self.engine.refresh(store, generation)
            return
        updates = self.mirror.refresh(self.archive.embedded_passage_rows(), store, generation)
        if updates:
            try:
                self.archive.save_neighbours(updates)
            except NewsdeskError as exc:  # a read-only archive still searches; it recomputes next start
                log.warning("could not store passage neighbours: %s", exc)

    def probe_dense(self) -> DenseState:
        """Whether dense retrieval works now (for doctor and /status): the vectors are read as a
        search would read them, and Chroma's own query answers when it is the dense index."""
        try:
            self.refresh_mirror()
            if self.uses_engine and len(self.engine):
                store: VectorStore = self._store_loader()
                store.nearest(np.ones((1, store.dimension), dtype=np.float32), 1, metadata=False)
            return DenseState(True, None, datetime.now(UTC).isoformat(timespec="seconds"))
        except NewsdeskError as exc:  # unavailable, another model, a model that does not load
            return DenseState(False, str(exc), datetime.now(UTC).isoformat(timespec="seconds"))

    def question_weights(self, query: str) -> dict[str, float]:
        """IDF weight of each of the question's content words (by stem). Document frequencies are
        cached until the archive has grown or shrunk by 2%: weights need not follow every ingest
        batch, and counting a common word's articles costs milliseconds."""
        documents = max(self.dense_index.article_count, 1)
        if abs(documents - self._document_frequency_basis) > 0.02 * self._document_frequency_basis:
            self._document_frequency = {}
            self._document_frequency_basis = documents
        weights = {}
        for stem, word in question_words(query).items():
            df = self._document_frequency.get(word)
            if df is None:
                df = self.archive.document_frequency(word)
                if len(self._document_frequency) > 50_000:
                    self._document_frequency.clear()
                self._document_frequency[word] = df
            weights[stem] = idf(df, documents)
        return weights

    def known_outlets(self, scope: Scope) -> list[str]:
        """Outlet names in scope, cached until the archive's index generation changes
        (new or removed articles always change it)."""
        key = (scope, self.archive.get_meta("index_generation"))
        cached = self._outlets_cache.get(key)
        if cached is None:
            cached = [o["outlet"] for o in self.archive.outlets(scope)]
            if len(self._outlets_cache) > 256:
                self._outlets_cache.clear()
            self._outlets_cache[key] = cached
        return cached

    def scope_rows(self, guild_id: int | None) -> np.ndarray:
        """The mirror rows a server may see (its feeds plus the global ones), cached until the
        mirror or the feed/article links change; a per-query SQL set would cost ~50 ms at 100k passages."""
        key = (self.mirror.generation, len(self.mirror), self.archive.scope_signature())
        cached = self._scope_cache.get(guild_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = self.mirror.article_mask(self.archive.visible_article_ids(guild_id))
        if len(self._scope_cache) > 1024:
            self._scope_cache.clear()
        self._scope_cache[guild_id] = (key, rows)
        return rows

    def resolve_outlets(self, source: str | None, scope: Scope = GLOBAL) -> list[str] | None:
        if not source:
            return None
        known = self.known_outlets(scope)
        wanted = source.strip().lower()
        exact = [o for o in known if o and o.lower() == wanted]
        if exact:
            return exact
        partial = [o for o in known if o and (o.lower().startswith(wanted) or wanted in o.lower())]
        if partial:
            return partial
        listing = ", ".join(sorted(o for o in known if o)[:15]) or "none yet"
        raise BadQuery(f"unknown source {source!r}; known sources: {listing}")

    def outlets_named_in(self, question: str, known: list[str]) -> list[str]:
        low = question.lower()
        return [o for o in known if o and len(o) > 2 and re.search(rf"(?<!\w){re.escape(o.lower())}(?!\w)", low)]

    # -- search -------------------------------------------------------------------
    def search(
        self,
        question: str,
        *,
        as_of=None,
        since=None,
        until=None,
        source: str | None = None,
        limit: int = 10,
        scope: Scope = GLOBAL,
        context: str | None = None,
        group_stories: bool = True,
    ) -> SearchResult:
        """Keyword and dense candidates, collapsed to articles, fused and corrected, the top ones
        credited with their lexical coverage of the question (and reranked, with a reranker), then
        near-duplicate stories grouped."""
        question = clean_question(question)
        limit = max(1, min(int(limit), 100))
        as_of_dt = parse_moment(as_of, end_of_day=True, name="as-of") or datetime.now(UTC)
        since_dt = parse_moment(since, name="since", relative_to=as_of_dt)
        until_dt = parse_moment(until, end_of_day=True, name="until", relative_to=as_of_dt)
        intent = resolve_time(question, as_of_dt, since_dt, until_dt)
        outlets = self.resolve_outlets(source, scope)
        named = [] if outlets else self.outlets_named_in(question, self.known_outlets(scope))
        query = intent.query
        if context:
            query = f"{query} {context}"
        bounds = _Bounds.of(intent)

        # keyword candidates, in a worker thread while the query is embedded and the mirror searched
        # (SQLite and the encoder both release the GIL: on two cores the two overlap)
        keyword_jobs = self._start_keyword_search(query, bounds, outlets, scope)
        dense, notices = self._dense_candidates(query, bounds, outlets, scope)
        kw_scores = {pid: score for job in keyword_jobs for pid, _, score in job.result()}

        passage_ids = set(dense.scores) | set(kw_scores)
        if not passage_ids:
            return SearchResult([], intent, notices, dense.query_vector)
        # no text yet: most candidates are never shown; the engine's post-filter read some already
        meta = {**dense.meta, **self.archive.passage_meta(passage_ids - dense.meta.keys())}
        dense.add_missing(self.dense_index, [pid for pid in kw_scores if pid not in dense.scores])
        candidates = self._collapse(passage_ids, meta, dense, max_normalise(kw_scores))
        order = self._rank(candidates, intent, named)
        hits = self._hits(query, candidates, order, limit)
        if group_stories:
            hits = self.group_stories(hits, limit)
        # the archive's front at the as-of moment, in what was searched: how old the hits are beside it
        front_ts = bounds.until_ts if bounds.until_ts is not None else intent.as_of.timestamp()

        def front() -> float | None:
            return self.archive.newest_published_ts(until_ts=front_ts, outlets=outlets, scope=scope)

        weights = self.question_weights(intent.query)
        return SearchResult(hits[:limit], intent, notices, dense.query_vector, weights, front)

    def _start_keyword_search(
        self, query: str, bounds: _Bounds, outlets: list[str] | None, scope: Scope
    ) -> list[Future]:
        """BM25 over the whole range, and over the window the question names (inside any since/until)."""
        k = self.config.candidates
        jobs = [
            self._keyword_pool.submit(
                self.archive.keyword_search,
                query,
                limit=k,
                since_ts=bounds.since_ts,
                until_ts=bounds.until_ts,
                outlets=outlets,
                scope=scope,
                max_postings=self.config.keyword_postings,
            )
        ]
        if bounds.window:
            jobs.append(
                self._keyword_pool.submit(
                    self.archive.keyword_search,
                    query,
                    limit=k // 2,
                    since_ts=bounds.window[0],
                    until_ts=bounds.window[1],
                    outlets=outlets,
                    scope=scope,
                    max_postings=self.config.keyword_postings,
                )
            )
        return jobs

    def _dense_candidates(
        self, query: str, bounds: _Bounds, outlets: list[str] | None, scope: Scope
    ) -> tuple[_Dense, list[str]]:
        """Nearest passages on the mirror, over the whole range and the named window; keyword
        results only (with a notice) when the vector index is unavailable."""
        dense = _Dense()
        notices: list[str] = []
        k = self.config.candidates
        try:
            self.refresh_mirror()
            if self.uses_engine:
                self._engine_candidates(dense, query, bounds, outlets, scope)
            elif len(self.mirror):
                dense.query_vector = self.embed_query(query)
                visible = self.scope_rows(scope.guild_id) if scope.scoped else None
                found = [
                    self.mirror.search(
                        dense.query_vector, k, self.mirror.mask(bounds.since_ts, bounds.until_ts, outlets, visible)
                    )
                ]
                if bounds.window:
                    found.append(
                        self.mirror.search(
                            dense.query_vector, k // 2, self.mirror.mask(*bounds.window, outlets, visible)
                        )
                    )
                for hits in found:
                    dense.scores.update(zip(hits.ids, hits.scores.tolist(), strict=True))
                    dense.cosines.update(zip(hits.ids, hits.cosines.tolist(), strict=True))
                dense.ran = True
        except IndexUnavailable as exc:
            dense.ran, dense.error = False, str(exc)
            notices.append(f"semantic index unavailable ({exc}); keyword results only")
            log.warning("dense search unavailable: %s", exc)
        self.dense_state = DenseState(dense.ran, dense.error, datetime.now(UTC).isoformat(timespec="seconds"))
        return dense, notices

    def _collapse(self, passage_ids: set[str], meta: dict, dense: _Dense, kw_norm: dict[str, float]) -> _Candidates:
        """Passages to articles: each article's passages by their fused score, its best dense score,
        cosine and keyword score, and its date and outlet."""
        c = _Candidates()
        for pid in passage_ids:
            m = meta.get(pid)
            if m is None:
                continue
            article_id, published_ts, outlet = m
            s = (
                dense.scores.get(pid, 0.0) * self.config.dense_weight
                + kw_norm.get(pid, 0.0) * self.config.keyword_weight
            )
            c.passages.setdefault(article_id, []).append((s, pid))
            c.meta[article_id] = (published_ts or 0.0, outlet)
        for aid, items in c.passages.items():
            c.dense[aid] = max(dense.scores.get(pid, 0.0) for _, pid in items)
            c.cosine[aid] = max(dense.cosines.get(pid, 0.0) for _, pid in items)
            c.keyword[aid] = max(kw_norm.get(pid, 0.0) for _, pid in items)
        return c

    def _rank(self, c: _Candidates, intent: TimeIntent, named: list[str]) -> list[int]:
        """Fused relevance less the length correction, times the time and outlet factors; an article
        whose corrections outweigh its match still ranks, after every positive one."""
        c.fused = linear_fusion([(c.dense, self.config.dense_weight), (c.keyword, self.config.keyword_weight)])
        lengths = self.archive.passage_counts(list(c.passages))
        year_spans = [(a.timestamp(), b.timestamp()) for a, b in year_preference(intent.years)]
        for aid, base in list(c.fused.items()):
            published_ts, outlet = c.meta[aid]
            # the best of many passages is higher by chance alone: correct for the article's length
            c.base[aid] = base - length_correction(lengths.get(aid, 1))
            factor = self._time_factor(published_ts, intent, year_spans)
            if named and outlet in named:
                factor *= OUTLET_BOOST
            c.factors[aid] = factor
            c.fused[aid] = max(0.0, c.base[aid]) * factor
        return sorted(c.fused, key=lambda a: (-c.fused[a], -c.base[a], a))

    def _hits(self, query: str, c: _Candidates, order: list[int], limit: int) -> list[Hit]:
        """Full rows for what can still be shown (enough for story grouping to fill ``limit``), the
        coverage credit and the optional reranker on the top articles, then the hits in order."""
        order = order[: max(4 * limit, RERANK_DEPTH + 10, COVERAGE_DEPTH + 10)]
        for aid in order:
            c.passages[aid].sort(reverse=True)
        passages = self.archive.passages_by_ids(pid for aid in order for _, pid in c.passages[aid][:3])
        articles = self.archive.articles_by_ids(order)
        order = [a for a in order if a in articles and c.passages[a][0][1] in passages]
        if self.config.coverage_weight > 0 and order:
            order = self._add_coverage(query, order, c.passages, passages, c.base, c.factors, c.fused)
        if self._reranker is not None and order:
            top = order[:RERANK_DEPTH]
            scores = self._reranker.rerank(query, [passages[c.passages[a][0][1]].text for a in top])
            order = [a for _, a in sorted(zip(scores, top, strict=True), key=lambda x: -x[0])] + order[RERANK_DEPTH:]
        hits = []
        for aid in order:
            items = c.passages[aid]
            hits.append(
                Hit(
                    article=articles[aid],
                    passage=passages[items[0][1]],
                    score=c.fused[aid],
                    dense=c.cosine.get(aid, 0.0),
                    keyword=c.keyword.get(aid, 0.0),
                    passages=[passages[pid] for _, pid in items[:3] if pid in passages],
                )
            )
        return hits

    def _add_coverage(
        self,
        query: str,
        order: list[int],
        per_article: dict,
        passages: dict,
        base_scores: dict[int, float],
        factors: dict[int, float],
        fused: dict[int, float],
    ) -> list[int]:
        """Add each top article's lexical coverage of the question (its best of up to three
        candidate passages, title included) to its relevance, and reorder those articles."""
        weights = self.question_weights(query)
        if not weights:
            return order
        top = order[:COVERAGE_DEPTH]
        for aid in top:
            covered = max(
                coverage(weights, stems(f"{passages[pid].title} {passages[pid].text}"))
                for _, pid in per_article[aid][:3]
                if pid in passages
            )
            fused[aid] = max(0.0, base_scores[aid] + self.config.coverage_weight * covered) * factors[aid]
        return sorted(top, key=lambda a: (-fused[a], -base_scores[a], a)) + order[COVERAGE_DEPTH:]

    def _time_factor(self, published_ts: float, intent: TimeIntent, year_spans: list[tuple[float, float]]) -> float:
        """Multiplies relevance: coverage from the last days before the as-of moment, and
        coverage inside the window the question names (most of all on the day it names), and
        around a year the question uses as a label. A multiplier, not an addition, so an
        irrelevant recent article stays irrelevant."""
        factor = 1.0
        age_days = (intent.as_of.timestamp() - published_ts) / DAY
        recent = self.config.recent_days
        if recent > 0 and 0 <= age_days <= recent:
            factor += self.config.recent_boost * (1.0 - age_days / (2 * recent))
        if intent.window and intent.window[0].timestamp() <= published_ts <= intent.window[1].timestamp():
            factor += WINDOW_BOOST
            if intent.day is not None:
                distance = abs(intent.day.timestamp() - published_ts) / DAY
                factor += DAY_BOOST * max(0.0, 1.0 - distance / 7.0)
        if any(start <= published_ts < end for start, end in year_spans):
            factor *= 1.0 + YEAR_BOOST
        return factor

    def group_stories(self, hits: list[Hit], limit: int) -> list[Hit]:
        """Fold near-duplicates (same story, other outlet or syndicated copy) under the best-ranked one."""
        if self.uses_engine:  # one Chroma read for all, not one per hit
            self.engine.fetch_vectors([h.passage.id for h in hits])
        return group_stories(hits, limit, self.dense_index.vector)

    def _engine_candidates(
        self, dense: _Dense, query: str, bounds: _Bounds, outlets: list[str] | None, scope: Scope
    ) -> None:
        """Nearest passages from Chroma's query (over-fetched and post-filtered, or pre-filtered)."""
        if not len(self.engine):
            return
        k = self.config.candidates
        dense.query_vector = self.embed_query(query)
        ranges = [(bounds.since_ts, bounds.until_ts, k)]
        if bounds.window:
            ranges.append((bounds.window[0], bounds.window[1], k // 2))
        for since_ts, until_ts, n in ranges:
            hits = self.engine.search(
                dense.query_vector,
                n,
                since_ts,
                until_ts,
                outlets,
                guild_id=scope.guild_id,
                scoped=scope.scoped,
                signature=(self.engine.generation,),
            )
            dense.scores.update(zip(hits.ids, hits.scores.tolist(), strict=True))
            dense.cosines.update(zip(hits.ids, hits.cosines.tolist(), strict=True))
            dense.meta.update(hits.meta)
        dense.ran = True
