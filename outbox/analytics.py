"""Turn a batch of analytics messages into ClickHouse `event_log` columns.

A message carries either an AnalyticsRecord as its payload (`AnalyticsRecord.as_message`) or
the id of a stored row. The app that owns such rows registers, at start-up, how to read them
(`outbox.services.analytics_loader_register`): a Python loader that turns ids into records,
and on PostgreSQL a SQL row source the relay joins to the batch's messages, so a whole batch
loads in one query with no per-row Python objects. The outbox imports no domain app.

Rows are built column by column, in the types the ClickHouse client writes without
conversion: the time as epoch microseconds (DateTime64(6) ticks). A row carries its record's
key, not its id: ClickHouse derives event_id from the key (sql.event_log_derive_event_id).
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from outbox.batches import batch_messages
from outbox.contracts import AnalyticsRecord
from outbox.exceptions import PoisonMessage
from outbox.models import OutboxBatch

# Bumped when the meaning of a row changes; ReplacingMergeTree keeps the highest version.
METADATA_VERSION = 1

Loader = Callable[[Sequence[int]], dict[int, AnalyticsRecord]]
# topic -> loader, filled by the apps that own the rows (outbox.services.analytics_loader_register).
LOADERS: dict[str, Loader] = {}
# topic -> SQL row source (see RowSource), used on PostgreSQL instead of the loader.
SOURCES: dict[str, "RowSource"] = {}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, kw_only=True)
class RowSource:
    """A SELECT over the owning app's table that yields one analytics record per stored row.

    `sql` selects exactly these columns, by these names: `subject_id` (what a message's
    subject_id refers to), `key` (AnalyticsRecord.key), `event_type`, `occurred_at_us` (epoch
    microseconds, UTC, bigint), `tenant_id`, `user_id` and `context` (the context as JSON
    text). It must give, for any row, the record the app's loader gives, with a context that
    parses to the same value. It takes no parameters: the relay joins it to a batch's
    messages on `subject_id`, and PostgreSQL plans that as an index lookup per message.
    """

    sql: str


@dataclass(frozen=True, kw_only=True)
class EventLogColumns:
    """One batch as event_log columns (EVENT_LOG_INSERT_COLUMNS), and when it was published."""

    columns: list[list]
    size: int
    oldest: datetime | None


@dataclass(frozen=True, kw_only=True)
class LoadedBatch:
    """A batch's messages as the database returned them, before any row is built."""

    batch: OutboxBatch
    sourced: list[tuple[str, list[tuple]]]  # (topic, rows of its RowSource), per topic
    others: list[tuple]  # (id, topic, subject_id, payload) of the other messages


def batch_rows_load(batch: OutboxBatch) -> LoadedBatch:
    """Read what `batch`'s rows are built from, inside the caller's transaction.

    On PostgreSQL, topics with a SQL row source load in one JOIN each; the other messages
    (payloads, topics with only a loader) are read as they are.
    """
    if connection.vendor != "postgresql":
        others = batch_messages(batch).values_list("id", "topic", "subject_id", "payload")
        return LoadedBatch(batch=batch, sourced=[], others=list(others))
    where = {
        "consumer": batch.consumer,
        "first_xid": batch.first_xid,
        "first_id": batch.first_id,
        "last_xid": batch.last_xid,
        "last_id": batch.last_id,
    }
    sourced, others = [], []
    with connection.cursor() as cursor:
        # PostgreSQL estimates a row comparison at the whole table, and at that cost would
        # JIT-compile the load: about 450 ms, for a query that runs in 50.
        cursor.execute("SET LOCAL jit = off")
        for topic, source in sorted(SOURCES.items()):
            cursor.execute(_SOURCE_LOAD.format(source=source.sql), {**where, "topic": topic})
            sourced.append((topic, cursor.fetchall()))
        if sum(len(rows) for _, rows in sourced) < batch.size:  # payloads, topics with no source
            cursor.execute(_OTHERS_LOAD, {**where, "topics": list(SOURCES)})
            others = [(*row[:3], _json(row[3])) for row in cursor.fetchall()]
    return LoadedBatch(batch=batch, sourced=sourced, others=others)


def event_log_columns_build(loaded: LoadedBatch) -> EventLogColumns:
    """Turn a loaded batch into event_log columns; raise PoisonMessage for a message that fails.

    The other messages go through event_log_rows (and the Python loaders, on their topics).
    """
    batch = loaded.batch
    columns: list[list] = [[] for _ in range(8)]
    for topic, rows in loaded.sourced:
        _extend_from_source(columns, topic, rows)
    for row in event_log_rows(loaded.others):
        for column, value in zip(columns, row):
            column.append(value)
    if len(columns[0]) != batch.size:
        raise PoisonMessage(f"batch {batch.pk}: {batch.size} messages gave {len(columns[0])} rows")
    return EventLogColumns(columns=columns, size=batch.size, oldest=batch.oldest_at)


# A batch's messages, as outbox.batches.batch_messages selects them, in (xid, id) order: a
# retried batch re-sends the same block, which ClickHouse's insert deduplication requires.
_BATCH = """
    m.consumer = %(consumer)s AND m.dead_lettered_at IS NULL
    AND (m.xid, m.id) >= (%(first_xid)s, %(first_id)s)
    AND (m.xid, m.id) <= (%(last_xid)s, %(last_id)s)
"""
# One index lookup into the source per message, whatever the planner guesses: LATERAL with
# LIMIT 1 (a subject has one row) keeps it from scanning and building every row of the
# source table for a merge or hash join.
_SOURCE_LOAD = f"""
    SELECT m.id, s.key, s.event_type, s.occurred_at_us, s.tenant_id, s.user_id, s.context
    FROM outbox_outboxmessage m
    LEFT JOIN LATERAL (
        SELECT * FROM ({{source}}) AS source WHERE source.subject_id = m.subject_id LIMIT 1
    ) AS s ON true
    WHERE {_BATCH} AND m.topic = %(topic)s AND m.payload IS NULL
    ORDER BY m.xid, m.id
"""
_OTHERS_LOAD = f"""
    SELECT m.id, m.topic, m.subject_id, m.payload FROM outbox_outboxmessage m
    WHERE {_BATCH} AND (m.payload IS NOT NULL OR m.topic <> ALL(%(topics)s::text[]))
    ORDER BY m.xid, m.id
"""


def _extend_from_source(columns: list[list], topic: str, rows: list[tuple]) -> None:
    if not rows:
        return
    message_ids, keys, event_types, micros, tenant_ids, user_ids, contexts = zip(*rows)
    if None in keys:
        message_id = message_ids[keys.index(None)]
        raise PoisonMessage(f"message {message_id} ({topic}): no row with its subject id")
    environment = settings.ENVIRONMENT
    columns[0].extend(keys)
    columns[1].extend(event_types)
    columns[2].extend(micros)
    columns[3].extend([environment] * len(rows))
    columns[4].extend(contexts)
    columns[5].extend([METADATA_VERSION] * len(rows))
    columns[6].extend(tenant_ids)
    columns[7].extend(user_ids)


def _json(value: Any) -> Any:
    # Django has psycopg hand jsonb over as text: JSONField parses it, a raw cursor must.
    return json.loads(value) if isinstance(value, str) else value


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
        try:
            record = (
                _record_from_payload(payload) if payload is not None else loaded[topic][subject_id]
            )
            rows.append(_row(record, environment))
        except (KeyError, TypeError, ValueError) as exc:
            raise PoisonMessage(f"message {message_id} ({topic}): {type(exc).__name__}: {exc}")
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
