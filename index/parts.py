"""What every feature service shares: the config, the archive, the retriever, and the embedder and
vector store, loaded the first time one is needed (a command that never searches never loads a model)."""

from __future__ import annotations

import threading

from .archive import Archive
from .archive.backends import open_archive
from .config import Config
from .errors import IndexUnavailable
from .ingest.pipeline import Pipeline, Progress
from .logsafety import register_secret_variable
from .models import Article
from .search.retriever import Retriever
from .vectors.chroma import VectorStore
from .vectors.embedders import Embedder, load_embedder
from .vectors.writelock import WriterLock


class Parts:
    def __init__(self, config: Config, embedder: Embedder | None = None):
        self.config = config
        register_secret_variable(config.answers.llm_api_key_env)  # its value is masked in logs too
        self.archive: Archive = open_archive(config.archive_target)
        self._embedder = embedder
        self._store: VectorStore | None = None
        self._lock = threading.RLock()
        # one writer at a time on an embedded index, across processes (none needed with a Chroma server)
        self.writer = WriterLock(None if config.index.chroma_url else config.chroma_path)
        self.retriever = Retriever(
            self.archive, config.retrieval, self.embedder_or_load, self.store_or_open, index=config.index
        )

    def embedder_or_load(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.config.embedding, self.config.data_dir / "models")
            return self._embedder

    def store_or_open(self) -> VectorStore:
        with self._lock:
            if self._store is None:
                embedder = self.embedder_or_load()
                generation = self.archive.get_meta("index_generation")  # read first: the view is at least this new
                self._store = VectorStore(self.config.index, self.config.chroma_path, embedder.name, embedder.dimension)
                self._store.synced = generation
            return self._store

    @property
    def model_name(self) -> str:
        return self._embedder.name if self._embedder else self.config.embedding.model

    def pipeline(self, progress: Progress | None = None, with_index: bool = True) -> Pipeline:
        if not with_index:
            return Pipeline(self.config, self.archive, None, None, progress)
        return Pipeline(self.config, self.archive, self.store_or_open, self.embedder_or_load, progress)

    def story_vectors(self, articles: list[Article]):
        """article id -> its first passage's vector (nothing when the index is unavailable)."""
        try:
            self.retriever.refresh_mirror()
        except IndexUnavailable:
            return lambda _id: None
        first = self.archive.first_passage_ids(a.id for a in articles)
        mirror = self.retriever.mirror
        return lambda article_id: mirror.vector(first[article_id]) if article_id in first else None
