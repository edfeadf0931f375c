"""Flood control per channel: at most ``per_window`` posts per ``window_seconds``, at most
``daily_max`` posts per UTC day, and nothing published more than ``max_age_days`` ago. An article
held back by a rate or daily limit stays pending and goes out when the limit allows (oldest first);
one older than the maximum age is skipped for good. Both are recorded in the delivery log."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import BadQuery
from ..models import ChannelLimits


def make_limits(
    channel_id: int,
    per_window: int | None,
    window_minutes: float | None,
    daily_max: int | None,
    max_age_days: float | None,
) -> ChannelLimits:
    """Validated limits (0 or None turns a limit off)."""
    for name, value in (
        ("posts per window", per_window),
        ("window minutes", window_minutes),
        ("daily maximum", daily_max),
        ("maximum age", max_age_days),
    ):
        if value is not None and value < 0:
            raise BadQuery(f"the {name} cannot be negative")
    if per_window and not window_minutes:
        raise BadQuery("a rate limit needs a window in minutes")
    if window_minutes and window_minutes > 7 * 24 * 60:
        raise BadQuery("the window is at most a week")
    return ChannelLimits(
        channel_id,
        per_window=per_window or None,
        window_seconds=int(window_minutes * 60) if per_window and window_minutes else None,
        daily_max=daily_max or None,
        max_age_days=max_age_days or None,
    )


def start_of_day(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()
