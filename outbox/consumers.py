"""Consumers that react inside the database: each batch is handled and marked done atomically.

The analytics consumer ships to ClickHouse (`outbox.relay`). A consumer whose work is database
writes (the metrics buckets, the notification decisions) claims its batches the same way
(`outbox.batches`), and its handler runs in the transaction that marks the batch done, so a
crash anywhere rolls both back and the batch is handed out again. A handler that raises
counts a failed attempt, with the relay's backoff, bisecting and dead letters. Apps register
their handlers at start-up; the outbox imports no domain app.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from outbox.batches import (
    BatchFailed,
    RelayReport,
    batch_claim,
    batch_failure_record,
    batch_entries,
    batch_lock_next_due,
    batch_mark_shipped,
    batches_work,
    streams_work,
)

log = structlog.get_logger(__name__)

# (message id, topic, subject_id, payload)
ClaimedMessage = tuple[int, str, int | None, Any]
Handler = Callable[[Sequence[ClaimedMessage]], None]
HANDLERS: dict[str, Handler] = {}


def outbox_consume(*, consumer: str, max_seconds: float | None = None) -> RelayReport:
    """Hand `consumer`'s messages to its handler in batches until it has caught up
    (outbox.batches.batches_work).

    Its table logs' rows too, each a stream of its own (outbox.logs). Safe to run in any
    number of processes at once (SKIP LOCKED on the batches). A consumer with no handler
    registered yet (messages are published to it before its app reacts to them) leaves its
    messages queued.
    """
    handler = HANDLERS.get(consumer)
    if handler is None:
        log.warning("outbox.consumer_without_handler", consumer=consumer)
        return RelayReport(batches=0, messages=0)
    return streams_work(
        consumer,
        lambda stream, deadline: _stream_consume(stream, handler, deadline),
        max_seconds=max_seconds,
        clock=time.monotonic,
    )


def _stream_consume(stream: str, handler: Handler, deadline: float | None) -> RelayReport:
    return batches_work(
        ship_next=lambda: _batch_handle_next(stream, handler),
        claim_next=lambda: _claim(stream),
        deadline=deadline,
        clock=time.monotonic,
    )


# A consumer's first batch in this process; later ones follow its handler's measured rate.
FIRST_BATCH_SIZE = 1_000
SMALLEST_BATCH_SIZE = 100
# Messages per second each consumer's handler last managed, in this process.
_rates: dict[str, float] = {}


def _claim(consumer: str) -> bool | None:
    """Claim a batch; return whether it was full (None: there was nothing to claim)."""
    size = _batch_size(consumer)
    batch = batch_claim(consumer, size=size)
    return None if batch is None else batch.size >= size


def _batch_size(consumer: str) -> int:
    """Messages for a batch that takes about OUTBOX_HANDLER_BATCH_SECONDS to handle.

    A batch's transaction holds back the commit horizon of every consumer while it runs
    (docs/architecture.md), so its length, not its count, is what to bound: the metrics
    handler manages about ten times as many messages a second as the notifications one.
    """
    rate = _rates.get(consumer)
    if rate is None:
        return FIRST_BATCH_SIZE
    size = int(rate * settings.OUTBOX_HANDLER_BATCH_SECONDS)
    return max(SMALLEST_BATCH_SIZE, min(size, settings.OUTBOX_BATCH_SIZE))


def _batch_handle_next(consumer: str, handler: Handler) -> int | None:
    """Handle the next due batch nobody else holds; return its size, or None if none.

    Raises BatchFailed after recording a failed attempt.
    """
    batch_id = None
    try:
        with transaction.atomic(durable=True):
            batch = batch_lock_next_due(consumer)
            if batch is None:
                return None
            batch_id = batch.pk
            messages = batch_entries(batch)
            started = time.monotonic()
            handler(messages)
            _rates[consumer] = len(messages) / max(time.monotonic() - started, 0.001)
            batch_mark_shipped(batch_id)
    except Exception as exc:  # noqa: BLE001 - whatever the handler raised is one failed attempt
        if batch_id is None:
            raise
        log.exception("outbox.handler_failed", consumer=consumer, batch_id=str(batch_id))
        # A lost database connection says nothing about the messages: back off only.
        rejected = not isinstance(exc, (OperationalError, InterfaceError))
        batch_failure_record(batch_id=batch_id, error=exc, rejected=rejected)
        raise BatchFailed from exc
    log.info("outbox.batch_handled", consumer=consumer, batch_id=str(batch_id), size=len(messages))
    return len(messages)
