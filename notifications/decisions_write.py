"""Write a batch's decisions: one notification row and its first decision per (rule, event).

The rows arrive as plain tuples, never model objects: building a Notification and a Decision
per decision and letting `bulk_create` prepare each field was most of a batch's time. On
PostgreSQL each table takes one binary COPY; elsewhere `bulk_create`.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from midnite_test.sequences import next_id_sql
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


# The notifications' ids first, so that both tables are written with COPY, whose rows psycopg
# formats in C (an INSERT's arrays are dumped element by element in Python).
_NOTIFICATION_IDS = (
    f"SELECT {next_id_sql('notifications_notification')} FROM generate_series(1, %s)"
)
_NOTIFICATIONS_COPY = """
    COPY notifications_notification (
        id, user_id, rule, notification_type, channel, private, trigger_event_id,
        trigger_occurred_at, status, reason, due_at, subject, body, created_at,
        rules_version, attempts, last_error, updated_at, sent_at
    ) FROM STDIN (FORMAT BINARY)
"""
_NOTIFICATION_TYPES = (
    ["int8", "int8", "text", "text", "text", "bool", "int8", "timestamptz", "text", "text"]
    + ["timestamptz", "text", "text", "timestamptz", "int4", "int4", "text", "timestamptz"]
    + ["timestamptz"]
)
_DECISIONS_COPY = """
    COPY notifications_decision (
        notification_id, user_id, status, reason, rules_version, created_at
    ) FROM STDIN (FORMAT BINARY)
"""
_DECISION_TYPES = ["int8", "int8", "text", "text", "int4", "timestamptz"]


def _postgresql_write(rows: Sequence[DecidedRow], *, rules_version: int, now: datetime) -> None:
    saved_at = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_NOTIFICATION_IDS, [len(rows)])
        # In the rows' order, as bulk_create numbers them.
        ids = sorted(notification_id for notification_id, in cursor.fetchall())
        with cursor.copy(_NOTIFICATIONS_COPY) as copy:
            copy.set_types(_NOTIFICATION_TYPES)
            for notification_id, row in zip(ids, rows):
                copy.write_row((notification_id, *row, rules_version, 0, "", saved_at, None))
        with cursor.copy(_DECISIONS_COPY) as copy:
            copy.set_types(_DECISION_TYPES)
            for notification_id, row in zip(ids, rows):
                copy.write_row(
                    (notification_id, row.user_id, row.status, row.reason, rules_version, now)
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
