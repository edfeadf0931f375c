"""Timelines: how much coverage a topic got, per day, week or month and per outlet.

The matching articles are those whose passages hold every content word of the topic (FTS5,
porter stems; see :meth:`index.archive.digests.DigestStore.topic_articles`): a complete,
countable set, so the counts are the archive's own (a similarity search would cap and blur them).
The bucket follows the span: days up to 90 days, weeks up to two years, months beyond. Peaks are
the local maxima of the total, labelled with their best-matching headline; the chronology lists
the first article, each peak's headline and the latest, oldest first.

The chart is drawn with matplotlib's Agg canvas (no GUI, no pyplot state), one line per outlet
(the seven largest; the rest as "other outlets"), under a lock: safe in worker threads.
"""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

from ..models import Article, Timeline
from ..search.lexical import stems

DAY_BUCKET_MAX_DAYS = 90
WEEK_BUCKET_MAX_DAYS = 2 * 366
MAX_SERIES = 7
MAX_PEAKS = 4
OTHER = "other outlets"
_render_lock = threading.Lock()


def bucket_kind(since: datetime, until: datetime) -> str:
    days = (until - since).total_seconds() / 86400
    if days <= DAY_BUCKET_MAX_DAYS:
        return "day"
    if days <= WEEK_BUCKET_MAX_DAYS:
        return "week"
    return "month"


def bucket_start(moment: datetime, kind: str) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "week":
        return day - timedelta(days=day.weekday())  # Mondays
    if kind == "month":
        return day.replace(day=1)
    return day


def next_bucket(start: datetime, kind: str) -> datetime:
    if kind == "day":
        return start + timedelta(days=1)
    if kind == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def bucket_starts(since: datetime, until: datetime, kind: str) -> list[datetime]:
    out = []
    at = bucket_start(since, kind)
    while at <= until:
        out.append(at)
        at = next_bucket(at, kind)
    return out


def count(
    matches: list[tuple[int, float, str, float]], since: datetime, until: datetime, kind: str
) -> tuple[list[str], dict[str, list[int]], dict[int, list[tuple[float, int]]]]:
    """(bucket labels, counts per outlet per bucket, per bucket [(score, article id)])."""
    starts = bucket_starts(since, until, kind)
    index = {s: i for i, s in enumerate(starts)}
    counts: dict[str, list[int]] = {}
    members: dict[int, list[tuple[float, int]]] = {}
    for article_id, published_ts, outlet, score in matches:
        b = index.get(bucket_start(datetime.fromtimestamp(published_ts, UTC), kind))
        if b is None:
            continue
        counts.setdefault(outlet or "(unknown)", [0] * len(starts))[b] += 1
        members.setdefault(b, []).append((score, article_id))
    counts = dict(sorted(counts.items(), key=lambda kv: (-sum(kv[1]), kv[0])))
    return [s.date().isoformat() for s in starts], counts, members


def peaks(totals: list[int], limit: int = MAX_PEAKS) -> list[int]:
    """Bucket indexes of the highest local maxima (plateaus count once), highest first, at least
    two buckets apart, and at least 2 articles (or the single highest bucket)."""
    candidates = []
    for i, n in enumerate(totals):
        if n <= 0:
            continue
        left = totals[i - 1] if i > 0 else -1
        right = totals[i + 1] if i + 1 < len(totals) else -1
        if n > left and n >= right:
            candidates.append(i)
    candidates.sort(key=lambda i: (-totals[i], i))
    chosen: list[int] = []
    for i in candidates:
        if len(chosen) >= limit:
            break
        if totals[i] < 2 and chosen:
            continue
        if all(abs(i - j) > 2 for j in chosen):
            chosen.append(i)
    return chosen


def top_headline(topic: str, members: list[tuple[float, int]], articles: dict[int, Article]) -> int:
    """The article of a bucket that best stands for it: the most of the topic's words in its
    headline, then the best BM25 score (which alone favours long articles naming it often)."""
    wanted = stems(topic)

    def rank(member: tuple[float, int]) -> tuple[int, float, int]:
        score, article_id = member
        article = articles.get(article_id)
        in_title = len(wanted & stems(article.title)) if article else -1
        return in_title, score, -article_id

    return max(members, key=rank)[1]


def chronology(
    first: Article | None, peak_articles: list[Article], last: Article | None, limit: int = 8
) -> list[Article]:
    seen: dict[int, Article] = {}
    for a in [first, *peak_articles, last]:
        if a is not None and a.id not in seen:
            seen[a.id] = a
    return sorted(seen.values(), key=lambda a: (a.published_ts or 0, a.id))[:limit]


