"""The relay: ship a consumer's outbox messages to ClickHouse in batches, exactly once.

A batch is claimed and committed first (its id is fixed), then shipped in a second
transaction that holds the batch's row lock across the ClickHouse insert and marks it shipped
only after the insert succeeded. A relay that dies anywhere leaves the batch unshipped with
the same id and the same messages, and the next relay re-sends it under the same insert
deduplication token, which ClickHouse recognises.
"""

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID, uuid4

import sentry_sdk
import structlog
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Subquery
from django.utils import timezone

from outbox.analytics import batch_event_log_columns
from outbox.clickhouse.client import clickhouse_insert
from outbox.clickhouse.sql import EVENT_LOG, EVENT_LOG_COLUMN_TYPES, EVENT_LOG_COLUMNS
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.exceptions import ClickHouseRejected, ClickHouseUnavailable, PoisonMessage
from outbox.models import OutboxBatch, OutboxMessage

log = structlog.get_logger(__name__)

RELAY_ERRORS = (ClickHouseUnavailable, ClickHouseRejected, PoisonMessage)


@dataclass(frozen=True, kw_only=True)
class RelayReport:
    batches: int = 0
    messages: int = 0
    failed: bool = False


def outbox_relay(
    *, consumer: str = CONSUMER_ANALYTICS, max_seconds: float | None = None
) -> RelayReport:
    """Ship `consumer`'s due batches, claiming new ones, until none is left.

    Stops early after `max_seconds` (between batches), so a worker under steady load still
    gets to its other tasks. A failed batch ends the run: it is retried when due (capped
    exponential backoff), by a later wake-up or the periodic sweep. Safe to run in any number
    of processes at once.
    """
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    batches = messages = 0
    claims = _Claims(consumer)
    try:
        while deadline is None or time.monotonic() < deadline:
            claims.ahead()
            try:
                shipped = _batch_ship_next(consumer)
            except _BatchFailed:
                return RelayReport(batches=batches, messages=messages, failed=True)
            if shipped is None:
                if not claims.next():
                    break
                continue
            batches += 1
            messages += shipped
    finally:
        claims.close()
    return RelayReport(batches=batches, messages=messages)


class _Claims:
    """Claims batches; behind a full one, claims the next in a thread while this one ships.

    A claim is PostgreSQL's work (an UPDATE of every message) and shipping is mostly this
    process's (rows, the ClickHouse insert), so with a backlog the two overlap. The claim in
    the thread is the same committed claim as any other, so nothing about exactly-once
    changes: it is one more relay that only claims. A batch it claims after this run stops
    ships on the next run. Only on PostgreSQL, and only once a claim came back full, so a
    relay kept busy by a trickle of messages never starts the thread.
    """

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.backlog = False
        self.pending: Future | None = None
        self.thread: ThreadPoolExecutor | None = None

    def next(self) -> bool:
        """Claim a batch (or take the one claimed ahead); return whether there was one."""
        if self.pending is not None:
            claimed, self.pending = self.pending.result(), None
        else:
            claimed = _batch_claim(self.consumer)
        self.backlog = claimed >= settings.OUTBOX_BATCH_SIZE
        return claimed > 0

    def ahead(self) -> None:
        """Start claiming the next batch in the thread, when there is a backlog."""
        if self.pending is not None and self.pending.done():
            self.next()
        if not self.backlog or self.pending is not None or connection.vendor != "postgresql":
            return
        if self.thread is None:
            self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-claim")
        self.pending = self.thread.submit(_batch_claim, self.consumer)

    def close(self) -> None:
        """Wait for a claim in progress, then close the thread and its database connection."""
        if self.thread is None:
            return
        if self.pending is not None:
            wait([self.pending])
        self.thread.submit(connections.close_all).result()
        self.thread.shutdown()


@transaction.atomic(durable=True)
def _batch_claim(consumer: str) -> int:
    """Give the oldest unclaimed messages a new batch, committed before any attempt.

    Returns the number of messages claimed.
    """
    batch_id = uuid4()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, [batch_id, consumer, settings.OUTBOX_BATCH_SIZE])
            claimed = cursor.rowcount
    else:
        unclaimed = (
            OutboxMessage.objects.filter(
                consumer=consumer, batch__isnull=True, dead_lettered_at__isnull=True
            )
            .order_by("id")
            .values("pk")[: settings.OUTBOX_BATCH_SIZE]
        )
        claimed = OutboxMessage.objects.filter(pk__in=Subquery(unclaimed)).update(batch_id=batch_id)
    if claimed:
        OutboxBatch.objects.create(id=batch_id, consumer=consumer)
    return claimed


