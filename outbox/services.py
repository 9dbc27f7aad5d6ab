"""Writes of the outbox: publish inside a transaction, wake the workers, keep the table small."""

import time
from collections.abc import Sequence
from datetime import timedelta

import structlog
from celery import Task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from outbox.analytics import LOADERS, LOG_ROWS, SOURCES, Loader, LogLoader, LogRows, RowSource
from outbox.batches import (
    RelayReport,
    batch_messages,
    batches_for_messages,
    batches_for_rows,
    idle_streams_skipped,
)
from outbox.clickhouse.client import clickhouse_command
from outbox.clickhouse.sql import ping
from outbox.consumers import HANDLERS, Handler, outbox_consume
from outbox.cursor_rebase import Rebased, cursor_rebase
from outbox.contracts import (
    CONSUMER_ANALYTICS,
    TICK_CONSUMERS,
    Message,
    TableLog,
)
from outbox.exceptions import NotInTransaction, OutboxError
from outbox.horizon import cursors_ahead
from outbox.logs import STREAMS, consumer_streams, dead_letters_of, stream_register
from outbox.models import OutboxBatch, OutboxMessage, WorkerHeartbeat
from outbox.relay import outbox_relay
from outbox.worker_channel import (
    WAKEUP_DELAY_SECONDS,
    task_send,
    wakeups_release,
    wakeups_reserve,
)

log = structlog.get_logger(__name__)

# Batches and messages per purge transaction, at most: a batch larger than that goes alone.
PURGE_CHUNK = 50
PURGE_MESSAGES = 10_000

# The wake-up throttle of this process: the consumers owed a wake-up, and when one was last sent.
# Not locked: under threads a race can only send one more message or leave a consumer to the sweep.
_wake_owed: set[str] = set()
_wake_sent_at = float("-inf")
# The task a wake-up sends (outbox.outbox_process_many). The tasks call these services, so
# this module does not import them: OutboxConfig.ready registers it.
_wake_task: Task | None = None


def outbox_publish(*, messages: Sequence[Message], consumers: Sequence[str]) -> int:
    """Add one outbox row per message and consumer to the caller's transaction.

    The rows commit or roll back with the caller's writes; after a commit the consumers'
    workers are woken. Returns the number of rows added.

    Raises NotInTransaction outside an atomic block: a message written on its own could
    announce a change that then rolls back, or be lost after one that commits.
    """
    if not connection.in_atomic_block:
        raise NotInTransaction("outbox_publish must run inside the transaction it reports on")
    rows = [
        OutboxMessage(consumer=consumer, topic=m.topic, subject_id=m.subject_id, payload=m.payload)
        for m in messages
        for consumer in consumers
    ]
    if rows:
        OutboxMessage.objects.bulk_create(rows, batch_size=1_000)
        transaction.on_commit(lambda: outbox_wake(consumers=consumers))
    return len(rows)


def outbox_publish_subjects(
    *, topic: str, subject_ids: Sequence[int], consumers: Sequence[str]
) -> int:
    """Publish one `topic` message about each row in `subject_ids` to each consumer.

    The set-based form of outbox_publish for ingestion: on PostgreSQL one INSERT ... SELECT
    over two arrays (sent in binary), whatever the number of rows. Raises NotInTransaction
    outside an atomic block.
    """
    if connection.vendor != "postgresql":
        return outbox_publish(
            messages=[Message(topic=topic, subject_id=subject_id) for subject_id in subject_ids],
            consumers=consumers,
        )
    if not connection.in_atomic_block:
        raise NotInTransaction("outbox_publish must run inside the transaction it reports on")
    if not subject_ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _PUBLISH_SUBJECTS, [topic, timezone.now(), list(subject_ids), list(consumers)]
        )
    transaction.on_commit(lambda: outbox_wake(consumers=consumers))
    return len(subject_ids) * len(consumers)


_PUBLISH_SUBJECTS = """
    INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts, last_error)
    SELECT consumer, %s, subject_id, %s, 0, ''
    FROM unnest(%b::bigint[]) AS subject (subject_id)
    CROSS JOIN unnest(%b::text[]) AS consumer (consumer)
"""


def outbox_consumer_register(
    *, consumer: str, handler: Handler, logs: Sequence[TableLog] = ()
) -> None:
    """Make `handler` react to `consumer`'s messages (outbox.consumers) and `logs`' rows.

    Each table log is read as a stream of its own (outbox.logs): the handler gets its rows as
    messages of the log's topic about themselves. Called by the app that owns the reaction, at
    start-up (AppConfig.ready).
    """
    HANDLERS[consumer] = handler
    for log in logs:
        stream_register(consumer=consumer, log=log)


