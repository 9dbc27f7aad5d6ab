"""The relay: ship a consumer's outbox messages to ClickHouse in batches, exactly once.

A batch is claimed and committed first (its range of messages is fixed, see `outbox.batches`),
then leased for a while in a short transaction, inserted into ClickHouse with no transaction
open, and marked shipped in another short transaction once the insert succeeded. A relay that
dies anywhere, or outlives its lease, leaves the batch unshipped with the same messages, and
the next relay re-sends them under the same insert deduplication token (`batch_token`, derived
from the range and its rows), which ClickHouse recognises.
"""

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from uuid import UUID, uuid5

import sentry_sdk
import structlog
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from midnite_test.prometheus import relay_batch_observe
from outbox.analytics import EventLogBlock, batch_columns_build
from outbox.analytics_copy import batch_render
from outbox.batches import (
    BatchFailed,
    RelayReport,
    batch_claim,
    batch_failure_record,
    batch_lease_next_due,
    batch_mark_sent,
    batch_take,
    batches_work,
    streams_work,
)
from outbox.clickhouse.client import clickhouse_insert, clickhouse_insert_raw
from outbox.clickhouse.sql import EVENT_LOG, EVENT_LOG_INSERT_COLUMNS, EVENT_LOG_INSERT_TYPES
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.exceptions import ClickHouseRejected, ClickHouseUnavailable, PoisonMessage
from outbox.models import OutboxBatch

log = structlog.get_logger(__name__)

RELAY_ERRORS = (ClickHouseUnavailable, ClickHouseRejected, PoisonMessage)
TSV = "TabSeparated"
# How long a relay has to ship a batch it took before another may take it: well past the
# client's 30 s send/receive timeout (outbox.clickhouse.client).
SHIP_LEASE = timedelta(minutes=2)


def outbox_relay(
    *, consumer: str = CONSUMER_ANALYTICS, max_seconds: float | None = None
) -> RelayReport:
    """Ship `consumer`'s due batches, claiming new ones, until it has caught up (outbox.batches).

    Stops early after `max_seconds` (between batches), so a worker under steady load still
    gets to its other tasks. A failed batch ends the run: it is retried when due (capped
    exponential backoff), by a later wake-up or the periodic sweep. Safe to run in any number
    of processes at once. Ships the consumer's table logs' rows too, each a stream of its own
    (outbox.logs).
    """
    return streams_work(consumer, _stream_relay, max_seconds=max_seconds, clock=time.monotonic)


def _stream_relay(consumer: str, deadline: float | None) -> RelayReport:
    claims = _Claims(consumer)

    def ship_next() -> int | None:
        claims.ahead()
        return _batch_ship_next(consumer, claims.loaded, claims.entry_ids)

    try:
        return batches_work(
            ship_next=ship_next, claim_next=claims.next, deadline=deadline, clock=time.monotonic
        )
    finally:
        claims.close()


