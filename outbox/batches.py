"""Batches: a consumer's messages claimed as a range, locked to ship, and failed attempts counted.

Shared by the ClickHouse relay (`outbox.relay`) and the consumers that react inside the
database (`outbox.consumers`): both claim and lock batches here and ship them their own way.

A claim writes two rows (the batch and the consumer's cursor), not one per message: it takes
the next messages after the cursor in (xid, id) order, but only those whose transaction is
older than every transaction still running that can write in this database (the commit
horizon, see OutboxMessage), so no message can later appear inside a range already taken.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, F, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from outbox.horizon import messages_below_horizon
from outbox.logs import (
    STREAMS,
    consumer_streams,
    log_sql,
    stream_time_field,
    log_rows,
    log_rows_live,
    table_dead_letter,
)
from outbox.models import OutboxBatch, OutboxCursor, OutboxMessage

log = structlog.get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class RelayReport:
    batches: int = 0
    messages: int = 0
    failed: bool = False


class BatchFailed(Exception):
    """A batch's attempt failed and was recorded (batch_failure_record)."""


def batches_work(
    *,
    ship_next: Callable[[], int | None],
    claim_next: Callable[[], bool | None],
    deadline: float | None,
    clock: Callable[[], float],
) -> RelayReport:
    """Ship due batches, claiming new ones when none is due, until it has caught up.

    `ship_next` ships one due batch and returns its size (None when none is due; raises
    BatchFailed after recording a failure), `claim_next` claims one and says whether it was
    full (None: there was nothing to claim). Stops between batches once `clock()` passes
    `deadline`, and once it has shipped a batch after a claim that was not full: it took
    everything committed below the horizon, so what commits from then on is the next run's (the
    consumer's next tick), and it does not look again for a due batch, which would be one that
    failed meanwhile and is due later anyway. Under a steady trickle of commits a run so ends
    instead of claiming a few rows at a time for as long as the trickle lasts: each claim and
    ship costs the same whether it takes 5 rows or 500 (docs/BENCHMARKS.md, "Issue 20 merged").
    """
    batches = messages = 0
    caught_up = False
    while deadline is None or clock() < deadline:
        try:
            shipped = ship_next()
        except BatchFailed:
            return RelayReport(batches=batches, messages=messages, failed=True)
        if shipped is None:
            if caught_up:
                break
            full = claim_next()
            if full is None:
                break
            caught_up = not full
            continue
        batches += 1
        messages += shipped
        if caught_up:
            break
    return RelayReport(batches=batches, messages=messages)


def streams_work(
    consumer: str,
    work: Callable[[str, float | None], RelayReport],
    *,
    max_seconds: float | None,
    clock: Callable[[], float],
) -> RelayReport:
    """Run `work(stream, deadline)` on each stream `consumer` reads (outbox.logs); add them up.

    The table logs first: they carry the consumer's bulk. Stops once `clock()` passes the
    deadline `max_seconds` sets. Leaves out the streams the running tick found idle
    (idle_streams_skipped).
    """
    deadline = None if max_seconds is None else clock() + max_seconds
    idle = _idle_streams.get()
    reports = []
    for stream in consumer_streams(consumer):
        if deadline is not None and reports and clock() >= deadline:
            break
        if stream not in idle:
            reports.append(work(stream, deadline))
    return RelayReport(
        batches=sum(report.batches for report in reports),
        messages=sum(report.messages for report in reports),
        failed=any(report.failed for report in reports),
    )


# The streams the running tick found with nothing to do (idle_streams_skipped).
_idle_streams: ContextVar[frozenset[str]] = ContextVar("idle_streams", default=frozenset())


