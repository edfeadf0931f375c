"""Configuration: a TOML file read once into frozen dataclasses.

Secrets never live in the file: the Discord token and LLM keys come from the
environment. ``NEWSDESK_DATA_DIR`` and ``NEWSDESK_ALLOW_PRIVATE_NETWORKS`` always
override the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .logsafety import redact_passwords

DEFAULT_CONFIG_PATH = Path("config.toml")


@dataclass(frozen=True)
class DataConfig:
    dir: str = "./newsdesk-data"


@dataclass(frozen=True)
class FeedsConfig:
    allow_private_networks: bool = False
    user_agent: str = "newsdesk/0.1 (+https://github.com/newsdesk/newsdesk; RSS reader)"
    timeout_seconds: float = 20.0
    max_body_bytes: int = 10_000_000
    max_redirects: int = 5
    retries: int = 2
    per_host_concurrency: int = 4
    per_host_delay_seconds: float = 0.0
    workers: int = 8
    fetch_full_text: str = "auto"  # auto | always | never
    poll_interval_minutes: float = 30.0
    max_backoff_minutes: float = 720.0
    max_feeds_per_server: int = 500  # 0 = no limit
    max_feeds_per_import: int = 200  # outlines in one OPML import; 0 = no limit
    import_check_seconds: float = 30.0  # an import checks its URLs (DNS) within this, then refuses the rest
    # one feed's share of a poll: its time, and the new entries and linked pages it may take
    # (the rest wait for the next poll); a feed past its time is recorded as failing
    feed_budget_seconds: float = 300.0
    max_entries_per_poll: int = 200
    max_page_fetches_per_poll: int = 50


@dataclass(frozen=True)
class EmbeddingConfig:
    model: str = "all-MiniLM-L6-v2"
    # "auto": questions on onnxruntime, batches on sentence-transformers; "torch": all on
    # sentence-transformers; "onnx": all on onnxruntime. The same vectors either way.
    backend: str = "auto"
    threads: int = 0  # onnx backend, batches: intra-op threads (0 = onnxruntime's default, all cores)
    batch_size: int = 64
    device: str = "cpu"
    passage_tokens: int = 200
    overlap_sentences: int = 1


@dataclass(frozen=True)
class IndexConfig:
    chroma_url: str = ""
    collection: str = "newsdesk"
    # dense candidates: "mirror" (exact, in memory), "engine" (Chroma's own query, over-fetched and
    # post-filtered), "auto" (the mirror up to mirror_max_passages embedded passages, then the engine)
    dense: str = "auto"
    mirror_max_passages: int = 300_000
    neighbours: str = "auto"  # density lists: "exact" all-pairs, "ann" Chroma's HNSW, "auto" exact when small


@dataclass(frozen=True)
class RetrievalConfig:
    candidates: int = 100
    rerank_model: str = ""
    recent_days: float = 7.0
    recent_boost: float = 1.0
    keyword_weight: float = 0.05
    dense_weight: float = 1.0
    coverage_weight: float = 0.15
    density_penalty: float = 0.4
    query_cache_size: int = 512
    keyword_postings: int = 30_000  # postings a keyword search reads at most (index.archive.passages)


@dataclass(frozen=True)
class AnswersConfig:
    llm_url: str = ""
    llm_model: str = ""
    llm_api_key_env: str = "NEWSDESK_LLM_API_KEY"
    llm_timeout_seconds: float = 30.0
    min_relevance: float = 0.30
    max_sentences: int = 5
    # an answer is hedged ("no coverage that answers this directly") past these; fitted on the dev questions
    # with their gold articles removed (benchmarks/bench_hedge.py)
    hedge_min_coverage: float = 0.0
    hedge_min_names: float = 0.0
    hedge_min_dense: float = 0.30
    hedge_min_dense_when_keyword_disagrees: float = 0.30
    hedge_max_recent_age_days: float = 3.0
    hedge_min_sentence_dense: float = 0.0  # off: on the dev files it declines no more than hedge_min_dense
    hedge_max_days_after_period: float = 7.0
    hedge_max_stale_days: float = 14.0  # 0: off


@dataclass(frozen=True)
class DiscordConfig:
    guilds: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    admin_roles: list[int] = field(default_factory=list)
    admin_users: list[int] = field(default_factory=list)
    admin_channel: int = 0
    shards: int = 0
    ask_cooldown_seconds: float = 10.0
    search_cooldown_seconds: float = 3.0
    max_concurrent_heavy: int = 4
    max_heavy_per_server: int = 0  # of those, one server's at once (0 = half, at least one)
    poll: bool = True
    members_intent: bool = False  # privileged: drop a leaving member's DM follows at once
    import_cooldown_seconds: float = 120.0  # per server: one OPML import per this
    reindex_cooldown_seconds: float = 600.0  # per server: one /reindex per this


@dataclass(frozen=True)
class ArchiveConfig:
    """Where the archive lives: empty for the SQLite file in the data directory (the default), or
    ``postgresql://user@host:port/db``. The password never lives in the file: libpq
    reads ``PGPASSWORD`` (or ~/.pgpass), or ``NEWSDESK_ARCHIVE_URL`` gives the whole URL."""

    url: str = ""


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    answers: AnswersConfig = field(default_factory=AnswersConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
    source: str = "(defaults)"

    @property
    def data_dir(self) -> Path:
        return Path(self.data.dir).expanduser()

    @property
    def archive_path(self) -> Path:
        return self.data_dir / "archive.db"

    @property
    def archive_target(self) -> str | Path:
        """What ``Archive`` opens: the PostgreSQL URL when one is configured, else the SQLite file."""
        return self.archive.url or self.archive_path

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    def replace(self, **sections) -> Config:
        return dataclasses.replace(self, **sections)


def discord_token() -> str | None:
    return os.environ.get("DISCORD_TOKEN") or None


def llm_api_key(config: Config) -> str | None:
    return os.environ.get(config.answers.llm_api_key_env) or os.environ.get("OPENAI_API_KEY") or None


def _check_value(value, annotation, key: str, source: str):
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(f"{source}: key '{key}' must be a list")
        return [_check_value(v, item_type, key, source) for v in value]
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: key '{key}' must be true or false")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: key '{key}' must be a whole number")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: key '{key}' must be a number")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: key '{key}' must be a string")
        return value
    raise ConfigError(f"{source}: key '{key}' has an unsupported type")  # pragma: no cover


def _build_section(cls, raw: dict, name: str, source: str):
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{source}: unknown key '{name}.{key}'")
        values[key] = _check_value(value, hints[key], f"{name}.{key}", source)
    return cls(**values)


# Numbers that must be above zero (every other number may be zero but not negative).
_POSITIVE = {
    "feeds.timeout_seconds",
    "feeds.max_body_bytes",
    "feeds.workers",
    "feeds.per_host_concurrency",
    "feeds.poll_interval_minutes",
    "embedding.batch_size",
    "answers.llm_timeout_seconds",
    "answers.max_sentences",
    "retrieval.candidates",
    "retrieval.keyword_postings",
    "discord.max_concurrent_heavy",
}


def _validate(config: Config) -> None:
    src = config.source
    for name in _SECTIONS:
        section = getattr(config, name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            key = f"{name}.{f.name}"
            if value < 0 or (value == 0 and key in _POSITIVE):
                raise ConfigError(f"{src}: key '{key}' must be {'positive' if key in _POSITIVE else 'zero or more'}")
    if config.feeds.fetch_full_text not in ("auto", "always", "never"):
        raise ConfigError(f"{src}: key 'feeds.fetch_full_text' must be auto, always or never")
    for key in (
        "timeout_seconds",
        "max_body_bytes",
        "max_redirects",
        "workers",
        "per_host_concurrency",
        "feed_budget_seconds",
        "max_entries_per_poll",
        "max_page_fetches_per_poll",
    ):
        if getattr(config.feeds, key) < 0 or (key != "max_redirects" and getattr(config.feeds, key) == 0):
            raise ConfigError(f"{src}: key 'feeds.{key}' must be positive")
    if config.embedding.backend not in ("auto", "torch", "onnx", "onnx-int8"):
        raise ConfigError(f"{src}: key 'embedding.backend' must be auto, torch, onnx or onnx-int8")
    if config.embedding.batch_size <= 0:
        raise ConfigError(f"{src}: key 'embedding.batch_size' must be positive")
    if not 32 <= config.embedding.passage_tokens <= 8192:
        raise ConfigError(f"{src}: key 'embedding.passage_tokens' must be between 32 and 8192")
    if config.index.chroma_url and not config.index.chroma_url.startswith(("http://", "https://")):
        raise ConfigError(f"{src}: key 'index.chroma_url' must start with http:// or https://")
    if config.index.dense not in ("auto", "mirror", "engine"):
        raise ConfigError(f"{src}: key 'index.dense' must be auto, mirror or engine")
    if config.index.neighbours not in ("auto", "exact", "ann"):
        raise ConfigError(f"{src}: key 'index.neighbours' must be auto, exact or ann")
    _validate_archive_url(config)


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Config) if f.name != "source"}


def load_config(path: str | os.PathLike | None = None) -> Config:
    """Read the config file (or defaults when ``path`` is None and ./config.toml is absent).

    A named file that does not exist is an error; the default path may be absent.
    Environment overrides are applied last.
    """
    explicit = path is not None
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    raw: dict = {}
    source = str(path)
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not valid UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    elif explicit:
        raise ConfigError(f"{source}: config file not found")
    else:
        source = "(defaults)"
    hints = typing.get_type_hints(Config)
    sections = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}]")
        sections[name] = _build_section(hints[name], value, name, source)
    config = Config(**sections, source=source)
    config = apply_environment(config)
    _validate(config)
    return config


def apply_environment(config: Config) -> Config:
    data_dir = os.environ.get("NEWSDESK_DATA_DIR")
    if data_dir:
        config = config.replace(data=dataclasses.replace(config.data, dir=data_dir))
    archive_url = os.environ.get("NEWSDESK_ARCHIVE_URL")
    if archive_url:
        config = config.replace(archive=dataclasses.replace(config.archive, url=archive_url))
    allow = os.environ.get("NEWSDESK_ALLOW_PRIVATE_NETWORKS")
    if allow is not None and allow != "":
        flag = allow.strip().lower() in ("1", "true", "yes", "on")
        config = config.replace(feeds=dataclasses.replace(config.feeds, allow_private_networks=flag))
    return config


def _validate_archive_url(config: Config) -> None:
    """[archive] url: empty (SQLite) or a postgresql:// URL, whose password is not in the file."""
    url = config.archive.url
    if not url:
        return
    from_env = os.environ.get("NEWSDESK_ARCHIVE_URL") == url
    src = "NEWSDESK_ARCHIVE_URL" if from_env else config.source
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{src}: key 'archive.url' must start with postgresql:// (or be empty for SQLite)")
    if not from_env and redact_passwords(url) != url:  # user:password@, ?password=, …
        raise ConfigError(
            f"{src}: key 'archive.url' must not hold the password: set PGPASSWORD, or give the whole "
            "URL in NEWSDESK_ARCHIVE_URL"
        )
