"""Celery tasks of the notifications: thin wrappers that call one service each.

Evaluation is the outbox's `notifications` consumer (the tick, `outbox.outbox_tick`); these send.
"""

import structlog
from celery import shared_task

from outbox.worker_channel import task_send

log = structlog.get_logger(__name__)


@shared_task(name="notifications.send_due", ignore_result=True, acks_late=True)
def notifications_send_due_task() -> None:
    from django.conf import settings

    from notifications.sending import notifications_send_due

    notifications_send_due(max_seconds=settings.NOTIFICATION_SEND_MAX_SECONDS)


def notifications_send_wake() -> None:
    """Ask a worker to send now what just became due; the periodic sweep covers a lost ask."""
    try:
        task_send(notifications_send_due_task)
    except Exception as exc:  # noqa: BLE001 - any broker failure; the sweep covers it
        log.warning("notifications.wakeup_failed", error=type(exc).__name__)