@contextmanager
def idle_streams_skipped(streams: Sequence[str]) -> Iterator[None]:
    """Within the block, streams_work leaves out those of `streams` that have nothing to do.

    Idle is no due batch and no committed entry after the cursor, looked at for every stream in
    one statement (PostgreSQL; elsewhere none is left out). The tick's: a stream otherwise cost
    a look for a due batch (a transaction of three round trips for a consumer's) and a look
    after its cursor even with nothing to do, 20 statements a tick on a quiet service and most
    of a loaded tick's streams (docs/BENCHMARKS.md, "Issue 20, stop 26: the worker as
    deployed"). What commits or falls due after the look is the next tick's, as what commits
    after a claim is.
    """
    idle = frozenset(streams_idle(streams)) if connection.vendor == "postgresql" else frozenset()
    token = _idle_streams.set(idle)
    try:
        yield
    finally:
        _idle_streams.reset(token)


def streams_idle(streams: Sequence[str]) -> list[str]:
    """Those of `streams` with no due batch and no committed entry after their cursor.

    One statement for them all. PostgreSQL only.
    """
    if not streams:
        return []
    looks, parameters = [], {"now": timezone.now()}
    for n, stream in enumerate(streams):
        sql, name = log_sql(stream), f"stream_{n}"
        after = _AFTER_CURSOR.format(table=sql.table, where=sql.where)
        looks.append(_IDLE.format(after=after.replace("%(consumer)s", f"%({name})s"), name=name))
        parameters[name] = stream
    with connection.cursor() as db:
        db.execute(" UNION ALL ".join(looks), parameters)
        return [stream for (stream,) in db.fetchall()]


# A stream with nothing to do: no batch due (as batch_lock_next_due finds one), nothing after
# its cursor (as entries_after_cursor finds it).
_IDLE = """
    SELECT %({name})s::text WHERE NOT EXISTS (
        SELECT FROM outbox_outboxbatch
        WHERE consumer = %({name})s AND shipped_at IS NULL AND next_attempt_at <= %(now)s
    ) AND NOT ({after})
"""


def batch_claim(consumer: str, *, size: int) -> OutboxBatch | None:
    """Claim `consumer`'s next messages (at most `size`) as a batch, committed before any attempt.

    Returns None when there is nothing to claim. Claims of one consumer queue on its cursor's
    row lock for the few milliseconds each takes. A stream with nothing after its cursor costs
    one statement (entries_after_cursor), not a claim's transaction and its horizon: most of a
    tick's claims on a quiet service.
    """
    if connection.vendor == "postgresql" and not entries_after_cursor(consumer):
        return None
    with transaction.atomic(durable=True):
        return batch_take(consumer, size=size)


def entries_after_cursor(stream: str) -> bool:
    """Whether `stream` has a committed entry after its cursor: may a claim take one?

    What commits after this look is the next claim's. Also true while the cursor is ahead of
    the server's transaction ids, so the claim reports it (outbox.horizon), and for a stream
    with no cursor yet. PostgreSQL only.
    """
    sql = log_sql(stream)
    with connection.cursor() as db:
        db.execute(
            "SELECT " + _AFTER_CURSOR.format(table=sql.table, where=sql.where),
            {"consumer": stream},
        )
        return db.fetchone()[0]


# The first entry in claim order, not EXISTS: the planner, which drops an EXISTS' ORDER BY
# and guesses a third of the table after any cursor, read all of events_event for it.
_AFTER_CURSOR = """
    coalesce((
        SELECT cursor.xid >= pg_snapshot_xmax(pg_current_snapshot())::text::bigint OR (
                   SELECT xid FROM {table}
                   WHERE {where} AND (xid, id) > (cursor.xid, cursor.id) AND xid >= cursor.xid
                   ORDER BY xid, id
                   LIMIT 1
               ) IS NOT NULL
        FROM outbox_outboxcursor AS cursor
        WHERE cursor.consumer = %(consumer)s
    ), true)
"""


