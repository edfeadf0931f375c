"""Domain errors, in one place. The edges (CLI, bot) translate them into messages."""


class NewsdeskError(Exception):
    """Base class: the message is meant for the user, one line, no traceback."""


class ConfigError(NewsdeskError):
    """A config key is missing, of the wrong type or out of range."""


class UrlRefused(NewsdeskError):
    """A URL is not allowed: bad scheme, or it resolves to a private address."""


class FetchError(NewsdeskError):
    """An HTTP fetch failed (after retries)."""


class FeedError(NewsdeskError):
    """A feed could not be parsed into any entries."""


class NotFound(NewsdeskError):
    """An article, feed or source the user named does not exist."""


class BadQuery(NewsdeskError):
    """A question or option is unusable (empty, bad date, since after until...)."""


class FilterBroken(BadQuery):
    """A stored filter pattern no longer compiles (the regex engine changed under it)."""


class IndexUnavailable(NewsdeskError):
    """The vector index (Chroma) cannot be reached or written."""


class IndexBusy(NewsdeskError):
    """Another process writes the embedded vector index: one writer at a time."""


class ModelMismatch(NewsdeskError):
    """The index was built with another embedding model."""


class ArchiveError(NewsdeskError):
    """The archive (SQLite) cannot be written: disk full, read-only..."""


class PermissionDenied(NewsdeskError):
    """The caller may not do this (not an admin, another server's feed)."""


class LimitReached(BadQuery):
    """A per-server or per-member limit (follows, digest schedules, watches) would be exceeded."""
