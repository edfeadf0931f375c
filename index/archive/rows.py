"""Archive rows to domain objects."""

from __future__ import annotations

import json

from ..models import Article, Feed


def feed_from_row(row: dict, articles: int = 0) -> Feed:
    return Feed(
        id=row["id"],
        url=row["url"],
        name=row["name"] or "",
        title=row["title"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        status=row["status"] or "new",
        last_fetch_at=row["last_fetch_at"],
        last_ok_at=row["last_ok_at"],
        last_error=row["last_error"],
        warning=row["warning"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        failures=row["failures"] or 0,
        next_poll_at=row["next_poll_at"],
        articles=articles,
    )


def article_from_row(row: dict) -> Article:
    return Article(
        id=row["id"],
        guid=row["guid"],
        url=row["url"] or "",
        title=row["title"] or "",
        outlet=row["outlet"] or "",
        authors=tuple(json.loads(row["authors"] or "[]")),
        categories=tuple(json.loads(row.get("categories") or "[]")),
        published=row["published"],
        published_ts=row["published_ts"],
        date_source=row["date_source"] or "",
        fetched_at=row["fetched_at"] or "",
        language=row["language"],
        summary=row["summary"] or "",
        text=row["text"] or "",
        text_source=row["text_source"] or "",
    )
