"""Store what the audit trail reads, exactly: an event, and a decision about it.

The audit tests need precise rows (ties, other tenants, every status); the browser test sends
its event through `POST /api/v1/events` and the real evaluator instead.
"""

import itertools
from datetime import datetime

from django.utils import timezone

from events.models import Event
from notifications.models import Decision, Notification
from users.models import DEFAULT_TENANT, User

_event_numbers = itertools.count(1)


def event_store(
    *,
    user: User,
    event_type: str,
    properties: dict | None = None,
    occurred_at: datetime | None = None,
    tenant_id: str = DEFAULT_TENANT,
) -> Event:
    """Store one product event for `user` and return it."""
    return Event.objects.create(
        tenant_id=tenant_id,
        event_id=f"evt_{next(_event_numbers)}",
        source="app",
        event_type=event_type,
        occurred_at=occurred_at or timezone.now(),
        properties=properties or {},
        user_traits=user.traits,
        user=user,
    )


def decision_store(
    *,
    event: Event,
    rule: str,
    status: str,
    reason: str = "",
    notification_type: str | None = None,
    channel: str = "email",
    at: datetime | None = None,
    last_error: str = "",
    rules_version: int = 1,
) -> Notification:
    """Record what `rule` (of the notification rules' `rules_version`) decided about `event`:
    its notification and one decision."""
    at = at or timezone.now()
    notification = Notification.objects.create(
        user_id=event.user_id,
        rule=rule,
        notification_type=notification_type or rule.upper(),
        channel=channel,
        trigger_event=event,
        trigger_occurred_at=event.occurred_at,
        rules_version=rules_version,
        status=status,
        reason=reason,
        last_error=last_error,
        created_at=at,
        sent_at=at if status == Notification.Status.SENT else None,
    )
    Decision.objects.create(
        notification=notification,
        user_id=event.user_id,
        status=status,
        reason=reason,
        rules_version=rules_version,
        created_at=at,
    )
    return notification
