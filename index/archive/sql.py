"""Small SQL helpers shared by the archive's table modules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import sqlite_utils

IN_LIST = 500  # values per SQL "IN (...)" list


def in_chunks(values: list) -> Iterator[tuple[list, str]]:
    """Slices of ``values`` short enough for one ``IN (...)`` list, each with its placeholders."""
    for start in range(0, len(values), IN_LIST):
        chunk = values[start : start + IN_LIST]
        yield chunk, ",".join("?" * len(chunk))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def insert_row(db: sqlite_utils.Database, table: str, record: dict, replace: bool = False) -> int:
    """Plain INSERT that stays inside the caller's transaction (sqlite-utils' helpers commit)."""
    cols = list(record)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    cur = db.execute(
        f"{verb} INTO [{table}] ({', '.join(f'[{c}]' for c in cols)}) VALUES ({', '.join('?' * len(cols))})",
        [record[c] for c in cols],
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def update_row(db: sqlite_utils.Database, table: str, pk: int, record: dict) -> None:
    if record:
        db.execute(
            f"UPDATE [{table}] SET {', '.join(f'[{c}] = ?' for c in record)} WHERE id = ?", [*record.values(), pk]
        )
