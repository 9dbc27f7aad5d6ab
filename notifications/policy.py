"""Time arithmetic of the notification policies: the user's timezone, limit windows, quiet hours,
the age of an event.

Pure functions of their arguments, so the edges (a day boundary in Tokyo, a quiet window that
wraps midnight) are tested without a database.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rules.explain import duration_text
from rules.schema import Debounce, QuietHours

UTC = ZoneInfo("UTC")


def user_timezone(traits: Mapping[str, Any]) -> ZoneInfo:
    """Return the IANA zone named by the `timezone` trait; UTC when absent or not a zone."""
    name = traits.get("timezone")
    if not isinstance(name, str) or not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True, kw_only=True)
class LimitWindow:
    """The trigger times whose notifications count against a limit: start <= t < end.

    None on either side leaves it open. `description` finishes "already scheduled or sent 1 of
    1 ...".
    """

    limit: int
    start: datetime | None
    end: datetime | None
    description: str


def limit_window(debounce: Debounce, *, at: datetime, tz: ZoneInfo) -> LimitWindow | None:
    """Return the window a notification triggered at `at` is limited in; None for no limit.

    A calendar day is the day of `at` in the user's zone. A rolling period counts the
    notifications within `period` of `at` on both sides, so events evaluated out of time order
    still never send more than `limit` within any one period.
    """
    if debounce.limit is None:
        return None
    if debounce.period_seconds is None:
        return LimitWindow(limit=debounce.limit, start=None, end=None, description="ever")
    if debounce.calendar_day:
        day = at.astimezone(tz).date()
        start = datetime.combine(day, time.min, tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
        return LimitWindow(
            limit=debounce.limit,
            start=start.astimezone(timezone.utc),
            end=end.astimezone(timezone.utc),
            description=f"today ({day.isoformat()}, {tz.key})",
        )
    period = timedelta(seconds=debounce.period_seconds)
    return LimitWindow(
        limit=debounce.limit,
        start=at - period,
        end=at + period + timedelta(microseconds=1),
        description=f"within {duration_text(debounce.period_seconds)} of this event",
    )


def quiet_hours_defer(due: datetime, quiet: QuietHours, *, tz: ZoneInfo) -> datetime:
    """Return when a notification due at `due` may go out: the end of a quiet window it falls in.

    The window is [start, end) in the user's zone and wraps midnight when start > end
    (22:00-07:00). A due time outside it is returned unchanged.
    """
    local = due.astimezone(tz)
    now = local.time()
    if quiet.start <= quiet.end:
        inside = quiet.start <= now < quiet.end
        end_day = local.date()
    else:
        inside = now >= quiet.start or now < quiet.end
        end_day = local.date() + timedelta(days=1) if now >= quiet.start else local.date()
    if not inside:
        return due
    return datetime.combine(end_day, quiet.end, tzinfo=tz).astimezone(timezone.utc)


def event_too_old(
    max_age_seconds: int | None, *, occurred_at: datetime, now: datetime
) -> str | None:
    """Return why an event that occurred at `occurred_at` is too old to notify about at `now`,
    or None when the rule sets no maximum age or the event is within it."""
    if max_age_seconds is None:
        return None
    age = now - occurred_at
    if age <= timedelta(seconds=max_age_seconds):
        return None
    return (
        f"the event is {duration_text(int(age.total_seconds()))} old, more than the rule's "
        f"max_event_age_seconds ({duration_text(max_age_seconds)})"
    )
