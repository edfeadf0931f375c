"""What a feed's deliveries are configured with (filters, flood limits, templates), as the archive
stores them."""

from __future__ import annotations

from dataclasses import dataclass


# -- what a feed's deliveries are configured with (stored by the archive) --
@dataclass(frozen=True)
class FilterRule:
    id: int
    feed_id: int
    channel_id: int | None
    action: str  # include | exclude
    field: str  # any | title | text | author | category
    pattern: str
    regex: bool = False
    negate: bool = False
    case_sensitive: bool = False

    def describe(self) -> str:
        kind = "regex" if self.regex else "words"
        neg = "not " if self.negate else ""
        case = ", case-sensitive" if self.case_sensitive else ""
        return f'#{self.id} {self.action} {neg}{self.field} {kind} "{self.pattern}"{case}'


@dataclass(frozen=True)
class ChannelLimits:
    channel_id: int
    per_window: int | None = None
    window_seconds: int | None = None
    daily_max: int | None = None
    max_age_days: float | None = None
    summarise_over: int | None = None  # an admin's choice: past N new articles per pass, one line instead

    @property
    def any(self) -> bool:
        return bool(self.per_window or self.daily_max or self.max_age_days or self.summarise_over)

    def describe(self) -> str:
        parts = []
        if self.per_window:
            parts.append(f"at most {self.per_window} posts per {(self.window_seconds or 0) // 60} min")
        if self.daily_max:
            parts.append(f"at most {self.daily_max} posts a day")
        if self.max_age_days:
            parts.append(f"nothing older than {self.max_age_days:g} days")
        if self.summarise_over:
            parts.append(f"past {self.summarise_over} new articles in one pass, a one-line summary instead of posts")
        return "; ".join(parts) or "no limits"


@dataclass(frozen=True)
class PostTemplate:
    feed_id: int
    body: str
    style: str = "embed"
    timezone: str = "UTC"