def render_png(timeline: Timeline) -> bytes:
    """The chart: one stacked bar series per outlet (the largest MAX_SERIES - 1, the rest summed
    as "other outlets"), so each bucket's bar is its total, the peaks labelled with their top
    headline; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    with _render_lock:
        dates = [datetime.fromisoformat(b).replace(tzinfo=UTC) for b in timeline.buckets]
        xs = [float(date2num(d)) for d in dates]  # matplotlib's day numbers
        days = {"day": 1.0, "week": 7.0, "month": 30.4}[timeline.bucket]
        series = list(timeline.counts.items())
        if len(series) > MAX_SERIES:
            rest = [sum(col) for col in zip(*(c for _, c in series[MAX_SERIES - 1 :]), strict=True)]
            series = series[: MAX_SERIES - 1] + [(OTHER, rest)]
        fig = Figure(figsize=(11, 5.6), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        colours = ["#2e6eb4", "#e07b24", "#3a9e4f", "#c0392b", "#8e5ea2", "#8c6d31", "#7f7f7f"]
        bottom = [0] * len(dates)
        for n, (name, values) in enumerate(series):
            ax.bar(
                xs,
                values,
                width=days * 0.85,
                bottom=bottom,
                align="center" if timeline.bucket == "day" else "edge",  # a day's bar on its date
                label=f"{name} ({sum(values)})",
                color=colours[n % len(colours)],
                linewidth=0,
            )
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        top = max(bottom, default=0)
        # labels above the tallest bar, tied to their bars by vertical lines, on levels chosen so
        # that no box covers another box or another peak's line
        left_edge = xs[0] - days if xs else 0.0
        width = (xs[-1] + 2 * days - left_edge) if xs else 1.0
        placed: list[tuple[int, float, float, float]] = []  # (level, box from, box to, line at)
        for bucket, total, article in timeline.peaks:
            i = timeline.buckets.index(bucket)
            x = xs[i] + (0 if timeline.bucket == "day" else days * 0.425)
            text = f"{_bucket_label(dates[i], timeline.bucket)} ({total}): {_short(article.title, 50)}"
            at = (x - left_edge) / width
            size = 0.0058 * len(text) + 0.012
            ha = "center" if 0.25 < at < 0.75 else ("left" if at <= 0.25 else "right")
            lo = {"left": at, "right": at - size, "center": at - size / 2}[ha]
            hi = lo + size
            level = 0
            while level < len(placed) and any(
                (lv == level and lo < b and a < hi)  # two boxes side by side
                or (lv > level and lo <= line <= hi)  # our box across a higher label's line
                for lv, a, b, line in placed
            ):
                level += 1
            placed.append((level, lo, hi, at))
            ax.annotate(
                text,
                xy=(x, total),
                xytext=(x, max(1, top) * (1.1 + 0.12 * level)),
                textcoords="data",
                ha=ha,
                va="bottom",
                fontsize=8.5,
                color="#222222",
                bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "#aaaaaa", "alpha": 0.95},
                arrowprops={
                    "arrowstyle": "-",
                    "color": "#888888",
                    "lw": 0.8,
                    "shrinkA": 0,
                    "shrinkB": 2,
                    "relpos": ({"left": 0.0, "right": 1.0, "center": 0.5}[ha], 0.0),
                },
            )
        levels = max((lv for lv, *_ in placed), default=0)
        ax.set_ylim(0, max(1, top) * (1.35 + 0.12 * levels + 0.12))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        locator = AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if xs:
            shift = 0.5 if timeline.bucket == "day" else 0.0
            ax.set_xlim(xs[0] - days * (0.5 + shift), xs[-1] + days * (1.5 - shift))
        ax.set_ylabel(f"articles per {timeline.bucket}")
        ax.grid(True, axis="y", color="#e3e3e3", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        span = f"{timeline.since.date().isoformat()} – {timeline.until.date().isoformat()}"
        ax.set_title(
            f"Articles mentioning “{_short(timeline.topic, 60)}” per {timeline.bucket}, {span} "
            f"({timeline.total} in all)",
            fontsize=13,
            loc="left",
            pad=12,
        )
        if series:
            ax.legend(loc="upper left", fontsize=9, frameon=False, ncol=min(4, len(series)))
        else:
            ax.text(0.5, 0.5, "no matching coverage", transform=ax.transAxes, ha="center", color="#666666")
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()


def _bucket_label(start: datetime, kind: str) -> str:
    if kind == "month":
        return start.strftime("%b %Y")
    if kind == "week":
        return "week of " + start.strftime("%d %b %Y").lstrip("0")
    return start.strftime("%d %b %Y").lstrip("0")


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
