"""The stored notifications that count against the limits of a batch's users, read once a batch.

Only as far from the batch's events as a limit's period reaches (a limit for ever reads them
all): a user's every insufficient-funds email ever was most of what a batch read.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Q

from notifications.admission import LimitCounts
from notifications.history import BatchEvent
from notifications.in_array import InArray
from notifications.models import Notification
from rules.schema import Debounce, NotificationRule

# Notifications that count against a limit: sent, or on their way.
COUNTED = (Notification.Status.SCHEDULED, Notification.Status.SENT)


def limit_counts_load(
    events: Sequence[BatchEvent], rules: Mapping[str, tuple[NotificationRule, ...]]
) -> LimitCounts:
    """Return the trigger times of the stored notifications that count against the limits of
    `events`' users and `rules`' types, within the reach of the limits' periods."""
    reach: dict[str, timedelta | None] = {}
    for rule in {rule for event in events for rule in rules.get(event.event_type, ())}:
        if rule.debounce.limit is not None:
            reach[rule.notification_type] = _limit_reach(
                rule.debounce, reach.get(rule.notification_type, timedelta(0))
            )
    limits = LimitCounts()
    if reach:
        users = sorted({event.user_id for event in events})
        first = min(event.occurred_at for event in events)
        last = max(event.occurred_at for event in events)
        windows = {
            notification_type: (None, None) if period is None else (first - period, last + period)
            for notification_type, period in sorted(reach.items())
        }
        for user_id, notification_type, at in _counted(users, windows):
            limits.add((user_id, notification_type), at)
    return limits


def _limit_reach(debounce: Debounce, widest: timedelta | None) -> timedelta | None:
    """Return how far from an event the notifications counted against `debounce` can be, at
    least `widest`; None: any distance. A rolling period reaches its length either side; a
    calendar day (at most 25 hours in a zone that changes its clocks) less than two days."""
    if widest is None or debounce.period_seconds is None:
        return None
    return max(widest, timedelta(seconds=2 * debounce.period_seconds))


# One scan of notification_user_type_time per type, for every user at once: with IN lists of
# users and ORed types instead, the planner can read each user's every notification through
# another index. NULL bounds: the type's whole history.
_COUNTED_PER_TYPE = """
    SELECT counted.* FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[])
        AS wanted (notification_type, start, finish)
    CROSS JOIN LATERAL (
        SELECT user_id, notification_type, trigger_occurred_at FROM notifications_notification
        WHERE user_id = ANY(%s::bigint[]) AND notification_type = wanted.notification_type
            AND trigger_occurred_at >= coalesce(wanted.start, '-infinity')
            AND trigger_occurred_at <= coalesce(wanted.finish, 'infinity')
            AND status = ANY(%s::text[])
    ) AS counted
"""


def _counted(
    users: list[int], windows: Mapping[str, tuple[datetime | None, datetime | None]]
) -> list[tuple[int, str, datetime]]:
    """Return (user, type, trigger time) of the counted notifications of `users` within each
    type's window (start, end), None an open side."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            starts, ends = zip(*windows.values())
            cursor.execute(
                _COUNTED_PER_TYPE,
                [list(windows), list(starts), list(ends), users, list(COUNTED)],
            )
            return cursor.fetchall()
    within = Q()
    for notification_type, (start, end) in windows.items():
        near = Q() if start is None else Q(trigger_occurred_at__range=(start, end))
        within |= Q(notification_type=notification_type) & near
    return list(
        Notification.objects.filter(
            within, InArray("user_id", users), status__in=COUNTED
        ).values_list("user_id", "notification_type", "trigger_occurred_at")
    )