def analytics_log_rows_register(*, log: TableLog, sql: str, loader: LogLoader) -> None:
    """Ship `log`'s rows to analytics (the relay reads it), with the rows `sql` selects.

    `sql` and `loader` as outbox.analytics.LogRows says: any number of records per entry. Every
    app that registers for one log adds its rows to each entry's (an event, then its alerts).
    Called at start-up (AppConfig.ready).
    """
    stream_register(consumer=CONSUMER_ANALYTICS, log=log)
    LOG_ROWS.setdefault(log.name, []).append(LogRows(sql=sql, loader=loader))


def outbox_process(*, consumer: str, max_seconds: float | None = None) -> RelayReport:
    """Work through `consumer`'s messages: the ClickHouse relay, or its registered handler."""
    if consumer == CONSUMER_ANALYTICS:
        return outbox_relay(consumer=consumer, max_seconds=max_seconds)
    return outbox_consume(consumer=consumer, max_seconds=max_seconds)


def outbox_tick(*, max_seconds: float | None = None) -> dict[str, RelayReport]:
    """Process each consumer of the event logs in turn, each for at most `max_seconds`.

    The tick (`outbox.outbox_tick`, which every worker runs itself on its schedule thread): one
    task, not one per consumer, so the consumers' work runs one after the other instead of all
    at once on every core. A consumer that raises does not hold the others back: the first
    exception is raised once every consumer has run. One statement first finds the streams with
    nothing to do, which the consumers then leave out (outbox.batches.idle_streams_skipped).
    """
    reports, errors = {}, []
    streams = [stream for consumer in TICK_CONSUMERS for stream in consumer_streams(consumer)]
    with idle_streams_skipped(streams):
        for consumer in TICK_CONSUMERS:
            try:
                reports[consumer] = outbox_process(consumer=consumer, max_seconds=max_seconds)
            except Exception as exc:  # noqa: BLE001 - raised below, after the other consumers
                log.exception("outbox.tick_consumer_failed", consumer=consumer)
                errors.append(exc)
    if errors:
        raise errors[0]
    return reports


def analytics_loader_register(
    *, topic: str, loader: Loader, source: RowSource | None = None
) -> None:
    """Make `loader` turn the subject ids of `topic` messages into analytics records.

    `source`, the same records as SQL (outbox.analytics.RowSource), lets PostgreSQL render a
    whole batch in one COPY (outbox.analytics_copy); `loader` serves the other databases and
    the batches PostgreSQL would not render. Called by the app that owns the rows, at start-up
    (AppConfig.ready).
    """
    LOADERS[topic] = loader
    if source is None:
        SOURCES.pop(topic, None)
    else:
        SOURCES[topic] = source


def outbox_wake_task_register(*, task: Task) -> None:
    """Set the task outbox_wake sends; called once, at start-up (OutboxConfig.ready)."""
    global _wake_task
    _wake_task = task


def outbox_wake(*, consumers: Sequence[str]) -> None:
    """Ask a worker to process `consumers` now: one request for every consumer owed.

    Sends at most one message per OUTBOX_WAKEUP_INTERVAL per process, whatever the number of
    consumers (`outbox.outbox_process_many`); consumers asked for in between are owed and go
    with the next message sent. A consumer whose wake-up is still pending in the broker's
    queue is left out (outbox.worker_channel.wakeups_reserve), so the queue holds at most one
    per consumer however many requests commit; it runs WAKEUP_DELAY_SECONDS after it is sent,
    so the commits meanwhile go with it. Only a wake-up: what it does not send (still
    owed when no later commit comes, or the broker is down) is processed by the periodic
    sweep instead. A failed send is one attempt (outbox.worker_channel.task_send). Never
    raises.
    """
    global _wake_sent_at
    _wake_owed.update(consumers)
    now = time.monotonic()
    if not _wake_owed or now - _wake_sent_at < settings.OUTBOX_WAKEUP_INTERVAL:
        return
    _wake_sent_at = now
    owed = sorted(_wake_owed)
    _wake_owed.clear()
    reserved: list[str] = []
    try:
        reserved = wakeups_reserve(owed)
        if reserved:
            task_send(_wake_task, args=(reserved,), countdown=WAKEUP_DELAY_SECONDS)
    except Exception as exc:  # noqa: BLE001 - any broker failure; the sweep covers it
        log.warning("outbox.wakeup_failed", consumers=owed, error=type(exc).__name__)
        _reserved_release(reserved)


