"""Reads of the notifications app: a user's audit trail."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from events.models import Event
from notifications.exceptions import UserNotFound
from notifications.models import Decision, Notification
from users.models import User

AUDIT_LIMIT_DEFAULT = 50
AUDIT_LIMIT_MAX = 500
# A primary key is a PostgreSQL bigint; a longer run of digits can only be an external id.
_PK_MAX = 2**63 - 1
_PK_DIGITS = re.compile(r"[0-9]{1,19}")
# The statuses whose reason says why nothing was (or will be) delivered.
_NOT_DELIVERED = {
    Notification.Status.SUPPRESSED,
    Notification.Status.CANCELLED,
    Notification.Status.FAILED,
}


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    event_id: str
    event_type: str
    event_timestamp: datetime
    properties: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class AuditNotification:
    notification_type: str
    channel: str
    trigger_event: str
    status: str
    created_at: datetime
    sent_at: datetime | None
    suppression_reason: str | None


@dataclass(frozen=True, kw_only=True)
class AuditDecision:
    rule: str
    notification_type: str
    trigger_event: str
    status: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class UserAudit:
    id: int
    user_id: str
    traits: dict[str, Any]
    recent_events: list[AuditEvent]
    notification_history: list[AuditNotification]
    decisions: list[AuditDecision]


def user_audit(
    *, user: str, limit: int = AUDIT_LIMIT_DEFAULT, tenants: frozenset[str] | None = None
) -> UserAudit:
    """Return what happened to `user` and what was decided about it, newest first.

    `user` is an external id; a string of digits that is nobody's external id names the
    user by primary key. Each list holds at most `limit` entries (1 to AUDIT_LIMIT_MAX).
    `tenants` (None: every tenant) restricts the events, and the notifications and decisions
    they triggered, to those tenants; a user with no event in them is unknown to the caller.
    Four queries whatever the sizes. Raises UserNotFound.
    """
    found = _user_find(user=user, tenants=tenants)
    in_tenants = Q() if tenants is None else Q(trigger_event__tenant_id__in=tenants)
    events = Event.objects.filter(user=found).order_by("-occurred_at", "-id")
    if tenants is not None:
        events = events.filter(tenant_id__in=tenants)
    notifications = (
        Notification.objects.filter(in_tenants, user=found)
        .exclude(status=Notification.Status.NOT_MATCHED)
        .order_by("-created_at", "-id")
    )
    decisions = Decision.objects.filter(
        Q() if tenants is None else Q(notification__trigger_event__tenant_id__in=tenants),
        user=found,
    ).order_by("-created_at", "-id")
    return UserAudit(
        id=found.pk,
        user_id=found.external_id or str(found.pk),
        traits=found.traits,
        recent_events=[_event(row) for row in events.values(*_EVENT_FIELDS)[:limit]],
        notification_history=[
            _notification(row) for row in notifications.values(*_NOTIFICATION_FIELDS)[:limit]
        ],
        decisions=[_decision(row) for row in decisions.values(*_DECISION_FIELDS)[:limit]],
    )


def _user_find(*, user: str, tenants: frozenset[str] | None) -> User:
    """Return the user named by external id, else by an all-digit primary key, in one query."""
    if "\x00" in user:  # PostgreSQL refuses the query; no id can hold a NUL.
        raise UserNotFound(f"No user {user!r}.", details={"user_id": user})
    lookup = Q(external_id=user)
    pk = int(user) if _PK_DIGITS.fullmatch(user) else None
    if pk is not None and pk <= _PK_MAX:
        lookup |= Q(pk=pk)
    users = User.objects.filter(lookup).only("external_id", "traits")
    if tenants is not None:
        in_tenants = Event.objects.filter(user=OuterRef("pk"), tenant_id__in=tenants)
        users = users.annotate(visible=Exists(in_tenants))
    candidates = {candidate.external_id == user: candidate for candidate in users}
    found = candidates.get(True) or candidates.get(False)
    if found is None or (tenants is not None and not found.visible):
        raise UserNotFound(f"No user {user!r}.", details={"user_id": user})
    return found


_EVENT_FIELDS = ("event_id", "event_type", "occurred_at", "properties")
_NOTIFICATION_FIELDS = (
    "notification_type",
    "channel",
    "trigger_event__event_id",
    "status",
    "created_at",
    "sent_at",
    "reason",
    "last_error",
)
_DECISION_FIELDS = (
    "notification__rule",
    "notification__notification_type",
    "notification__trigger_event__event_id",
    "status",
    "reason",
    "created_at",
)


def _event(row: dict) -> AuditEvent:
    return AuditEvent(
        event_id=row["event_id"],
        event_type=row["event_type"],
        event_timestamp=row["occurred_at"],
        properties=row["properties"],
    )


def _notification(row: dict) -> AuditNotification:
    reason = None
    if row["status"] in _NOT_DELIVERED:
        # A failed delivery may carry only the channel's last error.
        reason = row["reason"] or row["last_error"]
    return AuditNotification(
        notification_type=row["notification_type"],
        channel=row["channel"],
        trigger_event=row["trigger_event__event_id"],
        status=row["status"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        suppression_reason=reason,
    )


def _decision(row: dict) -> AuditDecision:
    return AuditDecision(
        rule=row["notification__rule"],
        notification_type=row["notification__notification_type"],
        trigger_event=row["notification__trigger_event__event_id"],
        status=row["status"],
        reason=row["reason"],
        created_at=row["created_at"],
    )