def batch_take(consumer: str, *, size: int) -> OutboxBatch | None:
    """batch_claim inside the caller's transaction: the batch exists for others once it commits.

    Whatever the caller does before committing (loading the batch's rows) no other relay can
    ship it meanwhile; the consumer's claims wait on its cursor until then.
    """
    cursor = _cursor_locked(consumer)
    if connection.vendor == "postgresql":
        # The claim's statement moves the cursor too: a round trip fewer.
        count, oldest_at, first, last, entry_ids = messages_below_horizon(
            consumer=consumer, after=(cursor.xid, cursor.id), size=size
        )
    else:
        # SQLite runs one writing transaction at a time: every message is below the horizon.
        taken = list(
            stream_entries(consumer)
            .filter(_position(">", cursor.xid, cursor.id, _table(consumer)))
            .order_by("xid", "id")
            .values_list("xid", "id", stream_time_field(consumer))[:size]
        )
        count, entry_ids = len(taken), None
        if count:
            oldest_at = min(created_at for _, _, created_at in taken)
            first, last = taken[0][:2], taken[-1][:2]
            OutboxCursor.objects.filter(consumer=consumer).update(xid=last[0], id=last[1])
    if not count:
        return None
    batch = OutboxBatch.objects.create(
        consumer=consumer,
        first_xid=first[0],
        first_id=first[1],
        last_xid=last[0],
        last_id=last[1],
        size=count,
        oldest_at=oldest_at,
    )
    batch.entry_ids = entry_ids
    return batch


def _cursor_locked(consumer: str) -> OutboxCursor:
    """`consumer`'s cursor, locked until the caller's transaction ends; created by its first
    claim, so every other claim finds it in one statement."""
    cursor = OutboxCursor.objects.select_for_update().filter(consumer=consumer).first()
    if cursor is None:
        OutboxCursor.objects.bulk_create([OutboxCursor(consumer=consumer)], ignore_conflicts=True)
        cursor = OutboxCursor.objects.select_for_update().get(consumer=consumer)
    return cursor


def position_after(xid: int, id: int, *, stream: str | None = None) -> RawSQL:
    """Entries after (xid, id) in claim order: a row comparison, which an index range serves.

    Of the outbox's messages, or of `stream`'s table log (outbox.logs).
    """
    return _position(">", xid, id, _table(stream))


def stream_entries(stream: str) -> QuerySet:
    """Every entry of `stream`: its consumer's messages, or the rows of its table log."""
    table_log = STREAMS.get(stream)
    return (
        OutboxMessage.objects.filter(consumer=stream) if table_log is None else log_rows(table_log)
    )


def _table(stream: str | None) -> str:
    table_log = STREAMS.get(stream) if stream is not None else None
    return (OutboxMessage if table_log is None else table_log.model)._meta.db_table


def batch_messages(batch: OutboxBatch) -> QuerySet[OutboxMessage]:
    """The messages of `batch`: its range of its consumer's messages, but the dead-lettered.

    Only for a stream of outbox messages; a table log's batch holds rows (batch_rows).
    """
    return OutboxMessage.objects.filter(
        _position(">=", batch.first_xid, batch.first_id),
        _position("<=", batch.last_xid, batch.last_id),
        consumer=batch.consumer,
        dead_lettered_at__isnull=True,
    ).order_by("xid", "id")


def batch_rows(batch: OutboxBatch) -> QuerySet:
    """The rows of a table log's `batch` (outbox.logs), in order, but the dead-lettered."""
    table_log = STREAMS[batch.consumer]
    table = table_log.model._meta.db_table
    return (
        log_rows_live(table_log, batch.consumer)
        .filter(
            _position(">=", batch.first_xid, batch.first_id, table),
            _position("<=", batch.last_xid, batch.last_id, table),
        )
        .order_by("xid", "id")
    )


def batch_entries(batch: OutboxBatch) -> list[tuple[int, str, int | None, object]]:
    """`batch`'s entries as a handler takes them: (id, topic, subject_id, payload), in order.

    A table log's row is a message of its log's topic about itself.
    """
    table_log = STREAMS.get(batch.consumer)
    if table_log is None:
        return list(batch_messages(batch).values_list("id", "topic", "subject_id", "payload"))
    return [
        (id, table_log.topic, id, None) for id in batch_rows(batch).values_list("id", flat=True)
    ]