def _reserved_release(consumers: list[str]) -> None:
    """Let the next commit wake `consumers`, whose wake-up was reserved but not sent."""
    try:
        wakeups_release(consumers)
    except Exception:  # noqa: BLE001 - the marks expire by themselves
        pass


# What a person needs to re-queue dead letters, in the admin and in the console alike.
DEAD_LETTERS_RETRY_PERMISSION = "outbox.change_outboxmessage"


@transaction.atomic
def outbox_dead_letters_retry(
    *, consumer: str | None = None, ids: Sequence[int] | None = None
) -> int:
    """Put dead-lettered messages (of `consumer`, or just `ids`) back in the queue.

    Each goes out again in a batch of its own. Their attempts start again from zero;
    `last_error` is kept until they ship. Returns how many were re-queued.
    """
    dead = OutboxMessage.objects.select_for_update().filter(dead_lettered_at__isnull=False)
    if consumer is not None:
        dead = dead.filter(dead_letters_of(consumer))
    if ids is not None:
        dead = dead.filter(pk__in=ids)
    ids = [message.pk for message in dead.only("pk")]
    requeued = OutboxMessage.objects.filter(pk__in=ids)
    # A table log's dead letter only named its row: the row goes out again and the name goes.
    named = requeued.filter(consumer__in=list(STREAMS))
    rows = batches_for_rows(named)
    named.delete()
    requeued.update(dead_lettered_at=None, attempts=0)
    return rows + batches_for_messages(requeued)


@transaction.atomic(durable=True)
def outbox_cursors_rebase() -> list[Rebased]:
    """Rebase every consumer's cursor that is ahead of the server's transaction ids.

    After a restore or a move to another PostgreSQL cluster (outbox.cursor_rebase); the
    others are left as they are. Returns what was rebased; nothing on SQLite.
    """
    if connection.vendor != "postgresql":
        return []
    rebased = [cursor_rebase(ahead.consumer) for ahead in cursors_ahead()]
    for done in filter(None, rebased):
        log.warning(
            "outbox.cursor_rebased",
            consumer=done.consumer,
            shift=done.shift,
            messages=done.messages,
        )
    return list(filter(None, rebased))


def outbox_shipped_purge() -> int:
    """Delete batches shipped longer than OUTBOX_RETENTION_SECONDS ago with their messages.

    Works in chunks of at most PURGE_MESSAGES messages (or one larger batch), one transaction
    each, so no transaction grows with the backlog. Leaves alone the consumers whose cursor is
    ahead of the server's transaction ids: until rebased, a message written since may lie
    inside a shipped batch's range. Returns the number of messages deleted.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.OUTBOX_RETENTION_SECONDS)
    stalled = (
        [ahead.consumer for ahead in cursors_ahead()] if connection.vendor == "postgresql" else []
    )
    deleted = 0
    while True:
        with transaction.atomic():
            shipped = (
                OutboxBatch.objects.filter(shipped_at__lt=cutoff)
                .exclude(consumer__in=stalled)
                .order_by("shipped_at")
            )
            batches = _up_to(list(shipped[:PURGE_CHUNK]), PURGE_MESSAGES)
            if not batches:
                return deleted
            for batch in batches:
                if batch.consumer not in STREAMS:  # a table log's rows are its app's to keep
                    deleted += _delete(batch_messages(batch))
            _delete(OutboxBatch.objects.filter(pk__in=[batch.pk for batch in batches]))


def _up_to(batches: list[OutboxBatch], messages: int) -> list[OutboxBatch]:
    """The first of `batches` that hold `messages` messages together, and at least one."""
    taken, total = [], 0
    for batch in batches:
        if taken and total + batch.size > messages:
            break
        taken.append(batch)
        total += batch.size
    return taken


def _delete(queryset: QuerySet) -> int:
    # Neither model has cascades or signals, so this is one DELETE statement.
    return queryset.delete()[0]


def clickhouse_heartbeat_record() -> WorkerHeartbeat:
    """Ping ClickHouse and record the answer for readiness probes that cannot reach it."""
    try:
        clickhouse_command(ping())
        ok, error = True, ""
    except OutboxError as exc:
        ok, error = False, str(exc)[:500]
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        name=WorkerHeartbeat.CLICKHOUSE,
        defaults={"checked_at": timezone.now(), "ok": ok, "error": error},
    )
    return heartbeat
