"""Reads of the notifications app: a user's audit trail."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from events.models import Event
from midnite_test.index_order import read_in_index_order
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
# An internal alert's delivery (its recipients, its providers' errors) is for operators: a
# tenant-limited reader sees that it was sent, scheduled or failed, and these words for why.
_INTERNAL_DELIVERY_REASONS = {
    Notification.Status.SCHEDULED: "scheduled for the internal recipients",
    Notification.Status.SENT: "sent to the internal recipients",
    Notification.Status.FAILED: "not delivered to the internal recipients",
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
    rules_version: int


@dataclass(frozen=True, kw_only=True)
class AuditDecision:
    rule: str
    notification_type: str
    trigger_event: str
    status: str
    reason: str
    created_at: datetime
    rules_version: int


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
    Such a reader sees the traits as the newest of those events carried them, not the user's
    traits merged from every tenant, and no internal alert's delivery details.
    Six queries whatever the sizes (the lists are read in index order, see
    `read_in_index_order`). Raises UserNotFound.
    """
    found = _user_find(user=user, tenants=tenants)
    in_tenants = Q() if tenants is None else Q(trigger_event__tenant_id__in=tenants)
    events = Event.objects.filter(user=found).order_by("-occurred_at", "-id")
    event_fields = _EVENT_FIELDS
    if tenants is not None:
        events = events.filter(tenant_id__in=tenants)
        event_fields = (*_EVENT_FIELDS, "user_traits")
    notifications = (
        Notification.objects.filter(in_tenants, user=found)
        .exclude(status=Notification.Status.NOT_MATCHED)
        .order_by("-created_at", "-id")
    )
    decisions = Decision.objects.filter(
        Q() if tenants is None else Q(notification__trigger_event__tenant_id__in=tenants),
        user=found,
    ).order_by("-created_at", "-id")
    with read_in_index_order():
        event_rows = list(events.values(*event_fields)[:limit])
        notification_rows = list(notifications.values(*_NOTIFICATION_FIELDS)[:limit])
        decision_rows = list(decisions.values(*_DECISION_FIELDS)[:limit])
    every_tenant = tenants is None
    return UserAudit(
        id=found.pk,
        user_id=found.external_id or str(found.pk),
        traits=found.traits if every_tenant else _newest_traits(event_rows),
        recent_events=[_event(row) for row in event_rows],
        notification_history=[
            _notification(row, every_tenant=every_tenant) for row in notification_rows
        ],
        decisions=[_decision(row, every_tenant=every_tenant) for row in decision_rows],
    )


def _newest_traits(event_rows: list[dict]) -> dict[str, Any]:
    """Return the traits as the newest of `event_rows` carried them ({} without events)."""
    return event_rows[0]["user_traits"] if event_rows else {}


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
    "private",
    "rules_version",
)
_DECISION_FIELDS = (
    "notification__rule",
    "notification__notification_type",
    "notification__trigger_event__event_id",
    "notification__private",
    "status",
    "reason",
    "created_at",
    "rules_version",
)


def _event(row: dict) -> AuditEvent:
    return AuditEvent(
        event_id=row["event_id"],
        event_type=row["event_type"],
        event_timestamp=row["occurred_at"],
        properties=row["properties"],
    )


def _reason_shown(*, status: str, reason: str, private: bool, every_tenant: bool) -> str:
    """Return `reason` as the reader may see it: an internal alert's delivery is for operators."""
    if private and not every_tenant and status in _INTERNAL_DELIVERY_REASONS:
        return _INTERNAL_DELIVERY_REASONS[status]
    return reason


def _notification(row: dict, *, every_tenant: bool) -> AuditNotification:
    reason = None
    if row["status"] in _NOT_DELIVERED:
        # A failed delivery may carry only the channel's last error.
        reason = _reason_shown(
            status=row["status"],
            reason=row["reason"] or row["last_error"],
            private=row["private"],
            every_tenant=every_tenant,
        )
    return AuditNotification(
        notification_type=row["notification_type"],
        channel=row["channel"],
        trigger_event=row["trigger_event__event_id"],
        status=row["status"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        suppression_reason=reason,
        rules_version=row["rules_version"],
    )


def _decision(row: dict, *, every_tenant: bool) -> AuditDecision:
    return AuditDecision(
        rule=row["notification__rule"],
        notification_type=row["notification__notification_type"],
        trigger_event=row["notification__trigger_event__event_id"],
        status=row["status"],
        reason=_reason_shown(
            status=row["status"],
            reason=row["reason"],
            private=row["notification__private"],
            every_tenant=every_tenant,
        ),
        created_at=row["created_at"],
        rules_version=row["rules_version"],
    )


@dataclass(frozen=True, kw_only=True)
class UserDecision:
    """A decision of a user's audit trail with its id, which places it in a page."""

    id: int
    decision: AuditDecision


@dataclass(frozen=True, kw_only=True)
class UserDecisionPosition:
    """Where a page of a user's decisions ended: its last decision's time and id."""

    created_at: datetime
    id: int


def user_decisions(
    *, user_pk: int, after: UserDecisionPosition | None = None, limit: int
) -> list[UserDecision]:
    """Return up to `limit` of the user's decisions in every tenant, newest first.

    The audit trail's decisions, read the same way (its index, in index order) but in pages:
    those after `after` when given.
    """
    decisions = Decision.objects.filter(user_id=user_pk)
    if after is not None:
        at = after.created_at
        decisions = decisions.filter(Q(created_at__lt=at) | Q(id__lt=after.id), created_at__lte=at)
    with read_in_index_order():
        rows = list(
            decisions.order_by("-created_at", "-id").values("id", *_DECISION_FIELDS)[:limit]
        )
    return [UserDecision(id=row["id"], decision=_decision(row, every_tenant=True)) for row in rows]
