"""Reads of the outbox: the backlog per consumer and the health of what it ships to."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from itertools import chain
from operator import itemgetter

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, QuerySet, Sum
from django.utils import timezone

from outbox.clickhouse.client import (
    clickhouse_command,
    clickhouse_rows_readonly,
    clickhouse_run_as_written,
    is_embedded,
)
from outbox.clickhouse.sql import ping
from outbox.contracts import CONSUMERS, TICK_CONSUMERS
from outbox.exceptions import ClickHouseRejected, OutboxError
from outbox.batches import position_after, stream_entries
from outbox.logs import (
    STREAMS,
    consumer_streams,
    dead_letters_of,
    stream_consumer,
    stream_time_field,
)
from outbox.horizon import (
    CursorAhead,
    HorizonHolder,
    cursors_ahead,
    horizon_holder,
    in_index_order,
)
from outbox.models import OutboxBatch, OutboxCursor, OutboxMessage, WorkerHeartbeat

# A stream's entries after its cursor are counted up to this many: a stream with no cursor yet
# (a consumer that never claimed) starts at the first row of a table log, which is never
# purged, and a count of all of it read the whole event table on each /healthz/status.
BACKLOG_COUNT_CAP = 10_000


@dataclass(frozen=True, kw_only=True)
class Backlog:
    consumer: str
    unshipped: int
    # True when a stream's count stopped at BACKLOG_COUNT_CAP: `unshipped` is a lower bound.
    unshipped_at_least: bool
    oldest_age_seconds: float | None
    dead_lettered: int


def outbox_backlog() -> list[Backlog]:
    """Return, per consumer, the unshipped messages, the age of the oldest, and dead letters.

    Unshipped: the messages of unshipped batches, and those after the consumer's cursor, not
    claimed yet (an index range each); with the rows of its table logs (outbox.logs) the same
    way, each after its own cursor. Every consumer the tick runs, before its first claim too
    (a worker broken from the start shows), and any other once it has claimed.

    Each stream's range is read in claim order and no further than BACKLOG_COUNT_CAP entries,
    whatever its length: beyond, `unshipped_at_least` says the count is a lower bound, and the
    oldest is that of the entries read, the next to claim (the oldest but for an entry whose
    transaction committed late).
    """
    cursors = {cursor.consumer: cursor for cursor in OutboxCursor.objects.all()}
    consumers = sorted({*TICK_CONSUMERS, *(stream_consumer(stream) for stream in cursors)})
    counts: dict[str, int] = dict.fromkeys(consumers, 0)
    capped: set[str] = set()
    oldest: dict[str, datetime] = {}

    def add(consumer: str, n: int, at: datetime | None) -> None:
        counts[consumer] += n or 0
        if at is not None:
            oldest[consumer] = min(at, oldest.get(consumer, at))

    open_batches = (
        OutboxBatch.objects.filter(shipped_at__isnull=True)
        .values("consumer")
        .annotate(n=Sum("size"), oldest=Min("oldest_at"))
    )
    for row in open_batches:
        consumer = stream_consumer(row["consumer"])
        if consumer in counts:
            add(consumer, row["n"], row["oldest"])
    for consumer in consumers:
        for stream in consumer_streams(consumer):
            entries = _unclaimed(stream, cursors.get(stream)).order_by("xid", "id")
            with _by_index():
                unclaimed = entries[:BACKLOG_COUNT_CAP].aggregate(
                    n=Count("id"), oldest=Min(stream_time_field(stream))
                )
            add(consumer, unclaimed["n"], unclaimed["oldest"])
            if unclaimed["n"] >= BACKLOG_COUNT_CAP:
                capped.add(consumer)
    dead = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    dead_counts = {
        consumer: dead.filter(dead_letters_of(consumer)).count() for consumer in consumers
    }
    now = timezone.now()
    return [
        Backlog(
            consumer=consumer,
            unshipped=count,
            unshipped_at_least=consumer in capped,
            oldest_age_seconds=(
                round((now - oldest[consumer]).total_seconds(), 3) if consumer in oldest else None
            ),
            dead_lettered=dead_counts[consumer],
        )
        for consumer, count in counts.items()
    ]


@dataclass(frozen=True, kw_only=True)
class BatchesWaiting:
    """A consumer's batches that failed and wait for their next attempt."""

    batches: int
    messages: int
    # The batch due first: when, after how many attempts, and why its last one failed.
    next_attempt_at: datetime
    attempts: int
    last_error: str


