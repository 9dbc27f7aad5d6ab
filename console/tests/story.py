"""Rows the overview reads, stored exactly: buckets, events with their alerts and notifications.

The API tests need precise counts in and out of a range; the browser test sends its events
through the API and the real consumers instead.
"""

import itertools
from datetime import datetime

from django.db import connection
from django.utils import timezone

from alerts.models import Alert
from events.models import Event
from metrics.models import MetricBucket
from notifications.models import Notification
from outbox.logs import STREAMS
from outbox.models import OutboxCursor
from users.models import User

_numbers = itertools.count(1)


def bucket_store(
    *, tenant: str, size: str, start: datetime, event_type: str, count: int, source: str = "app"
) -> MetricBucket:
    return MetricBucket.objects.create(
        tenant_id=tenant,
        bucket_size=size,
        bucket_start=start,
        source=source,
        event_type=event_type,
        count=count,
    )


def event_store(*, tenant: str, user: User, event_type: str = "withdraw") -> Event:
    return Event.objects.create(
        tenant_id=tenant,
        event_id=f"evt_{next(_numbers)}",
        source="app",
        event_type=event_type,
        occurred_at=timezone.now(),
        user=user,
    )


def alert_store(*, event: Event, code: int, at: datetime | None = None) -> Alert:
    return Alert.objects.create(
        event=event, code=code, rules_version=1, created_at=at or timezone.now()
    )


def notification_store(
    *,
    tenant: str,
    user: User,
    rule: str,
    status: str,
    reason: str = "",
    at: datetime | None = None,
) -> Notification:
    """What `rule` decided about a new event of `tenant` (one per event and rule)."""
    event = event_store(tenant=tenant, user=user, event_type="signup_completed")
    return Notification.objects.create(
        user_id=event.user_id,
        rule=rule,
        notification_type=rule.upper(),
        channel="email",
        trigger_event=event,
        trigger_occurred_at=event.occurred_at,
        rules_version=1,
        status=status,
        reason=reason,
        created_at=at or timezone.now(),
    )


def tenant_heavy_store(*, tenant: str, user: User, events: int) -> None:
    """A tenant with `events` events over the last 30 days, a minute apart at most, counted in
    buckets of every size; an alert on every 10th and a notification on every 5th (most of
    them `not_matched`, as the evaluator stores them), all in plain SQL; the consumers' cursors
    past them all."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_event (tenant_id, event_id, user_id, event_type, source,
                                      occurred_at, properties, user_traits, received_at)
            SELECT %(tenant)s, 'heavy_' || n, %(user)s, 'type_' || (n %% 12), 'app',
                   now() - (n %% 43200) * INTERVAL '1 minute', '{}', '{}', now()
            FROM generate_series(1, %(events)s) AS n
            """,
            {"tenant": tenant, "user": user.pk, "events": events},
        )
        for size in ("minute", "hour", "day"):
            cursor.execute(
                """
                INSERT INTO events_metricbucket (tenant_id, bucket_size, bucket_start, source,
                                                 event_type, count, amount_sum)
                SELECT tenant_id, %(size)s, date_trunc(%(size)s, occurred_at), source,
                       event_type, count(*), 0
                FROM events_event WHERE tenant_id = %(tenant)s
                GROUP BY 1, 2, 3, 4, 5
                """,
                {"tenant": tenant, "size": size},
            )
        cursor.execute(
            """
            INSERT INTO events_alert (event_id, code, rules_version, created_at)
            SELECT id, 1100 + (id %% 3), 1, occurred_at
            FROM events_event WHERE tenant_id = %(tenant)s AND id %% 10 = 0
            """,
            {"tenant": tenant},
        )
        cursor.execute(
            """
            INSERT INTO notifications_notification (
                user_id, rule, notification_type, channel, private, trigger_event_id,
                trigger_occurred_at, rules_version, status, reason, attempts, last_error,
                subject, body, created_at, updated_at)
            SELECT user_id, 'rule_' || (id %% 4), 'R', 'email', false, id, occurred_at, 1,
                   CASE WHEN id %% 50 = 0 THEN 'sent' ELSE 'not_matched' END, '', 0, '', '',
                   '', occurred_at, now()
            FROM events_event WHERE tenant_id = %(tenant)s AND id %% 5 = 0
            """,
            {"tenant": tenant},
        )
        cursor.execute("SELECT max(xid), max(id) FROM events_event")
        xid, last = cursor.fetchone()
    # Every consumer has read the whole log, as a running worker keeps it.
    for stream in STREAMS:
        OutboxCursor.objects.update_or_create(consumer=stream, defaults={"xid": xid, "id": last})
