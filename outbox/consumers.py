"""Consumers that react inside the database: each batch is handled and marked done atomically.

The analytics consumer ships to ClickHouse and needs the relay's two-phase batches
(`outbox.relay`). A consumer whose work is database writes (the metrics buckets) needs less:
its handler runs in the same transaction that marks the messages done, so a crash anywhere
rolls both back and the messages are handed out again. Apps register their handlers at
start-up; the outbox imports no domain app.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from outbox.models import OutboxBatch, OutboxMessage
from outbox.relay import RelayReport

log = structlog.get_logger(__name__)

# (message id, topic, subject_id, payload)
ClaimedMessage = tuple[int, str, int | None, Any]
Handler = Callable[[Sequence[ClaimedMessage]], None]
HANDLERS: dict[str, Handler] = {}


def outbox_consume(*, consumer: str, max_seconds: float | None = None) -> RelayReport:
    """Hand `consumer`'s messages to its handler in batches until none is left.

    Safe to run in any number of processes at once (SKIP LOCKED). A handler that raises
    rolls its batch back; the messages are handed out again by the next run. A consumer with
    no handler registered yet (messages are published to it before its app reacts to them)
    leaves its messages queued.
    """
    handler = HANDLERS.get(consumer)
    if handler is None:
        log.warning("outbox.consumer_without_handler", consumer=consumer)
        return RelayReport(batches=0, messages=0)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    batches = messages = 0
    while deadline is None or time.monotonic() < deadline:
        handled = _batch_handle(consumer, handler)
        if not handled:
            break
        batches += 1
        messages += handled
    return RelayReport(batches=batches, messages=messages)


@transaction.atomic(durable=True)
def _batch_handle(consumer: str, handler: Handler) -> int:
    claimed = list(
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(consumer=consumer, batch__isnull=True, dead_lettered_at__isnull=True)
        .order_by("id")
        .values_list("id", "topic", "subject_id", "payload")[: settings.OUTBOX_BATCH_SIZE]
    )
    if not claimed:
        return 0
    handler(claimed)
    now = timezone.now()
    batch = OutboxBatch.objects.create(
        consumer=consumer, attempts=1, next_attempt_at=now, shipped_at=now
    )
    OutboxMessage.objects.filter(pk__in=[message[0] for message in claimed]).update(batch=batch)
    log.info("outbox.batch_handled", consumer=consumer, batch_id=str(batch.pk), size=len(claimed))
    return len(claimed)