def outbox_batches_waiting(*, consumer: str) -> BatchesWaiting | None:
    """Return what of `consumer`'s streams failed and waits to be retried, if anything.

    A batch dead-letters its messages and goes, or ships: an unshipped batch with an attempt
    behind it waits for `next_attempt_at`.
    """
    waiting = OutboxBatch.objects.filter(
        consumer__in=consumer_streams(consumer), shipped_at__isnull=True, attempts__gt=0
    )
    first = waiting.order_by("next_attempt_at").first()
    if first is None:
        return None
    totals = waiting.aggregate(batches=Count("id"), messages=Sum("size"))
    return BatchesWaiting(
        batches=totals["batches"],
        messages=totals["messages"],
        next_attempt_at=first.next_attempt_at,
        attempts=first.attempts,
        last_error=first.last_error,
    )


@contextmanager
def _by_index() -> Iterator[None]:
    """Read a range after a cursor by its index, in a transaction of its own on PostgreSQL.

    A table log is never purged: a scan of the whole table, which a planner without statistics
    may choose for the range, would grow with it (outbox.horizon.in_index_order).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        in_index_order()
        yield


def _unclaimed(stream: str, cursor: OutboxCursor | None) -> QuerySet:
    """`stream`'s entries after its cursor: its messages not dead-lettered, or its rows."""
    entries = stream_entries(stream)
    if stream not in STREAMS:
        entries = entries.filter(dead_lettered_at__isnull=True)
    if cursor is not None:
        entries = entries.filter(position_after(cursor.xid, cursor.id, stream=stream))
    return entries


def outbox_horizon_holder() -> HorizonHolder | None:
    """Return the session of this database whose open transaction holds every claim back, if any.

    The oldest of this database's sessions with a transaction id, this one aside: claims take
    nothing it or later transactions wrote until it ends (docs/architecture.md, "The commit
    horizon"). None on SQLite, which runs one writing transaction at a time.
    """
    return horizon_holder() if connection.vendor == "postgresql" else None


def outbox_cursors_ahead() -> list[CursorAhead]:
    """Return the consumers whose claims have stopped: their cursor is ahead of the server.

    The database was restored or moved to another PostgreSQL cluster, whose transaction ids
    are lower: nothing is claimed for them (each claim logs `outbox.cursor_ahead`) until
    `manage.py outbox rebase-cursor`. Empty when all is well, and on SQLite.
    """
    return cursors_ahead() if connection.vendor == "postgresql" else []


def clickhouse_health(*, heartbeat: WorkerHeartbeat | None) -> str | None:
    """Return None when ClickHouse is reachable, else why not.

    A server is pinged. An embedded store belongs to the worker, so its last heartbeat (the
    caller's read of worker_heartbeat, which judges the worker too) must be recent and good.
    """
    if not is_embedded():
        try:
            clickhouse_command(ping())
        except OutboxError as exc:
            return str(exc)[:300]
        return None
    if heartbeat is None:
        return "no worker has reported on the embedded store yet"
    return worker_heartbeat_problem(heartbeat) or (None if heartbeat.ok else heartbeat.error)


def worker_heartbeat() -> WorkerHeartbeat | None:
    """Return the worker's last report on ClickHouse (every 5 s and at its start), if any."""
    return WorkerHeartbeat.objects.filter(name=WorkerHeartbeat.CLICKHOUSE).first()


def worker_heartbeat_problem(heartbeat: WorkerHeartbeat | None) -> str | None:
    """Return why the worker looks down (it never reported, or its last report is older than
    CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS; it reports every 5 s), else None."""
    if heartbeat is None:
        return "no worker has reported yet"
    age = timezone.now() - heartbeat.checked_at
    if age > timedelta(seconds=settings.CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS):
        return f"the worker last reported {int(age.total_seconds())} s ago"
    return None


# The driver reads the rows in Native, so it sends the query followed by this; ClickHouse's
# syntax errors quote the rest of the text back, this too.
APPENDED_FORMAT = re.compile(r"\s*\bFORMAT Native\b")
FAILED_AT_POSITION = re.compile(r"failed at position (\d+)")


def clickhouse_value_text(value: object) -> str:
    """A value as ClickHouse's TabSeparated prints it: NULL as `\\N`, not Python's `None`."""
    return r"\N" if value is None else str(value)


