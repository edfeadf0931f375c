"""What ``/feeds why`` may show a server: the delivery log rows of its own feeds and channels.

The log holds one row per (channel, article) for every server that received the article; a
server asking about an article that a global feed also carries must not see another server's
channel, nor the reason logged there (which quotes that server's filter text)."""

from __future__ import annotations

from ..models import Feed, Scope


def delivery_rows_in_scope(rows: list[dict], feeds: dict[int, Feed], scope: Scope) -> dict[int, dict]:
    """The delivery rows (``article_deliveries``) by channel, for a scoped caller only those of a
    feed it sees (``feeds``: its own and the global ones) or of a channel one of its feeds posts to."""
    if not scope.scoped:
        return {r["channel_id"]: r for r in rows}
    own_channels = {f.channel_id for f in feeds.values() if f.channel_id is not None}
    return {r["channel_id"]: r for r in rows if r["feed_id"] in feeds or r["channel_id"] in own_channels}
