"""Opening the archive on the configured backend: the SQLite file by default, or a
PostgreSQL database when ``[archive] url`` (or ``NEWSDESK_ARCHIVE_URL``) names one. Every part
of the archive runs on PostgreSQL now; should a new mixin be added without its PostgreSQL half
(not in ``pg.PORTED``), the service refuses a PostgreSQL URL with a ConfigError naming what is
missing, rather than starting and failing later half-way."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError
from . import Archive
from .pg import is_postgres_url, not_ported, redact


def missing_on_postgres() -> list[str]:
    """The archive's parts (``Mixin``, or ``Mixin.method`` of a partly ported one) not yet on PostgreSQL."""
    missing = not_ported(Archive)
    out = []
    for mixin in dict.fromkeys(m.split(".")[0] for m in missing):
        methods = [m for m in missing if m.startswith(mixin + ".")]
        defined = [n for n, v in vars(_mixin(mixin)).items() if callable(v) and not n.startswith("__")]
        out += [mixin] if len(methods) == len(defined) else methods
    return out


def _mixin(name: str) -> type:
    return next(k for k in Archive.__mro__ if k.__name__ == name)


def open_archive(target: str | Path) -> Archive:
    """The service's archive. A PostgreSQL URL is refused while parts are missing there."""
    if is_postgres_url(target):
        missing = missing_on_postgres()
        if missing:
            raise ConfigError(
                f"archive.url {redact(str(target))}: the archive on PostgreSQL lacks parts of this "
                f"version; missing: {', '.join(missing)}. Leave [archive] url unset to use SQLite."
            )
    return Archive(target)