def clickhouse_query_readonly(query: str) -> tuple[list[str], list[tuple]]:
    """Run an operator's query with ClickHouse's `readonly` setting, so it cannot write.

    Raises ClickHouseRejected for a write or a bad query, its message ClickHouse's error about
    that query alone, on one line.
    """
    try:
        return clickhouse_rows_readonly(query)
    except ClickHouseRejected as exc:
        said = _refusal_of_the_text_alone(query, str(exc))
        raise ClickHouseRejected(f"ClickHouse refused the query: {said}") from exc


def _refusal_of_the_text_alone(query: str, said: str) -> str:
    """ClickHouse's refusal `said`, made about `query` as the operator wrote it, on one line.

    A syntax error past the query's end is about the FORMAT clause the driver appended, and
    its position and line count that clause. ClickHouse is then asked about the text alone,
    sent as written: its error, if any, is the one to show (a parse error costs nothing to
    repeat). Only a query that runs as written (one ending in a FORMAT clause of its own) is
    run a second time.
    """
    failed_at = FAILED_AT_POSITION.search(said)
    if failed_at and int(failed_at[1]) > len(query.encode()):
        try:
            clickhouse_run_as_written(query)
        except ClickHouseRejected as alone:
            said = str(alone)
        else:
            said = (
                "the query has a FORMAT clause of its own; leave it out (the command adds "
                "the FORMAT it reads the rows in, and prints them as tab-separated text)"
            )
    return " ".join(APPENDED_FORMAT.sub("", said).split())


def broker_health() -> str | None:
    """Return None when the Celery broker answers (or there is none: `make run`), else why not."""
    from celery import current_app

    if settings.EMBEDDED_WORKER_SOCKET:
        return None
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any transport's connection error
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def outbox_dead_lettered_subjects(*, consumer: str, topic: str) -> QuerySet[OutboxMessage]:
    """The subject ids of `consumer`'s dead-lettered `topic` messages (an index range).

    Its table logs' dead letters too: each names its row (outbox.logs).
    """
    return OutboxMessage.objects.filter(
        dead_letters_of(consumer), topic=topic, dead_lettered_at__isnull=False
    ).values_list("subject_id", flat=True)


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    id: int
    consumer: str
    topic: str
    subject_id: int | None
    last_error: str
    attempts: int
    created_at: datetime
    dead_lettered_at: datetime


def outbox_dead_letters(*, before_id: int | None = None, limit: int) -> list[DeadLetter]:
    """Return up to `limit` dead-lettered messages, newest (highest id) first.

    A keyset page: those with an id below `before_id` when given. Each consumer's are read
    backwards through the partial index of dead letters (`outbox_message_dead`), which holds
    nothing else, at most `limit` each, in one query (one per consumer on SQLite); so however
    many messages were shipped, no page scans them. A consumer with dead letters has a cursor
    (it claimed them).
    """
    consumers = {*CONSUMERS, *OutboxCursor.objects.values_list("consumer", flat=True)}
    dead = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    if before_id is not None:
        dead = dead.filter(id__lt=before_id)
    fields = [field.name for field in dataclass_fields(DeadLetter)]
    per_consumer = [
        dead.filter(consumer=consumer).order_by("-id").values(*fields)[:limit]
        for consumer in sorted(consumers)
    ]
    if connection.features.supports_slicing_ordering_in_compound:
        rows = per_consumer[0].union(*per_consumer[1:], all=True).order_by("-id")[:limit]
    else:  # SQLite: a query per consumer.
        rows = sorted(chain.from_iterable(per_consumer), key=itemgetter("id"), reverse=True)
    return [DeadLetter(**row) for row in rows[:limit]]


def outbox_processed_until(*, consumer: str) -> datetime:
    """Return the time before which every committed message of `consumer` was processed.

    Of its table logs' rows too (outbox.logs), by the time each was written.

    The creation time of its oldest unprocessed message, or now when there is none. A
    transaction that commits late carries an older creation time and moves it back. A
    dead-lettered message is not waited for (it would hold the time back until someone
    re-queues it): callers report those apart (outbox_dead_lettered_subjects). Re-queued,
    it is unprocessed again and holds the time back until it is processed.
    """
    times = []
    for stream in consumer_streams(consumer):
        in_open_batches = OutboxBatch.objects.filter(
            consumer=stream, shipped_at__isnull=True
        ).aggregate(oldest=Min("oldest_at"))["oldest"]
        cursor = OutboxCursor.objects.filter(consumer=stream).first()
        with _by_index():
            unclaimed = _unclaimed(stream, cursor).aggregate(oldest=Min(stream_time_field(stream)))
        times += [in_open_batches, unclaimed["oldest"]]
    return min((t for t in times if t is not None), default=timezone.now())