# `= ANY(ARRAY(...))`, not `IN (...)`: PostgreSQL plans IN over a locking subquery as a scan
# of the whole table, which grows with the shipped messages retention keeps.
_CLAIM = """
    UPDATE outbox_outboxmessage SET batch_id = %s
    WHERE id = ANY(ARRAY(
        SELECT id FROM outbox_outboxmessage
        WHERE consumer = %s AND batch_id IS NULL AND dead_lettered_at IS NULL
        ORDER BY id
        LIMIT %s
        FOR UPDATE SKIP LOCKED
    ))
"""


class _BatchFailed(Exception):
    pass


def _batch_ship_next(consumer: str) -> int | None:
    """Ship the next due batch nobody else is shipping; return its size, or None if none.

    Raises _BatchFailed after recording a failed attempt.
    """
    batch_id = None
    started = time.monotonic()
    try:
        with sentry_sdk.start_transaction(op="outbox.relay", name="outbox.relay_batch") as trace:
            with transaction.atomic(durable=True):
                with sentry_sdk.start_span(op="outbox.claim", name="lock the batch, load rows"):
                    batch = _batch_lock_next_due(consumer)
                    if batch is None:
                        trace.sampled = False  # nothing was shipped: nothing to report
                        return None
                    batch_id = batch.pk
                    block = batch_event_log_columns(batch_id)
                with sentry_sdk.start_span(op="outbox.insert", name=f"insert {EVENT_LOG}"):
                    clickhouse_insert(
                        EVENT_LOG,
                        block.columns,
                        column_names=EVENT_LOG_COLUMNS,
                        column_types=EVENT_LOG_COLUMN_TYPES,
                        column_oriented=True,
                        token=str(batch_id),
                    )
                with sentry_sdk.start_span(op="outbox.mark", name="mark shipped"):
                    OutboxBatch.objects.filter(pk=batch_id).update(
                        shipped_at=timezone.now(), attempts=F("attempts") + 1
                    )
    except RELAY_ERRORS as exc:
        _batch_record_failure(batch_id=batch_id, error=exc)
        raise _BatchFailed from exc
    now = timezone.now()
    log.info(
        "outbox.batch_shipped",
        consumer=consumer,
        batch_id=str(batch_id),
        size=block.size,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
        lag_s=round((now - (block.oldest or now)).total_seconds(), 3),
    )
    return block.size


def _batch_lock_next_due(consumer: str) -> OutboxBatch | None:
    return (
        OutboxBatch.objects.select_for_update(skip_locked=True)
        .filter(consumer=consumer, shipped_at__isnull=True, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .first()
    )


@transaction.atomic(durable=True)
def _batch_record_failure(*, batch_id: UUID, error: Exception) -> None:
    """Count a failed attempt; back off, or bisect a rejected batch, or dead-letter a message.

    ClickHouse being unreachable says nothing about the messages, so those batches only back
    off. A batch that ClickHouse (or the row builder) rejected OUTBOX_MAX_ATTEMPTS times is
    split in two, so a poison message ends alone and is parked as dead-lettered while the
    others ship.
    """
    batch = OutboxBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None or batch.shipped_at is not None:
        return
    batch.attempts += 1
    batch.last_error = f"{type(error).__name__}: {error}"[:2000]
    messages = OutboxMessage.objects.filter(batch_id=batch_id)
    messages.update(attempts=F("attempts") + 1, last_error=batch.last_error)
    log.warning(
        "outbox.batch_failed",
        consumer=batch.consumer,
        batch_id=str(batch_id),
        attempts=batch.attempts,
        error=type(error).__name__,
    )
    rejected = not isinstance(error, ClickHouseUnavailable)
    if rejected and batch.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        ids = list(messages.order_by("id").values_list("id", flat=True))
        if len(ids) > 1:
            _batch_split(batch, ids)
        else:
            messages.update(dead_lettered_at=timezone.now(), batch_id=None)
            log.error("outbox.message_dead_lettered", consumer=batch.consumer, message_ids=ids)
        batch.delete()
        return
    batch.next_attempt_at = timezone.now() + _backoff(batch.attempts)
    batch.save(update_fields=["attempts", "last_error", "next_attempt_at"])


def _batch_split(batch: OutboxBatch, ids: list[int]) -> None:
    half = len(ids) // 2
    for part in (ids[:half], ids[half:]):
        child = OutboxBatch.objects.create(consumer=batch.consumer)
        OutboxMessage.objects.filter(pk__in=part).update(batch_id=child.pk)


def _backoff(attempts: int) -> timedelta:
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))
