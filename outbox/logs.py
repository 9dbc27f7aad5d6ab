"""The logs a consumer reads: its outbox messages, and the tables apps register as logs.

A consumer reads its own outbox messages under its name, and each table log it was registered
for (`outbox.services.outbox_consumer_register`) as a stream of its own, `<consumer>:<log>`,
with a cursor and batches of its own (outbox.batches): the same claims, in (xid, id) order
behind the same commit horizon, over the table itself. A table log's dead letters are outbox
messages of the stream that name the row (`subject_id`) and are born dead-lettered, so the
row is left out of its batches until re-queued.
"""

from dataclasses import dataclass

from django.db.models import BooleanField, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from outbox.contracts import TableLog
from outbox.models import OutboxMessage

# stream -> the table log it reads; a consumer's own name reads its messages.
STREAMS: dict[str, TableLog] = {}
# consumer -> its table logs' streams, in registration order.
CONSUMER_STREAMS: dict[str, list[str]] = {}


def stream_register(*, consumer: str, log: TableLog) -> str:
    """Make `consumer` read `log` as a stream of its own; return the stream's name."""
    stream = log.stream(consumer)
    STREAMS[stream] = log
    streams = CONSUMER_STREAMS.setdefault(consumer, [])
    if stream not in streams:
        streams.append(stream)
    return stream


def consumer_streams(consumer: str) -> list[str]:
    """What `consumer` reads: its table logs' streams, then its own messages."""
    return [*CONSUMER_STREAMS.get(consumer, ()), consumer]


def stream_time_field(stream: str) -> str:
    """The field that says when an entry of `stream` was written: the backlog's age."""
    log = STREAMS.get(stream)
    return "created_at" if log is None else log.time_field


def stream_consumer(stream: str) -> str:
    """The consumer a stream belongs to (a consumer is its own messages' stream)."""
    log = STREAMS.get(stream)
    return stream if log is None else stream[: -len(log.name) - 1]


@dataclass(frozen=True, kw_only=True)
class LogSql:
    """Where a stream's entries are, for the claims' SQL: its table, rows and time column.

    `where` may name the stream as `%(consumer)s`.
    """

    table: str
    where: str
    time: str


_MESSAGES = LogSql(
    table=OutboxMessage._meta.db_table, where="consumer = %(consumer)s", time="created_at"
)


def log_sql(stream: str) -> LogSql:
    log = STREAMS.get(stream)
    if log is None:
        return _MESSAGES
    return LogSql(
        table=log.model._meta.db_table,
        where=f"({log.where})",
        time=log.model._meta.get_field(log.time_field).column,
    )


def log_rows(log: TableLog) -> QuerySet:
    """Every row of `log`'s table that belongs to the log."""
    return log.model.objects.filter(RawSQL(log.where, (), output_field=BooleanField()))


def log_rows_live(log: TableLog, stream: str) -> QuerySet:
    """The rows of `log` but those dead-lettered for `stream`."""
    dead = stream_dead_letters(stream).filter(subject_id=OuterRef("pk"))
    return log_rows(log).filter(~Exists(dead))


def stream_dead_letters(stream: str) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(consumer=stream, dead_lettered_at__isnull=False)


def table_dead_letter(*, stream: str, log: TableLog, xid: int, id: int, error: str) -> None:
    """Park row `id` of `log` as dead-lettered for `stream`: an outbox message naming it."""
    OutboxMessage.objects.create(
        consumer=stream,
        topic=log.topic,
        subject_id=id,
        xid=xid,
        attempts=1,
        last_error=error,
        dead_lettered_at=timezone.now(),
    )


def dead_letters_of(consumer: str) -> Q:
    """The dead letters of `consumer`: of its messages and of its table logs' streams."""
    return Q(consumer__in=consumer_streams(consumer))
