"""What must hold of an archive after any ingest, and reads of it for assertions."""

from __future__ import annotations


def consistency(desk) -> dict:
    """What must hold after any ingest: no article twice, and the archive's passages are exactly
    the vectors in Chroma."""
    db = desk.archive.db
    return {
        "dup_guids": db.execute(
            "SELECT count(*) FROM (SELECT guid FROM articles GROUP BY guid HAVING count(*) > 1)"
        ).fetchone()[0],
        "dup_urls": db.execute(
            "SELECT count(*) FROM (SELECT url FROM articles WHERE url != '' GROUP BY url HAVING count(*) > 1)"
        ).fetchone()[0],
        "archive_ids": desk.archive.all_passage_ids(),
        "chroma_ids": desk.parts.store_or_open().all_ids(),
        "unembedded": db.execute("SELECT count(*) FROM passages WHERE embedded = 0").fetchone()[0],
    }


def assert_consistent(desk) -> None:
    c = consistency(desk)
    assert c["dup_guids"] == 0 and c["dup_urls"] == 0, c
    assert c["unembedded"] == 0
    assert c["archive_ids"] == c["chroma_ids"], (len(c["archive_ids"]), len(c["chroma_ids"]))


def articles(desk) -> list[dict]:
    return [dict(r) for r in desk.archive.db.query("SELECT * FROM articles ORDER BY id")]


def feed_row(desk, url: str) -> dict:
    return next(desk.archive.db.query("SELECT * FROM feeds WHERE url = ?", [url]))


def archived_urls(desk) -> set[str]:
    return {row[0] for row in desk.archive.db.execute("SELECT url FROM articles").fetchall()}
