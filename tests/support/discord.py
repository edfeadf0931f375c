"""Reading what the bot sent to simcord's in-memory Discord."""

from __future__ import annotations


def message_requests(env):
    """Every logged REST request that creates or edits a message with content, embeds or components."""
    out = []
    for r in env.http_requests:
        body = r.json if isinstance(r.json, dict) else None
        if body is None:
            continue
        data = body.get("data") if r.path.endswith("/callback") else body
        if not isinstance(data, dict):
            continue
        if any(k in data for k in ("content", "embeds", "components", "attachments")):
            out.append((r, data))
    return out
