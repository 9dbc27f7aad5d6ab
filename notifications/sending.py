"""Send the notifications that are due: recheck, deliver, and record each outcome at once.

A claim leases due notifications (their due time moves NOTIFICATION_SEND_LEASE_SECONDS ahead
and their attempt count up) in a short transaction, and holds no more of them than can be sent
within the lease if every send takes as long as its channel's timeouts allow
(`delivery_seconds_max`); a send starts only while the lease still has that long to run, and
the rest of the claim is handed back. Delivery happens outside any transaction, and each
outcome is written as soon as it is known, only if the lease is still this worker's. So a
worker that dies, or a provider that slows down, leaves at most the one notification in flight
to be sent again when its lease runs out (webhooks carry an idempotency key for the receiver
to drop that repeat), never what was already sent.

An attempt whose outcome never got recorded still counts: a notification claimed
NOTIFICATION_MAX_ATTEMPTS times is failed at the next claim instead of being sent again. An
unexpected error while sending one notification fails that one, with its error, and the rest
of the claim goes on.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

import structlog
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from events.history import UserEventHistory, event_record
from midnite_test.prometheus import notification_decisions_count
from notifications.channels import (
    DeliveryFailed,
    OutgoingMessage,
    address_missing,
    delivery_seconds_max,
    destinations_channel,
    message_deliver,
    user_email,
    user_phone,
)
from notifications.config import NotificationConfig
from notifications.delivery import delivery_retry_delay
from notifications.models import Decision, Notification
from notifications.policy import event_too_old, quiet_hours_defer, user_timezone
from rule_sets.active import rule_set_version
from rule_sets.models import KIND_NOTIFICATIONS
from rules.explain import condition_failure
from rules.schema import NotificationRule

log = structlog.get_logger(__name__)
SCHEDULED = Notification.Status.SCHEDULED
CLAIM_SIZE_MAX = 500


@dataclass(kw_only=True)
class _Outcome:
    """What one send attempt decided, written as soon as it is known."""

    notification: Notification
    status: str
    reason: str
    due_at: datetime | None = None
    last_error: str = ""
    # False: nothing was tried (a deferral); the attempt the claim counted is given back.
    attempted: bool = True
    # A sent notification's channel as delivered (channels.destinations_channel); None: kept.
    channel: str | None = None


@dataclass(frozen=True)
class _Claim:
    """The notifications leased to this worker, and how many due ones were failed instead."""

    notifications: list[Notification]
    exhausted: int
    # time.monotonic() by which the lease has run out (taken before the lease was written).
    lease_ends: float


def notifications_send_due(*, max_seconds: float | None = None) -> int:
    """Send every due notification, claim by claim, until none is due; return how many were
    handled (sent, retried, stopped or failed).

    Safe in any number of processes at once (SKIP LOCKED claims, lease-guarded outcomes).
    """
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    size = claim_size()
    handled = 0
    while deadline is None or time.monotonic() < deadline:
        claim = _due_claim(size)
        rules = _rules_of(claim.notifications)
        for index, notification in enumerate(claim.notifications):
            # The first send of a claim always fits (the lease check holds the lease to it).
            if index and time.monotonic() + delivery_seconds_max() > claim.lease_ends:
                _unsent_release(claim.notifications[index:])
                break
            rule = rules[notification.rules_version][notification.rule]
            _outcome_record(_send(notification, rule))
            handled += 1
        handled += claim.exhausted
        if len(claim.notifications) + claim.exhausted < size:
            break
    return handled


def _rules_of(notifications: list[Notification]) -> dict[int, dict[str, NotificationRule]]:
    """Return the rules, by name, of each version of the notification rules that decided one
    of `notifications`: a send follows the rules it was decided under, whatever version has
    been activated since (versions never change, so its rule is always there)."""
    configs: dict[int, NotificationConfig] = {
        version: rule_set_version(KIND_NOTIFICATIONS, version).rules
        for version in {notification.rules_version for notification in notifications}
    }
    return {
        version: {rule.name: rule for rule in config.rules} for version, config in configs.items()
    }


def claim_size() -> int:
    """Return how many notifications one claim may lease: as many as can be sent within the
    lease when each send takes as long as the channels' timeouts allow."""
    fits = int(settings.NOTIFICATION_SEND_LEASE_SECONDS // delivery_seconds_max())
    return max(1, min(CLAIM_SIZE_MAX, fits))


@transaction.atomic
def _due_claim(limit: int) -> _Claim:
    """Lease up to `limit` due notifications to this worker and count the attempt; fail those
    that have used every attempt without an outcome."""
    lease_ends = time.monotonic() + settings.NOTIFICATION_SEND_LEASE_SECONDS
    now = timezone.now()
    due = dict(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(status=SCHEDULED, due_at__lte=now)
        .order_by("due_at")
        .values_list("id", "attempts")[:limit]
    )
    exhausted = [
        pk for pk, attempts in due.items() if attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
    ]
    if exhausted:
        _exhausted_fail(exhausted, now=now)
    ids = [pk for pk in due if pk not in exhausted]
    if not ids:
        return _Claim([], len(exhausted), lease_ends)
    lease_end = now + timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
    Notification.objects.filter(pk__in=ids).update(due_at=lease_end, attempts=F("attempts") + 1)
    notifications = list(
        Notification.objects.select_related("user", "trigger_event")
        .filter(pk__in=ids)
        .order_by("due_at", "id")
    )
    return _Claim(notifications, len(exhausted), lease_ends)


def _exhausted_fail(ids: list[int], *, now: datetime) -> None:
    """Fail notifications claimed NOTIFICATION_MAX_ATTEMPTS times with no outcome recorded.

    Their last attempt may have been delivered (the sender stopped, or outlived its lease,
    before writing it down), so they are not sent again.
    """
    error = "no outcome was recorded: the sender stopped or outlived its lease"
    failed = list(
        Notification.objects.filter(pk__in=ids).values_list(
            "pk", "user_id", "attempts", "rules_version", "rule"
        )
    )
    for pk, _, attempts, _, _ in failed:
        Notification.objects.filter(pk=pk).update(
            status=Notification.Status.FAILED,
            reason=f"failed after {attempts} attempt(s): {error}",
            last_error=error,
            updated_at=now,
        )
    Decision.objects.bulk_create(
        Decision(
            notification_id=pk,
            user_id=user_id,
            status=Notification.Status.FAILED,
            reason=f"failed after {attempts} attempt(s): {error}",
            rules_version=rules_version,
            created_at=now,
        )
        for pk, user_id, attempts, rules_version, _ in failed
    )
    notification_decisions_count((rule, Notification.Status.FAILED) for *_, rule in failed)
    log.warning("notifications.attempts_exhausted", notification_ids=ids)


def _unsent_release(notifications: list[Notification]) -> None:
    """Hand back claimed notifications this worker has no time left to send: due now, their
    attempt not counted, for the next claim to lease afresh."""
    still_held = reduce(or_, (Q(pk=n.pk, attempts=n.attempts) for n in notifications))
    Notification.objects.filter(still_held, status=SCHEDULED).update(
        due_at=timezone.now(), attempts=F("attempts") - 1
    )


def _send(notification: Notification, rule: NotificationRule) -> _Outcome:
    """Decide and deliver one notification; any error but the database's is its outcome."""
    try:
        blocked = _blocked(notification, rule)
        if blocked is not None:
            return blocked
        destinations = message_deliver(_outgoing(notification))
    except DeliveryFailed as exc:
        return _failure(notification, exc, rule)
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug or bad data fails this notification only
        log.exception("notification.send_error", notification_id=notification.pk)
        failure = DeliveryFailed(f"unexpected {type(exc).__name__} (see the log)", retryable=False)
        return _failure(notification, failure, rule)
    return _Outcome(
        notification=notification,
        status=Notification.Status.SENT,
        reason=f"sent to {', '.join(destinations)}",
        channel=destinations_channel(destinations),
    )


def _blocked(notification: Notification, rule: NotificationRule) -> _Outcome | None:
    """Return the outcome that stops or defers this send, or None to deliver it now."""

    def stopped(status: str, reason: str) -> _Outcome:
        return _Outcome(notification=notification, status=status, reason=reason)

    user = notification.user
    skipped = f"skipped {rule.notification_type}"
    if not notification.private and user.traits.get("unsubscribed") is True:
        return stopped(Notification.Status.SUPPRESSED, f"{skipped}: unsubscribed")
    missing = (
        None
        if notification.private
        else address_missing(notification.channel, email=user.email, traits=user.traits)
    )
    if missing is not None:
        return stopped(Notification.Status.SUPPRESSED, f"{skipped}: {missing}")
    now = timezone.now()
    too_old = event_too_old(
        rule.max_event_age_seconds, occurred_at=notification.trigger_occurred_at, now=now
    )
    if too_old is not None:
        return stopped(Notification.Status.SUPPRESSED, f"{skipped}: {too_old}")
    if rule.recheck and notification.attempts == 1:
        event = notification.trigger_event
        history = UserEventHistory(user_id=user.pk, anchor=event, user_traits=user.traits)
        failure = condition_failure(
            rule.condition, event=event_record(event, user_traits=user.traits), history=history
        )
        if failure is not None:
            return stopped(Notification.Status.CANCELLED, f"recheck failed: {failure}")
    deferred = _quiet_hours_end(notification, rule, now)
    if deferred is not None:
        return _Outcome(
            notification=notification,
            status=SCHEDULED,
            reason=f"deferred by quiet hours to {deferred.isoformat()}",
            due_at=deferred,
            attempted=False,
        )
    return None


def _quiet_hours_end(
    notification: Notification, rule: NotificationRule, at: datetime
) -> datetime | None:
    """Return when the rule's quiet hours end if `at` falls in them for this user, else None."""
    if rule.quiet_hours is None or notification.private:
        return None
    deferred = quiet_hours_defer(at, rule.quiet_hours, tz=user_timezone(notification.user.traits))
    return deferred if deferred != at else None


def _outgoing(notification: Notification) -> OutgoingMessage:
    user = notification.user
    return OutgoingMessage(
        idempotency_key=f"notification-{notification.pk}",
        notification_type=notification.notification_type,
        channel=notification.channel,
        private=notification.private,
        user_id=user.pk,
        user_external_id=user.external_id,
        email=user_email(user.email, user.traits),
        phone=user_phone(user.traits),
        subject=notification.subject,
        body=notification.body,
    )


def _failure(notification: Notification, exc: DeliveryFailed, rule: NotificationRule) -> _Outcome:
    attempt = notification.attempts
    log.warning(
        "notification.delivery_failed",
        notification_id=notification.pk,
        attempt=attempt,
        retryable=exc.retryable,
    )
    if exc.retryable and attempt < settings.NOTIFICATION_MAX_ATTEMPTS:
        retry_at = timezone.now() + timedelta(seconds=delivery_retry_delay(attempt))
        when = f"retrying at {retry_at.isoformat()}"
        deferred = _quiet_hours_end(notification, rule, retry_at)
        if deferred is not None:
            retry_at = deferred
            when = f"retrying at {retry_at.isoformat()}, when the quiet hours end"
        return _Outcome(
            notification=notification,
            status=SCHEDULED,
            reason=f"attempt {attempt} failed: {exc.error}; {when}",
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
def _outcome_record(outcome: _Outcome) -> None:
    """Write one outcome and its decision, but not over a lease another worker has taken.

    The lease is this worker's while the row is scheduled with the attempt count its claim
    wrote; the update takes the row's lock, so it stays so until commit.
    """
    notification = outcome.notification
    now = timezone.now()
    changes: dict = {"status": outcome.status, "updated_at": now}
    if outcome.status == Notification.Status.SENT:
        changes["sent_at"] = now
        if outcome.channel is not None:
            changes["channel"] = outcome.channel
    elif outcome.status != SCHEDULED:
        # A retry or a deferral keeps the scheduling reason; its own reason is in the decision.
        changes["reason"] = outcome.reason
    if outcome.last_error:
        changes["last_error"] = outcome.last_error
    if outcome.due_at is not None:
        changes["due_at"] = outcome.due_at
    if not outcome.attempted:
        changes["attempts"] = F("attempts") - 1
    held = Notification.objects.filter(
        pk=notification.pk, status=SCHEDULED, attempts=notification.attempts
    ).update(**changes)
    if not held:
        log.warning("notification.lease_lost", notification_id=notification.pk)
        return
    Decision.objects.create(
        notification=notification,
        user_id=notification.user_id,
        status=outcome.status,
        reason=outcome.reason,
        rules_version=notification.rules_version,
        created_at=now,
    )
    notification_decisions_count([(notification.rule, outcome.status)])