def _position(
    operator: str, xid: int, id: int, table: str = OutboxMessage._meta.db_table
) -> RawSQL:
    """A row comparison with (xid, id), and the same bound on xid alone.

    The planner estimates a row comparison at the whole table; the bound on xid, which it
    estimates from the column's statistics, leads it to the (xid, id) index range of a table
    log that grows for ever, where it might otherwise read the whole table.
    """
    bound = {">": ">=", ">=": ">=", "<=": "<="}[operator]
    return RawSQL(
        f'("{table}"."xid", "{table}"."id") {operator} (%s, %s) AND "{table}"."xid" {bound} %s',
        (xid, id, xid),
        output_field=BooleanField(),
    )


def batch_lock_next_due(consumer: str) -> OutboxBatch | None:
    """Lock the next due, unshipped batch of `consumer` that nobody else holds, if any."""
    return (
        OutboxBatch.objects.select_for_update(skip_locked=True)
        .filter(consumer=consumer, shipped_at__isnull=True, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .first()
    )


def batch_lease_next_due(consumer: str, *, lease: timedelta) -> OutboxBatch | None:
    """Take the next due batch of `consumer` for `lease`, committed at once.

    Nothing stays locked while the batch ships: its next attempt moves to the lease's end, so
    no other relay takes it before, and one that does after (this one died, or its ClickHouse
    insert outlived the lease) re-sends the same rows under the same token. On PostgreSQL one
    statement, its own transaction, whose commit does not wait for the disk: a lease lost in a
    crash of PostgreSQL only lets another relay send the same rows under the same token sooner.
    """
    now = timezone.now()
    if connection.vendor != "postgresql":
        with transaction.atomic(durable=True):
            batch = batch_lock_next_due(consumer)
            if batch is not None:
                batch.next_attempt_at = now + lease
                batch.save(update_fields=["next_attempt_at"])
        return batch
    parameters = {"consumer": consumer, "now": now, "until": now + lease}
    return next(iter(OutboxBatch.objects.raw(_LEASE, parameters)), None)


# batch_lock_next_due and the lease's write in one round trip.
_LEASE = """
    WITH asynchronous AS (
        SELECT set_config('synchronous_commit', 'off', true)
    ), due AS (
        SELECT id FROM outbox_outboxbatch
        WHERE consumer = %(consumer)s AND shipped_at IS NULL AND next_attempt_at <= %(now)s
        ORDER BY next_attempt_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox_outboxbatch AS batch SET next_attempt_at = %(until)s
    FROM due, asynchronous
    WHERE batch.id = due.id
    RETURNING batch.*
"""


def batch_mark_shipped(batch_id: UUID) -> None:
    OutboxBatch.objects.filter(pk=batch_id).update(
        shipped_at=timezone.now(), attempts=F("attempts") + 1
    )


def batch_mark_sent(batch_id: UUID) -> None:
    """Mark a batch the relay inserted into ClickHouse shipped, committed at once.

    On PostgreSQL one statement, its own transaction, whose commit does not wait for the disk,
    as the lease's (batch_lease_next_due): a mark lost in a crash of PostgreSQL leaves the batch
    leased, and once the lease has run out a relay sends the same rows under the same token,
    which ClickHouse recognises. Waiting for the disk was most of the mark's time, and the
    shipping thread's next insert waited for it (docs/BENCHMARKS.md, "Issue 20, stop 28"). Not
    for a consumer inside the database: its mark commits with its handler's writes.
    """
    if connection.vendor != "postgresql":
        batch_mark_shipped(batch_id)
        return
    with connection.cursor() as db:
        db.execute(_MARK_SENT, {"id": batch_id, "now": timezone.now()})


_MARK_SENT = """
    WITH asynchronous AS (
        SELECT set_config('synchronous_commit', 'off', true)
    )
    UPDATE outbox_outboxbatch SET shipped_at = %(now)s, attempts = attempts + 1
    FROM asynchronous
    WHERE id = %(id)s
"""


def batches_for_messages(messages: QuerySet[OutboxMessage]) -> int:
    """Give each of `messages` a batch of its own, due now; return how many.

    How re-queued dead letters ship again: they keep their id and place, which lie behind
    the cursor, so no claim would take them.
    """
    return _batches_of_one(messages.values_list("consumer", "xid", "id", "created_at"))


def batches_for_rows(dead_letters: QuerySet[OutboxMessage]) -> int:
    """Give each table log row `dead_letters` name a batch of its own, due now; return how many.

    A table log's dead letter is a message of its stream naming the row (outbox.logs): the
    row's place is (the message's xid, its subject id).
    """
    return _batches_of_one(dead_letters.values_list("consumer", "xid", "subject_id", "created_at"))


def _batches_of_one(positions: QuerySet) -> int:
    """Create a batch for each (consumer or stream, xid, id, created_at) of `positions`."""
    batches = [
        OutboxBatch(
            consumer=consumer,
            first_xid=xid,
            first_id=id,
            last_xid=xid,
            last_id=id,
            size=1,
            oldest_at=created_at,
        )
        for consumer, xid, id, created_at in positions
    ]
    OutboxBatch.objects.bulk_create(batches)
    return len(batches)


@transaction.atomic(durable=True)
def batch_failure_record(*, batch_id: UUID, error: Exception, rejected: bool) -> None:
    """Count a failed attempt; back off, or bisect a rejected batch, or dead-letter a message.

    A failure that says nothing about the messages (`rejected` false: an outage of ClickHouse
    or the database) only backs off, however often. A batch rejected OUTBOX_MAX_ATTEMPTS times
    (outages not counted) is split in two, so a poison message ends alone and is parked as
    dead-lettered while the others ship.
    """
    batch = OutboxBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None or batch.shipped_at is not None:
        return
    batch.attempts += 1
    batch.rejections += rejected
    batch.last_error = f"{type(error).__name__}: {error}"[:2000]
    table_log = STREAMS.get(batch.consumer)
    if table_log is None:
        messages = batch_messages(batch)
        messages.update(attempts=F("attempts") + 1, last_error=batch.last_error)
        time_field = "created_at"
    else:
        messages, time_field = batch_rows(batch), table_log.time_field
    log.warning(
        "outbox.batch_failed",
        consumer=batch.consumer,
        batch_id=str(batch_id),
        attempts=batch.attempts,
        rejections=batch.rejections,
        error=type(error).__name__,
    )
    if rejected and batch.rejections >= settings.OUTBOX_MAX_ATTEMPTS:
        positions = list(messages.values_list("xid", "id", time_field))
        if len(positions) > 1:
            half = len(positions) // 2
            _batch_create(batch.consumer, positions[:half])
            _batch_create(batch.consumer, positions[half:])
        else:
            if table_log is None:
                messages.update(dead_lettered_at=timezone.now())
            else:
                for xid, id, _ in positions:
                    table_dead_letter(
                        stream=batch.consumer, log=table_log, xid=xid, id=id, error=batch.last_error
                    )
            ids = [id for _, id, _ in positions]
            log.error("outbox.message_dead_lettered", consumer=batch.consumer, message_ids=ids)
        batch.delete()
        return
    batch.next_attempt_at = timezone.now() + _backoff(batch.attempts)
    batch.save(update_fields=["attempts", "rejections", "last_error", "next_attempt_at"])


def _batch_create(consumer: str, positions: list[tuple]) -> OutboxBatch:
    (first_xid, first_id, _), (last_xid, last_id, _) = positions[0], positions[-1]
    return OutboxBatch.objects.create(
        consumer=consumer,
        first_xid=first_xid,
        first_id=first_id,
        last_xid=last_xid,
        last_id=last_id,
        size=len(positions),
        oldest_at=min(created_at for _, _, created_at in positions),
    )


def _backoff(attempts: int) -> timedelta:
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))