class _Claims:
    """Claims batches; behind a full one, claims and renders the next ones in a thread.

    A claim is two row writes; rendering a batch is PostgreSQL's work (a COPY) and shipping
    mostly ClickHouse's (the insert), so with a backlog the two overlap. The thread works up to
    AHEAD batches ahead of the one a ship takes, queued or rendered: it goes from one claim to
    the next while the inserts keep up, and no further when they do not, since its renders
    would only wait in memory (dropping the oldest, as a bound on what was kept once did, had
    the shipping thread render those batches again: docs/BENCHMARKS.md, "Issue 20, stop 30").
    A batch's messages are fixed once its claim commits (the range lies below the commit
    horizon, and only the failure of an attempt, under the batch's lock, changes them by
    deleting the batch), so rows rendered before the batch is leased are the rows it ships.
    Batches this thread claims after the run stops ship on the next run. Only on PostgreSQL,
    and only once a claim came back full, so a trickle of messages never starts the thread.
    Once a claim ahead finds nothing the run claims no more: what commits after it is the next
    run's, as after a claim that was not full.
    """

    AHEAD = 2
    KEEP_ENTRY_IDS = 2

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.backlog = False
        self.pending: deque[Future] = deque()
        self.thread: ThreadPoolExecutor | None = None
        # Batches rendered ahead, by id in claim order, until a ship leases them or one claimed
        # after them (another relay ships them then); None for a batch PostgreSQL would not
        # render, so its ship does not try again.
        self.loaded: dict[UUID, EventLogBlock | None] = {}
        # The least and greatest entry id of the batches claimed here and not yet rendered
        # (OutboxBatch.entry_ids), so their render need not look them up.
        self.entry_ids: dict[UUID, tuple[int, int] | None] = {}
        # A claim ahead found nothing: set in the thread, read there and, once that claim's
        # result is taken, here.
        self.drained = False

    def next(self) -> bool | None:
        """Claim a batch (or take the next one claimed ahead); return whether it was full (None:
        there was none)."""
        if self.pending:
            batch, block = self.pending.popleft().result()
            if batch is not None:
                self.loaded[batch.pk] = block
        elif self.drained:
            return None
        else:
            batch = batch_claim(self.consumer, size=settings.OUTBOX_BATCH_SIZE)
            if batch is not None:
                self.entry_ids[batch.pk] = batch.entry_ids
                while len(self.entry_ids) > self.KEEP_ENTRY_IDS:
                    del self.entry_ids[next(iter(self.entry_ids))]
        self.backlog = batch is not None and batch.size >= settings.OUTBOX_BATCH_SIZE
        return None if batch is None else self.backlog

    def ahead(self) -> None:
        """Queue claims of the next batches in the thread when there is a backlog, up to AHEAD
        beyond the one the next ship takes (the oldest rendered).

        The oldest claim queued is waited for: its batch is committed, so a ship that looked for
        a due batch before it was loaded would render it a second time.
        """
        if self.pending:
            self.next()
        while self.pending and self.pending[0].done():
            self.next()
        if not self.backlog or connection.vendor != "postgresql":
            return
        if self.thread is None:
            self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-claim")
        while len(self.pending) + len(self.loaded) <= self.AHEAD:
            self.pending.append(self.thread.submit(self._claim_ahead))

    def _claim_ahead(self) -> tuple[OutboxBatch | None, EventLogBlock | None]:
        """In the thread: claim and render the next batch, unless a claim before found nothing."""
        if self.drained:
            return None, None
        batch, block = _batch_claim_and_load(self.consumer)
        self.drained = batch is None
        return batch, block

    def close(self) -> None:
        """Wait for the claims queued, then close the thread and its database connection."""
        if self.thread is None:
            return
        wait(self.pending)
        self.thread.submit(connections.close_all).result()
        self.thread.shutdown()


@transaction.atomic(durable=True)
def _batch_claim_and_load(consumer: str) -> tuple[OutboxBatch | None, EventLogBlock | None]:
    """Claim a batch and render its rows before the claim commits, so no relay ships it unread.

    The block is None when PostgreSQL would not render the batch: the shipping thread then
    builds it in Python.
    """
    batch = batch_take(consumer, size=settings.OUTBOX_BATCH_SIZE)
    return (None, None) if batch is None else (batch, batch_render(batch))


