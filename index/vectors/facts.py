"""Each article's date and outlet as NumPy arrays, for the dense engine's post-filter.

An over-fetched engine search gets thousands of passage ids back from Chroma (4,000 for an outlet
filter at 1M passages) and keeps those inside the filters. Looking each one up in the archive cost
8 ms a search at 1M, and the Python loop over them as much again; here the article id is read off
the passage id (``a{article}-{seq}-{digest}``, as the pipeline writes them) and the date and
outlet come from two arrays indexed by article id (13 bytes an article: 4 MB for 314,000 articles).

The arrays only narrow: the passages they keep are checked again in the archive (a few hundred,
one lookup), so a passage deleted since is dropped as before. A passage whose article is not in
the arrays (written since they were read, or an id of another form) is looked up in the archive.
What they cannot see is an article rewritten with another date or outlet since they were read in
full: the new articles are read on each refresh, the whole table again after RELOAD_SECONDS."""

from __future__ import annotations

import math
import re
import time

import numpy as np

from .mirror import filter_mask

RELOAD_SECONDS = 600.0  # the whole table is read again after this long (a rewritten article's new date)


# an article id heads each line of the joined ids, or nothing does: one match a line, empty or not
_ARTICLE_HEAD = re.compile(r"^(?:a([0-9]{1,18})-)?", re.MULTILINE)


def article_ids_of(passage_ids: list[str]) -> np.ndarray:
    """The article id in each passage id (``a{article}-…``), -1 where there is none. One regex pass
    over the joined ids (4,000 ids: 1.8 ms, against 2.4 for a loop over them); ids holding a line
    break are read one at a time."""
    heads = _ARTICLE_HEAD.findall("\n".join(passage_ids))
    if len(heads) != len(passage_ids):
        heads = [_ARTICLE_HEAD.match(pid).group(1) or "" for pid in passage_ids]  # type: ignore[union-attr]
    return np.fromiter((int(h) if h else -1 for h in heads), dtype=np.int64, count=len(heads))


class ArticleFacts:
    """article id -> (published_ts, outlet code), read from the archive and kept up with it."""

    def __init__(self) -> None:
        self._clear()
        self.loaded_at = -math.inf

    def _clear(self) -> None:
        self.ts = np.zeros(0, dtype=np.float64)
        self.outlet = np.zeros(0, dtype=np.int32)
        self.present = np.zeros(0, dtype=bool)
        self.codes: dict[str, int] = {}
        self.max_id = 0

    def __len__(self) -> int:
        return int(self.present.sum())

    def refresh(self, archive, now: float | None = None) -> int:
        """Read the articles past the last one read (all of them the first time, and again after
        RELOAD_SECONDS). Returns how many rows were read."""
        now = time.monotonic() if now is None else now
        full = now - self.loaded_at > RELOAD_SECONDS
        rows = archive.article_facts(0 if full else self.max_id)
        if full:
            self._clear()
            self.loaded_at = now
        if not rows:
            return 0
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        top = int(ids.max())
        if top >= len(self.ts):
            size = max(top + 1, int(len(self.ts) * 1.25))
            self.ts = np.resize(self.ts, size)
            self.outlet = np.resize(self.outlet, size)
            present = np.zeros(size, dtype=bool)
            present[: len(self.present)] = self.present
            self.present = present
        codes = self.codes
        self.ts[ids] = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        self.outlet[ids] = np.fromiter(
            (codes.setdefault(r[2], len(codes)) for r in rows), dtype=np.int32, count=len(rows)
        )
        self.present[ids] = True
        self.max_id = max(self.max_id, top)
        return len(rows)

    def narrow(
        self,
        passage_ids: list[str],
        since_ts: float | None,
        until_ts: float | None,
        outlets: list[str] | None,
    ) -> np.ndarray:
        """Positions of the passages that may be inside the filters: those whose article is known
        and passes them, and those whose article is not known here (for the archive to decide)."""
        articles = article_ids_of(passage_ids)
        known = (articles >= 0) & (articles < len(self.present))
        known[known] = self.present[articles[known]]
        keep = np.ones(len(passage_ids), dtype=bool)
        rows = articles[known]
        ok = filter_mask(self.ts[rows], self.outlet[rows], self.codes, since_ts, until_ts, outlets)
        if ok is not None:
            keep[known] = ok
        return np.flatnonzero(keep)
