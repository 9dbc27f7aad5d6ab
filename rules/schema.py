"""Frozen objects that a parsed rule file is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.conditions import Condition


@dataclass(frozen=True, kw_only=True)
class Window:
    """A span of time around an event, inclusive at both ends.

    The parser accepts only non-negative integers (never booleans) for both fields.
    """

    before_seconds: int = 0
    after_seconds: int = 0

    def bounds(self, at: datetime) -> tuple[datetime, datetime]:
        """Return the first and last instants of the window around `at`.

        Both instants belong to the window: `[at - before, at + after]`.
        """
        return (
            at - timedelta(seconds=self.before_seconds),
            at + timedelta(seconds=self.after_seconds),
        )


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """A rule that raises `code` when an event of `event_type` satisfies `condition`."""

    code: int
    name: str
    event_type: str
    condition: Condition
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class Debounce:
    """How many notifications of one rule a user may get within a period.

    `limit` None: no limit. `period_seconds` None: the period is "ever". `calendar_day`: the
    period is the calendar day of the event in the user's timezone instead of the last 24 hours
    (only with a one-day period).
    """

    limit: int | None = None
    period_seconds: int | None = None
    calendar_day: bool = False


@dataclass(frozen=True, kw_only=True)
class QuietHours:
    """A daily window in the user's timezone when user-facing sends wait for `end`.

    `start` > `end` wraps midnight (22:00 to 07:00). `start` is inside the window, `end` is not.
    """

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Return whether the wall-clock time `moment` lies in [start, end)."""
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, kw_only=True)
class NotificationRule:
    """Send `notification_type` for an event of `event_type` that satisfies `condition`.

    `name` is unique in a rules file; it is the notification type unless the rule names itself,
    so two rules may send one type. `max_event_age_seconds`: an event older than this when it
    would be scheduled or sent is skipped (None: any age).
    """

    name: str
    notification_type: str
    event_type: str
    condition: Condition
    delay_seconds: int = 0
    recheck: bool = False
    debounce: Debounce = Debounce()
    quiet_hours: QuietHours | None = None
    max_event_age_seconds: int | None = None
