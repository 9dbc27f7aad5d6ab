from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from notifications.policy import UTC, limit_window, quiet_hours_defer, user_timezone
from rules.schema import Debounce, QuietHours

AT = datetime(2025, 10, 31, 19, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "traits, expected",
    [
        ({"timezone": "Asia/Tokyo"}, "Asia/Tokyo"),
        ({}, "UTC"),
        ({"timezone": "Mars/Olympus"}, "UTC"),
        ({"timezone": 9}, "UTC"),
        ({"timezone": "../etc/passwd"}, "UTC"),
    ],
)
def test_user_timezone_is_the_trait_or_utc(traits, expected):
    assert user_timezone(traits).key == expected


def test_no_limit_has_no_window():
    debounce = Debounce(limit=None, period_seconds=86400, calendar_day=True)
    assert limit_window(debounce, at=AT, tz=UTC) is None


def test_a_limit_without_a_period_counts_forever():
    window = limit_window(Debounce(limit=1, period_seconds=None, calendar_day=False), at=AT, tz=UTC)
    assert (window.limit, window.start, window.end, window.description) == (1, None, None, "ever")


def test_calendar_day_is_the_day_of_the_event_in_the_users_zone():
    debounce = Debounce(limit=1, period_seconds=86400, calendar_day=True)
    utc_day = limit_window(debounce, at=AT, tz=UTC)
    assert (utc_day.start, utc_day.end) == (
        datetime(2025, 10, 31, tzinfo=timezone.utc),
        datetime(2025, 11, 1, tzinfo=timezone.utc),
    )
    assert utc_day.description == "today (2025-10-31, UTC)"
    # 19:30 UTC is 04:30 on 1 November in Tokyo, whose day starts at 15:00 UTC.
    tokyo_day = limit_window(debounce, at=AT, tz=ZoneInfo("Asia/Tokyo"))
    assert (tokyo_day.start, tokyo_day.end) == (
        datetime(2025, 10, 31, 15, tzinfo=timezone.utc),
        datetime(2025, 11, 1, 15, tzinfo=timezone.utc),
    )
    assert tokyo_day.description == "today (2025-11-01, Asia/Tokyo)"


def test_a_rolling_period_covers_the_period_on_both_sides_of_the_event():
    window = limit_window(Debounce(limit=2, period_seconds=3600, calendar_day=False), at=AT, tz=UTC)
    assert window.start == datetime(2025, 10, 31, 18, 30, tzinfo=timezone.utc)
    assert datetime(2025, 10, 31, 20, 30, tzinfo=timezone.utc) < window.end
    assert window.description == "within 1h of this event"


NIGHT = QuietHours(start=time(22), end=time(7))
LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    "due, expected",
    [
        # 23:00 London (GMT in November) is inside 22:00-07:00: deferred to 07:00 next morning.
        (
            datetime(2025, 11, 3, 23, tzinfo=timezone.utc),
            datetime(2025, 11, 4, 7, tzinfo=timezone.utc),
        ),
        # 03:00 is inside, after midnight: deferred to 07:00 the same day.
        (
            datetime(2025, 11, 4, 3, tzinfo=timezone.utc),
            datetime(2025, 11, 4, 7, tzinfo=timezone.utc),
        ),
        # 07:00 is the end of the window: not inside.
        (
            datetime(2025, 11, 4, 7, tzinfo=timezone.utc),
            datetime(2025, 11, 4, 7, tzinfo=timezone.utc),
        ),
        (
            datetime(2025, 11, 4, 12, tzinfo=timezone.utc),
            datetime(2025, 11, 4, 12, tzinfo=timezone.utc),
        ),
    ],
)
def test_quiet_hours_that_wrap_midnight(due, expected):
    assert quiet_hours_defer(due, NIGHT, tz=LONDON) == expected


def test_quiet_hours_within_one_day_follow_the_users_zone():
    lunch = QuietHours(start=time(12), end=time(14))
    # 04:00 UTC is 13:00 in Tokyo: deferred to 14:00 Tokyo, 05:00 UTC.
    due = datetime(2025, 11, 4, 4, tzinfo=timezone.utc)
    deferred = quiet_hours_defer(due, lunch, tz=ZoneInfo("Asia/Tokyo"))
    assert deferred == datetime(2025, 11, 4, 5, tzinfo=timezone.utc)
    assert quiet_hours_defer(due, lunch, tz=UTC) == due
