"""Send the notifications that are due: recheck, deliver, and record what happened.

A claim leases due notifications (their due time moves NOTIFICATION_SEND_LEASE_SECONDS ahead
and their attempt count up) in a short transaction; delivery happens outside any transaction;
the outcome is written only if the lease is still this worker's. A worker that dies mid-send
leaves the notification to be claimed again when its lease runs out, so delivery is at least
once, and the webhooks carry an idempotency key for the receiver to drop a repeat.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from events.history import UserEventHistory, event_record
from notifications.channels import DeliveryFailed, OutgoingMessage, message_deliver
from notifications.config import notification_config
from notifications.delivery import delivery_retry_delay
from notifications.models import Decision, Notification
from rules.explain import condition_failure
from rules.schema import NotificationRule

log = structlog.get_logger(__name__)
SCHEDULED = Notification.Status.SCHEDULED
CLAIM_SIZE = 500


@dataclass(kw_only=True)
class _Outcome:
    """What one send attempt decided, written with the others of its batch."""

    notification: Notification
    status: str
    reason: str
    due_at: datetime | None = None
    last_error: str = ""


def notifications_send_due(*, max_seconds: float | None = None) -> int:
    """Send every due notification, in batches, until none is due; return how many were handled.

    Safe in any number of processes at once (SKIP LOCKED claims, lease-guarded outcomes).
    """
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    handled = 0
    while deadline is None or time.monotonic() < deadline:
        claimed = _due_claim(CLAIM_SIZE)
        rules = {rule.name: rule for rule in notification_config().rules}
        _outcomes_record([_send(notification, rules) for notification in claimed])
        handled += len(claimed)
        if len(claimed) < CLAIM_SIZE:
            break
    return handled


@transaction.atomic
def _due_claim(limit: int) -> list[Notification]:
    """Lease up to `limit` due notifications to this worker and count the attempt."""
    now = timezone.now()
    ids = list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(status=SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return []
    lease_end = now + timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
    Notification.objects.filter(pk__in=ids).update(due_at=lease_end, attempts=F("attempts") + 1)
    return list(
        Notification.objects.select_related("user", "trigger_event")
        .filter(pk__in=ids)
        .order_by("due_at", "id")
    )


def _send(notification: Notification, rules: dict[str, NotificationRule]) -> _Outcome:
    blocked = _blocked(notification, rules.get(notification.rule))
    if blocked is not None:
        return _Outcome(notification=notification, status=blocked[0], reason=blocked[1])
    try:
        destinations = message_deliver(_outgoing(notification))
    except DeliveryFailed as exc:
        return _failure(notification, exc)
    return _Outcome(
        notification=notification,
        status=Notification.Status.SENT,
        reason=f"sent to {', '.join(destinations)}",
    )


def _blocked(notification: Notification, rule: NotificationRule | None) -> tuple[str, str] | None:
    """Return the (status, reason) that stops this send, or None to deliver it."""
    if rule is None:
        return Notification.Status.CANCELLED, f"rule {notification.rule} is no longer configured"
    user = notification.user
    if not notification.private and user.traits.get("unsubscribed") is True:
        return Notification.Status.SUPPRESSED, f"skipped {rule.notification_type}: unsubscribed"
    if rule.recheck and notification.attempts == 1:
        event = notification.trigger_event
        history = UserEventHistory(user_id=user.pk, anchor=event, user_traits=user.traits)
        failure = condition_failure(
            rule.condition, event=event_record(event, user_traits=user.traits), history=history
        )
        if failure is not None:
            return Notification.Status.CANCELLED, f"recheck failed: {failure}"
    return None


def _outgoing(notification: Notification) -> OutgoingMessage:
    user = notification.user
    return OutgoingMessage(
        idempotency_key=f"notification-{notification.pk}",
        notification_type=notification.notification_type,
        channel=notification.channel,
        private=notification.private,
        user_id=user.pk,
        user_external_id=user.external_id,
        email=user.email or str(user.traits.get("email") or ""),
        phone=str(user.traits.get("phone") or ""),
        subject=notification.subject,
        body=notification.body,
    )


def _failure(notification: Notification, exc: DeliveryFailed) -> _Outcome:
    attempt = notification.attempts
    log.warning(
        "notification.delivery_failed",
        notification_id=notification.pk,
        attempt=attempt,
        retryable=exc.retryable,
    )
    if exc.retryable and attempt < settings.NOTIFICATION_MAX_ATTEMPTS:
        retry_at = timezone.now() + timedelta(seconds=delivery_retry_delay(attempt))
        return _Outcome(
            notification=notification,
            status=SCHEDULED,
            reason=f"attempt {attempt} failed: {exc.error}; retrying at {retry_at.isoformat()}",
            due_at=retry_at,
            last_error=exc.error,
        )
    return _Outcome(
        notification=notification,
        status=Notification.Status.FAILED,
        reason=f"failed after {attempt} attempt(s): {exc.error}",
        last_error=exc.error,
    )


@transaction.atomic
def _outcomes_record(outcomes: list[_Outcome]) -> None:
    """Write the outcomes and their decisions, but not over a lease another worker has taken.

    The rows are locked first, so a lease that is still this worker's stays so until commit.
    """
    now = timezone.now()
    leases = dict(
        Notification.objects.select_for_update()
        .filter(pk__in=[outcome.notification.pk for outcome in outcomes], status=SCHEDULED)
        .values_list("pk", "attempts")
    )
    held = [o for o in outcomes if leases.get(o.notification.pk) == o.notification.attempts]
    sent = [o.notification.pk for o in held if o.status == Notification.Status.SENT]
    # The common case, every send of the batch delivered, is one statement.
    Notification.objects.filter(pk__in=sent).update(
        status=Notification.Status.SENT, sent_at=now, updated_at=now
    )
    for outcome in held:
        if outcome.status == Notification.Status.SENT:
            continue
        changes = {"status": outcome.status, "updated_at": now}
        # A retry keeps the scheduling reason; its own reason is in the decision.
        if outcome.status != SCHEDULED:
            changes["reason"] = outcome.reason
        if outcome.last_error:
            changes["last_error"] = outcome.last_error
        if outcome.due_at is not None:
            changes["due_at"] = outcome.due_at
        Notification.objects.filter(pk=outcome.notification.pk).update(**changes)
    Decision.objects.bulk_create(
        Decision(
            notification=outcome.notification,
            user_id=outcome.notification.user_id,
            status=outcome.status,
            reason=outcome.reason,
            created_at=now,
        )
        for outcome in held
    )
    if held:
        log.info("notifications.sent", handled=len(outcomes), recorded=len(held))
