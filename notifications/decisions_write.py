"""Write a batch's decisions: one notification row and its first decision per (rule, event).

The rows arrive as plain tuples, never model objects: building a Notification and a Decision
per decision and letting `bulk_create` prepare each field was most of a batch's time. On
PostgreSQL each table takes one INSERT of arrays sent in binary; elsewhere `bulk_create`.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from notifications.models import Decision, Notification


class DecidedRow(NamedTuple):
    """One decision as a notification row stores it; its Decision repeats status and reason."""

    user_id: int
    rule: str
    notification_type: str
    channel: str
    private: bool
    trigger_event_id: int
    trigger_occurred_at: datetime
    status: str
    reason: str
    due_at: datetime | None
    subject: str
    body: str
    created_at: datetime


def decisions_write(rows: Sequence[DecidedRow], *, rules_version: int, now: datetime) -> None:
    """Insert a notification per row, under `rules_version`, and its decision taken at `now`."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _postgresql_write(rows, rules_version=rules_version, now=now)
    else:
        _models_write(rows, rules_version=rules_version, now=now)


# bulk_create's shape (SELECT * FROM UNNEST): the rows are given, nothing is read. The ids come
# back in the arrays' order, as bulk_create relies on too.
_NOTIFICATIONS_INSERT = """
    INSERT INTO notifications_notification (
        user_id, rule, notification_type, channel, private, trigger_event_id,
        trigger_occurred_at, status, reason, due_at, subject, body, created_at,
        rules_version, attempts, last_error, updated_at, sent_at
    )
    SELECT decided.*, %s, 0, '', %s, NULL
    FROM (
        SELECT * FROM UNNEST(
            %b::bigint[], %b::text[], %b::text[], %b::text[], %b::boolean[], %b::bigint[],
            %b::timestamptz[], %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::text[],
            %b::timestamptz[]
        )
    ) AS decided
    RETURNING id
"""
_DECISIONS_INSERT = """
    INSERT INTO notifications_decision (
        notification_id, user_id, status, reason, rules_version, created_at
    )
    SELECT * FROM UNNEST(
        %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::integer[], %b::timestamptz[]
    )
"""


_USER, _STATUS, _REASON = (
    DecidedRow._fields.index(name) for name in ("user_id", "status", "reason")
)


def _postgresql_write(rows: Sequence[DecidedRow], *, rules_version: int, now: datetime) -> None:
    columns = [list(column) for column in zip(*rows)]
    with connection.cursor() as cursor:
        cursor.execute(_NOTIFICATIONS_INSERT, [rules_version, timezone.now(), *columns])
        ids = [notification_id for notification_id, in cursor.fetchall()]
        cursor.execute(
            _DECISIONS_INSERT,
            [
                ids,
                columns[_USER],
                columns[_STATUS],
                columns[_REASON],
                [rules_version] * len(ids),
                [now] * len(ids),
            ],
        )


def _models_write(rows: Sequence[DecidedRow], *, rules_version: int, now: datetime) -> None:
    notifications = Notification.objects.bulk_create(
        Notification(**row._asdict(), rules_version=rules_version) for row in rows
    )
    Decision.objects.bulk_create(
        Decision(
            notification=notification,
            user_id=notification.user_id,
            status=notification.status,
            reason=notification.reason,
            rules_version=rules_version,
            created_at=now,
        )
        for notification in notifications
    )
