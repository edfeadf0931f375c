"""Newsdesk: the composition root the command line and the bot both hold.

It builds each feature service once, over one shared :class:`~index.parts.Parts` (config, archive,
retriever, the lazily loaded embedder and vector store), and holds them; it has no verb of its own.
Callers name the feature: ``desk.feeds.add(...)``, ``desk.reading.ask(...)``, ``desk.delivery.queue()``.
Plain storage reads and claims are called on ``desk.archive``, follows and alerts on ``desk.following``.

Every service method is synchronous and safe to call from worker threads; the bot calls them with
``asyncio.to_thread`` so the event loop never blocks.
"""

from __future__ import annotations

from .archive import Archive
from .config import Config
from .delivery.outbox import Outbox
from .delivery.recording import recorders as delivery_recorders
from .delivery.service import DeliveryService
from .delivery.settings import FeedSettingsService
from .feeds.service import FeedsService
from .following.alerts import Following
from .following.digest_service import DigestsService
from .following.feedback_service import FeedbackService
from .following.stories import StoriesService
from .following.watch_service import WatchesService
from .health import HealthService
from .ingest.service import IndexingService
from .logsafety import install_redaction, redact
from .models import GLOBAL, Scope
from .parts import Parts
from .search.retriever import Retriever
from .search.service import ReadingService
from .vectors.embedders import Embedder

__all__ = ["GLOBAL", "Newsdesk", "Scope", "install_redaction", "redact"]


class Newsdesk:
    """The feature services, each built once; ``config``, ``archive`` and ``retriever`` are the shared parts."""

    def __init__(self, config: Config, embedder: Embedder | None = None):
        self.parts = Parts(config, embedder)
        self.config: Config = config
        self.archive: Archive = self.parts.archive
        self.retriever: Retriever = self.parts.retriever
        self.feeds = FeedsService(self.parts)
        self.indexing = IndexingService(self.parts, self.feeds)
        self.reading = ReadingService(self.parts)
        self.delivery = DeliveryService(self.parts)
        self.settings = FeedSettingsService(self.parts, self.feeds, self.reading)
        self.health = HealthService(self.parts, self.indexing)
        self.watches = WatchesService(self.parts, self.reading)
        self.feedback = FeedbackService(self.parts)
        self.following = Following(self.archive, self.retriever)
        self.digests = DigestsService(self.parts)
        self.stories = StoriesService(self.parts, self.reading)
        # everything the bot sends on its own: claimed, sent, recorded (index/delivery/outbox.py)
        self.outbox = Outbox(self.archive, delivery_recorders(self.archive, self.following))

    def close(self) -> None:
        """Close what the desk opened (the archive's connections, a writer lock it holds)."""
        self.parts.writer.release_all()
        self.archive.close()
