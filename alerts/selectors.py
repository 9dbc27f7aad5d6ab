"""Reads of the alerts app."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q

from alerts.models import Alert
from midnite_test.index_order import read_in_index_order


@dataclass(frozen=True, kw_only=True)
class UserAlert:
    code: int
    rules_version: int
    event_pk: int
    event_id: str
    event_type: str
    tenant_id: str
    occurred_at: datetime


@dataclass(frozen=True, kw_only=True)
class UserAlertPosition:
    """Where a page of a user's alerts ended: its last alert's event time, event and code."""

    occurred_at: datetime
    event_pk: int
    code: int


def user_alerts(
    *, user_pk: int, after: UserAlertPosition | None = None, limit: int
) -> list[UserAlert]:
    """Return up to `limit` of the user's alerts, newest event first, those after `after`.

    Ordered by the event's time, then the event and the code, descending: the event index
    (`event_user_time`) read backwards (in index order, see `read_in_index_order`), each
    event's alerts from their index. A user with many events and few alerts reads many
    events for a page (the alerts have no index by user).
    """
    alerts = Alert.objects.filter(event__user_id=user_pk)
    if after is not None:
        at = after.occurred_at
        alerts = alerts.filter(
            Q(event__occurred_at__lt=at)
            | Q(event_id__lt=after.event_pk)
            | Q(event_id=after.event_pk, code__lt=after.code),
            event__occurred_at__lte=at,
        )
    page = (
        alerts.order_by("-event__occurred_at", "-event_id", "-code")
        .annotate(
            event_pk=F("event_id"),
            external_event_id=F("event__event_id"),
            event_type=F("event__event_type"),
            tenant_id=F("event__tenant_id"),
            occurred_at=F("event__occurred_at"),
        )
        .values(
            "code",
            "rules_version",
            "event_pk",
            "external_event_id",
            "event_type",
            "tenant_id",
            "occurred_at",
        )[:limit]
    )
    with read_in_index_order():
        rows = list(page)
    return [
        UserAlert(
            code=row["code"],
            rules_version=row["rules_version"],
            event_pk=row["event_pk"],
            event_id=row["external_event_id"],
            event_type=row["event_type"],
            tenant_id=row["tenant_id"],
            occurred_at=row["occurred_at"],
        )
        for row in rows
    ]