def _batch_ship_next(
    consumer: str,
    loaded: dict[UUID, EventLogBlock | None],
    entry_ids: dict[UUID, tuple[int, int] | None],
) -> int | None:
    """Ship the next due batch nobody else is shipping; return its size, or None if none.

    The batch is leased (SHIP_LEASE) in a transaction of its own, its rows are read without
    writing, and the ClickHouse insert runs with no transaction open: a slow ClickHouse holds
    no row lock and no transaction id, so it never holds the commit horizon back. Takes the
    batch's rows from `loaded` when they were rendered ahead. Raises BatchFailed after
    recording a failed attempt. A batch claimed in this run is rendered with the entry ids its
    claim read (`entry_ids`).
    """
    batch_id = None
    started = time.monotonic()
    try:
        with sentry_sdk.start_transaction(op="outbox.relay", name="outbox.relay_batch") as trace:
            with sentry_sdk.start_span(op="outbox.claim", name="lease the batch, render rows"):
                batch = batch_lease_next_due(consumer, lease=SHIP_LEASE)
                if batch is None:
                    loaded.clear()  # every batch rendered ahead is another relay's now
                    trace.sampled = False  # nothing was shipped: nothing to report
                    return None
                batch_id = batch.pk
                batch.entry_ids = entry_ids.pop(batch_id, None)
                rendered = (
                    _loaded_take(loaded, batch_id) if batch_id in loaded else batch_render(batch)
                )
                block = rendered or batch_columns_build(batch)
            with sentry_sdk.start_span(op="outbox.insert", name=f"insert {EVENT_LOG}"):
                event_log_insert(block, token=batch_token(batch, block))
            with sentry_sdk.start_span(op="outbox.mark", name="mark shipped"):
                batch_mark_sent(batch_id)
    except RELAY_ERRORS as exc:
        rejected = not isinstance(exc, ClickHouseUnavailable)
        batch_failure_record(batch_id=batch_id, error=exc, rejected=rejected)
        raise BatchFailed from exc
    now = timezone.now()
    seconds, lag = time.monotonic() - started, (now - (block.oldest or now)).total_seconds()
    log.info(
        "outbox.batch_shipped",
        consumer=consumer,
        batch_id=str(batch_id),
        size=block.size,
        duration_ms=round(seconds * 1000, 1),
        lag_s=round(lag, 3),
    )
    relay_batch_observe(consumer=consumer, size=block.size, seconds=seconds, lag_seconds=lag)
    return block.size


def _loaded_take(loaded: dict[UUID, EventLogBlock | None], batch_id: UUID) -> EventLogBlock | None:
    """Take `batch_id`'s block rendered ahead, and drop those of the batches claimed before it.

    A ship leases the oldest due batch, so a batch claimed here before the one leased is
    another relay's.
    """
    while (oldest := next(iter(loaded))) != batch_id:
        del loaded[oldest]
    return loaded.pop(batch_id)


# The namespace of the insert deduplication tokens: uuid5(namespace, range and rows).
BATCH_TOKEN_NAMESPACE = UUID("1d7f3b0e-52a4-4c8e-9b61-0f6e2d9a8c47")


def batch_token(batch: OutboxBatch, block: EventLogBlock) -> str:
    """The insert deduplication token of `batch`'s rows: the same range and rows, the same token.

    Derived, never drawn: a half of a bisected batch, or a dead letter re-queued in a batch of
    its own, whose rows ClickHouse already stored under this token is recognised, whichever
    batch row carries them and however often it is created again. The rows' digest keeps apart
    two ranges with the same bounds but other rows (on SQLite every xid is 0, and ids start
    again with a new database).
    """
    key = ":".join(
        str(part)
        for part in (
            batch.consumer,
            batch.first_xid,
            batch.first_id,
            batch.last_xid,
            batch.last_id,
            batch.size,
            block.digest,
        )
    )
    return str(uuid5(BATCH_TOKEN_NAMESPACE, key))


def event_log_insert(block: EventLogBlock, *, token: str) -> None:
    """Insert one batch's block into event_log, deduplicated by `token`."""
    if block.tsv is not None:
        clickhouse_insert_raw(
            EVENT_LOG, block.tsv, column_names=EVENT_LOG_INSERT_COLUMNS, fmt=TSV, token=token
        )
        return
    clickhouse_insert(
        EVENT_LOG,
        block.columns,
        column_names=EVENT_LOG_INSERT_COLUMNS,
        column_types=EVENT_LOG_INSERT_TYPES,
        column_oriented=True,
        token=token,
    )
