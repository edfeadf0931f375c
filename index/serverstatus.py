"""``/status`` as one server sees it: its feeds, and the articles, passages and vectors its
feeds (and the global ones) give it, never the whole archive's counts or size."""

from __future__ import annotations

from .archive import Archive
from .models import Feed, Scope


def scoped_status(stats: dict, archive: Archive, feeds: list[Feed], scope: Scope, last_poll: str | None) -> dict:
    """``stats`` (the service's, for the model name) with every count narrowed to ``scope``; the
    archive's size on disk and the index's own total are left out (they describe every server)."""
    counts = archive.scoped_counts(scope.guild_id)
    out = {key: stats[key] for key in ("model",) if key in stats}
    out.update(counts)
    out["feeds"] = len(feeds)
    out["vectors"] = counts["embedded_passages"]  # this server's passages in the index
    out["failing_feeds"] = [
        {"url": f.url, "name": f.display_name, "error": f.last_error} for f in feeds if f.status == "error"
    ]
    out["last_poll"] = last_poll or max((f.last_fetch_at or "" for f in feeds), default="") or None
    return out
