"""Turn a batch of analytics messages into ClickHouse `event_log` rows.

A message carries either an AnalyticsRecord as its payload (`AnalyticsRecord.as_message`) or
the id of a stored row. The app that owns such rows registers, at start-up, how to read them
(`outbox.services.analytics_loader_register`): a Python loader that turns ids into records,
and a SQL row source with which PostgreSQL renders a whole batch in one COPY, with no Python
object per row (outbox.analytics_copy). The outbox imports no domain app.

Here rows are built in Python, column by column, in the types the ClickHouse client writes
without conversion: the time as epoch microseconds (DateTime64(6) ticks). A row carries its
record's key, not its id: ClickHouse derives event_id from the key
(sql.event_log_derive_event_id).
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from outbox.batches import batch_messages, batch_rows
from outbox.contracts import AnalyticsRecord, TableLog
from outbox.exceptions import PoisonMessage
from outbox.logs import STREAMS
from outbox.models import OutboxBatch

# Bumped when the meaning of a row changes; ReplacingMergeTree keeps the highest version.
METADATA_VERSION = 1

Loader = Callable[[Sequence[int]], dict[int, AnalyticsRecord]]
# topic -> loader, filled by the apps that own the rows (outbox.services.analytics_loader_register).
LOADERS: dict[str, Loader] = {}
# topic -> SQL row source (see RowSource), with which PostgreSQL renders batches (analytics_copy).
SOURCES: dict[str, "RowSource"] = {}

LogLoader = Callable[[Sequence[int]], dict[int, list[AnalyticsRecord]]]


@dataclass(frozen=True, kw_only=True)
class LogRows:
    """Analytics rows of a table log's entries (outbox.logs), from one app's tables.

    `sql` is a SELECT of the columns `key`, `event_type`, `occurred_at` (timestamptz),
    `tenant_id`, `user_id` and `context` (JSON text), by these names and in this order, for the
    log's row `m` (any of its table's columns). The first registered for a log gives each entry
    its own row (an event's; an entry it gives none is built in Python), the others any number
    (an event's alerts). A source that reads another table bounds that read by
    `%(entries_min_id)s` and `%(entries_max_id)s`, the least and greatest id of the batch's
    entries, so PostgreSQL joins the batch to that range at once instead of looking rows up for
    each entry (outbox.analytics_copy). `loader` gives the same records in Python, in lists by
    entry id.
    """

    sql: str
    loader: LogLoader


# table log name -> its row sources, in the order registered: the entry's own first
# (outbox.services.analytics_log_rows_register).
LOG_ROWS: dict[str, list[LogRows]] = {}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, kw_only=True)
class RowSource:
    """A SELECT over the owning app's table that yields one analytics record per stored row.

    `sql` selects exactly these columns, by these names: `subject_id` (what a message's
    subject_id refers to), `key` (AnalyticsRecord.key), `event_type`, `occurred_at`
    (timestamptz), `tenant_id`, `user_id` and `context` (the context as JSON text). It must
    give, for any row, the record the app's loader gives, with a context that parses to the
    same value. It takes no parameters: the relay joins it to a batch's messages on
    `subject_id`, and PostgreSQL plans that as an index lookup per message.
    """

    sql: str


@dataclass(frozen=True, kw_only=True)
class EventLogBlock:
    """One batch ready to insert, and when its oldest message was published.

    Either `tsv`, TabSeparated rows rendered by PostgreSQL (outbox.analytics_copy), or
    `columns`, built here (EVENT_LOG_INSERT_COLUMNS, in the client's types). `any_order`: the
    rows of `tsv` may come in another order when the batch is rendered again (a table log's).
    """

    size: int
    oldest: datetime | None
    tsv: bytes | None = None
    columns: list[list] | None = None
    any_order: bool = False

    @cached_property
    def digest(self) -> str:
        """A hash of the rows, part of the insert's deduplication token (outbox.relay.batch_token).

        Taken when the token is, in the shipping thread, not where the rows are made: the thread
        that claims and renders batches ahead is the relay's slower stage, and sorting and
        hashing a rendered batch of 10,000 rows cost it 3-4 ms (docs/BENCHMARKS.md, "Issue 20,
        stop 26").
        """
        if self.tsv is None:
            return hashlib.sha256(repr(self.columns).encode()).hexdigest()
        return hashlib.sha256(_in_order(self.tsv) if self.any_order else self.tsv).hexdigest()


def _in_order(rendered: bytes) -> bytes:
    """A table log's rows in one order whatever the order PostgreSQL wrote them in: the digest's.

    A batch rendered again (a retry, another relay, the claim-ahead thread's other settings)
    must get the same insert token (outbox.relay.batch_token), and a plan may give an entry's
    rows in another order.
    """
    return b"\n".join(sorted(rendered.split(b"\n")))


def batch_columns_build(batch: OutboxBatch) -> EventLogBlock:
    """Build `batch`'s event_log columns in Python; raise PoisonMessage for a message that fails.

    The relay's path on SQLite, and on PostgreSQL for a batch PostgreSQL would not render.
    Payloads are read here, and the other messages through their topic's loader.
    """
    table_log = STREAMS.get(batch.consumer)
    if table_log is None:
        messages = batch_messages(batch).values_list("id", "topic", "subject_id", "payload")
        rows = event_log_rows(messages)
        if len(rows) != batch.size:
            raise PoisonMessage(f"batch {batch.pk}: {batch.size} messages gave {len(rows)} rows")
    else:
        rows = _log_rows(batch, table_log)
    columns: list[list] = [[] for _ in range(8)]
    for row in rows:
        for column, value in zip(columns, row):
            column.append(value)
    return EventLogBlock(size=batch.size, oldest=batch.oldest_at, columns=columns)


def event_log_rows(messages: Iterable[tuple[int, str, int | None, Any]]) -> list[tuple]:
    """Return the event_log rows of `(id, topic, subject_id, payload)` messages, in order.

    Raises PoisonMessage naming the first message that cannot become a row.
    """
    messages = list(messages)
    by_topic: dict[str, list[int]] = defaultdict(list)
    for _, topic, subject_id, payload in messages:
        if payload is None:
            by_topic[topic].append(subject_id)
    loaded = {topic: _load(topic, ids) for topic, ids in by_topic.items()}
    environment = settings.ENVIRONMENT
    rows = []
    for message_id, topic, subject_id, payload in messages:
        if payload is None and subject_id not in loaded[topic]:
            raise PoisonMessage(f"message {message_id} ({topic}): no row with its subject id")
        try:
            record = (
                _record_from_payload(payload) if payload is not None else loaded[topic][subject_id]
            )
            rows.append(_row(record, environment))
        except (KeyError, TypeError, ValueError) as exc:
            raise PoisonMessage(f"message {message_id} ({topic}): {type(exc).__name__}: {exc}")
    return rows


def _log_rows(batch: OutboxBatch, table_log: TableLog) -> list[tuple]:
    """The event_log rows of a table log's batch: each entry's, source by source.

    Raises PoisonMessage naming the first entry that gives no row or a row that cannot be.
    """
    ids = list(batch_rows(batch).values_list("id", flat=True))
    loaded = [rows.loader(ids) for rows in LOG_ROWS.get(table_log.name, ())]
    environment = settings.ENVIRONMENT
    rows = []
    for id in ids:
        records = [
            record
            for found in loaded
            for record in sorted(found.get(id, ()), key=lambda record: record.key)
        ]
        if not records:
            raise PoisonMessage(f"{batch.consumer} row {id}: no analytics record")
        try:
            rows.extend(_row(record, environment) for record in records)
        except (KeyError, TypeError, ValueError) as exc:
            raise PoisonMessage(f"{batch.consumer} row {id}: {type(exc).__name__}: {exc}")
    return rows


def _load(topic: str, ids: Sequence[int]) -> dict[int, AnalyticsRecord]:
    loader = LOADERS.get(topic)
    return loader(ids) if loader else {}


def _record_from_payload(payload: dict[str, Any]) -> AnalyticsRecord:
    occurred_at = datetime.fromisoformat(payload["occurred_at"])
    if occurred_at.tzinfo is None:
        raise ValueError(f"occurred_at {payload['occurred_at']!r} has no timezone")
    return AnalyticsRecord(
        key=payload["key"],
        event_type=payload["event_type"],
        occurred_at=occurred_at,
        tenant_id=payload["tenant_id"],
        user_id=payload["user_id"],
        context=payload["context"],
    )


def _row(record: AnalyticsRecord, environment: str) -> tuple:
    return (
        record.key,
        record.event_type,
        (record.occurred_at - _EPOCH) // _MICROSECOND,
        environment,
        json.dumps(record.context, sort_keys=True, separators=(",", ":")),
        METADATA_VERSION,
        record.tenant_id,
        record.user_id,
    )
