"""Send the notifications that are due: recheck, deliver, and record what happened.

A claim leases due notifications (their due time moves NOTIFICATION_SEND_LEASE_SECONDS ahead
and their attempt count up) in a short transaction; delivery happens outside any transaction;
the outcome is written only if the lease is still this worker's. A worker that dies mid-send
leaves the notification to be claimed again when its lease runs out, so delivery is at least
once, and the webhooks carry an idempotency key for the receiver to drop a repeat.
"""

import time
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

log = structlog.get_logger(__name__)
SCHEDULED = Notification.Status.SCHEDULED
CLAIM_SIZE = 100


def notifications_send_due(*, max_seconds: float | None = None) -> int:
    """Send every due notification, in batches, until none is due; return how many were handled.

    Safe in any number of processes at once (SKIP LOCKED claims, lease-guarded outcomes).
    """
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    handled = 0
    while deadline is None or time.monotonic() < deadline:
        claimed = _due_claim(CLAIM_SIZE)
        for notification_id, attempt in claimed:
            _send(notification_id, attempt)
        handled += len(claimed)
        if len(claimed) < CLAIM_SIZE:
            break
    return handled


@transaction.atomic
def _due_claim(limit: int) -> list[tuple[int, int]]:
    now = timezone.now()
    ids = list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(status=SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", flat=True)[:limit]
    )
    lease_end = now + timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
    Notification.objects.filter(pk__in=ids).update(due_at=lease_end, attempts=F("attempts") + 1)
    return list(Notification.objects.filter(pk__in=ids).values_list("id", "attempts"))


def _send(notification_id: int, attempt: int) -> None:
    notification = Notification.objects.select_related("user", "trigger_event").get(
        pk=notification_id
    )
    blocked = _blocked(notification, attempt)
    if blocked is not None:
        _record(notification, attempt, status=blocked[0], reason=blocked[1])
        return
    try:
        destinations = message_deliver(_outgoing(notification))
    except DeliveryFailed as exc:
        _record_failure(notification, attempt, exc)
        return
    _record(
        notification,
        attempt,
        status=Notification.Status.SENT,
        reason=f"sent to {', '.join(destinations)}",
        sent_at=timezone.now(),
    )


def _blocked(notification: Notification, attempt: int) -> tuple[str, str] | None:
    """Return the (status, reason) that stops this send, or None to deliver it."""
    rules = {rule.name: rule for rule in notification_config().rules}
    rule = rules.get(notification.rule)
    if rule is None:
        return Notification.Status.CANCELLED, f"rule {notification.rule} is no longer configured"
    user = notification.user
    if not notification.private and user.traits.get("unsubscribed") is True:
        return Notification.Status.SUPPRESSED, f"skipped {rule.notification_type}: unsubscribed"
    if rule.recheck and attempt == 1:
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


def _record_failure(notification: Notification, attempt: int, exc: DeliveryFailed) -> None:
    if exc.retryable and attempt < settings.NOTIFICATION_MAX_ATTEMPTS:
        retry_at = timezone.now() + timedelta(seconds=delivery_retry_delay(attempt))
        reason = f"attempt {attempt} failed: {exc.error}; retrying at {retry_at.isoformat()}"
        _record(
            notification,
            attempt,
            status=SCHEDULED,
            reason=reason,
            due_at=retry_at,
            last_error=exc.error,
        )
    else:
        reason = f"failed after {attempt} attempt(s): {exc.error}"
        _record(
            notification,
            attempt,
            status=Notification.Status.FAILED,
            reason=reason,
            last_error=exc.error,
        )
    log.warning(
        "notification.delivery_failed",
        notification_id=notification.pk,
        attempt=attempt,
        retryable=exc.retryable,
    )


@transaction.atomic
def _record(
    notification: Notification,
    attempt: int,
    *,
    status: str,
    reason: str,
    due_at: datetime | None = None,
    sent_at: datetime | None = None,
    last_error: str = "",
) -> None:
    """Write the outcome and its decision, unless another worker has since taken the lease."""
    changes = {"status": status, "updated_at": timezone.now()}
    if last_error:
        changes["last_error"] = last_error
    # A retry keeps the scheduling reason; its own reason is in the decision.
    if status != SCHEDULED:
        changes["reason"] = reason
    if due_at is not None:
        changes["due_at"] = due_at
    if sent_at is not None:
        changes["sent_at"] = sent_at
    current = Notification.objects.filter(pk=notification.pk, status=SCHEDULED, attempts=attempt)
    if current.update(**changes):
        Decision.objects.create(
            notification=notification, user_id=notification.user_id, status=status, reason=reason
        )
        log.info("notification.decided", notification_id=notification.pk, status=status)
