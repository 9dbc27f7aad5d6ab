"""PostgreSQL renders a batch as ClickHouse `TabSeparated` rows: the relay's path on PostgreSQL.

One `COPY (SELECT ...) TO STDOUT` per batch turns each message into its event_log row (a
payload's fields, or the owning app's RowSource for a message that carries an id) and the
relay hands the bytes to ClickHouse untouched: no Python object per row on either side.
PostgreSQL's COPY text format and ClickHouse's TabSeparated escape alike (`\\t`, `\\n`, `\\\\`,
`\\N` for NULL). Times go as UTC timestamps in ISO style (`YYYY-MM-DD hh:mm:ss[.ffffff]`), not
epoch numbers: ClickHouse reads a bare number for a DateTime64 as ticks, seconds or a date
depending on its digits. A timestamp's own text is cheaper for PostgreSQL than to_char, and is
in ISO style on every connection psycopg can use (it reads timestamps in no other style).

ClickHouse reads `\\N` in a column that is not Nullable as its default and an out-of-range
number as 0, silently, so a row is only rendered when it is sure to be right: any message the
SQL cannot vouch for (a payload missing a field, a time without a zone, a subject with no row,
a topic with no source) has its key rendered as NULL, and any value PostgreSQL refuses to
convert fails the COPY. Either way `batch_render` returns None and the relay builds that batch
in Python (outbox.analytics.batch_columns_build), which ships it or names the poison message.
"""

import structlog
from django.conf import settings
from django.db import DataError, connection, transaction

from outbox.analytics import LOG_ROWS, METADATA_VERSION, SOURCES, EventLogBlock
from outbox.logs import STREAMS
from outbox.models import OutboxBatch, OutboxMessage

log = structlog.get_logger(__name__)

# A NULL key in the first column: the row of a message this SQL cannot vouch for.
_NULL_KEY_FIRST, _NULL_KEY = b"\\N\t", b"\n\\N\t"


def batch_render(batch: OutboxBatch) -> EventLogBlock | None:
    """Return `batch` as TabSeparated event_log rows, or None if PostgreSQL cannot render it.

    Runs in the caller's transaction, under a savepoint; None on other databases.
    """
    if connection.vendor != "postgresql":
        return None
    query, parameters = batch_render_query(batch)
    statement = f"COPY ({query}) TO STDOUT"
    data = bytearray()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # PostgreSQL estimates a row comparison at the whole table, and at that cost would
            # JIT-compile the query: hundreds of milliseconds, for a query that runs in tens.
            cursor.execute("SET LOCAL jit = off")
            with connection.wrap_database_errors, cursor.cursor.copy(statement, parameters) as copy:
                while chunk := copy.read():  # a row: iterating costs a generator more per row
                    data += chunk
    except DataError as exc:
        log.info("outbox.render_refused", batch_id=str(batch.pk), error=type(exc).__name__)
        return None
    rendered = bytes(data)
    # A table log's entry may give several rows (an event and its alerts), and gives one at least.
    table_log = batch.consumer in STREAMS
    counted = table_log or rendered.count(b"\n") == batch.size
    if not counted or rendered.startswith(_NULL_KEY_FIRST) or _NULL_KEY in rendered:
        log.info("outbox.render_refused", batch_id=str(batch.pk), size=batch.size)
        return None
    return EventLogBlock(size=batch.size, oldest=batch.oldest_at, tsv=rendered, any_order=table_log)


def batch_render_query(batch: OutboxBatch) -> tuple[str, dict]:
    """The SELECT of `batch`'s event_log rows, as batch_render copies them, and its parameters.

    For a table log's batch this first reads the least and greatest id of its entries, unless
    the claim that made `batch` did (OutboxBatch.entry_ids).
    """
    if batch.consumer in STREAMS:
        return _log_render_statement(batch)
    topics = sorted(SOURCES)
    sourced = "".join(
        _SOURCED_ROW.format(source=SOURCES[topic].sql, n=n) for n, topic in enumerate(topics)
    )
    parameters = {
        "consumer": batch.consumer,
        "first_xid": batch.first_xid,
        "first_id": batch.first_id,
        "last_xid": batch.last_xid,
        "last_id": batch.last_id,
        "environment": settings.ENVIRONMENT,
        "version": METADATA_VERSION,
        **{f"topic_{n}": topic for n, topic in enumerate(topics)},
    }
    return _RENDER.format(table=OutboxMessage._meta.db_table, sourced=sourced), parameters


# The batch's messages in (xid, id) order, as outbox.batches.batch_messages selects them: a
# retried batch renders the same block, so it gets the same token (outbox.relay.batch_token).
# Each message's row comes from its payload or from its topic's source, through one lateral
# subquery whose branches are gated on the message, so a source costs one index lookup per
# message of its topic and nothing for the others.
_RENDER = """
    SELECT CASE WHEN r.event_type IS NOT NULL AND r.occurred_at IS NOT NULL
                     AND r.tenant_id IS NOT NULL AND r.context IS NOT NULL AND r.zoned
                THEN r.key END,
           r.event_type,
           r.occurred_at AT TIME ZONE 'UTC',
           %(environment)s, r.context, %(version)s, r.tenant_id, r.user_id
    FROM {table} m
    LEFT JOIN LATERAL (
        SELECT m.payload->>'key' AS key,
               m.payload->>'event_type' AS event_type,
               (m.payload->>'occurred_at')::timestamptz AS occurred_at,
               m.payload->>'tenant_id' AS tenant_id,
               (m.payload->>'user_id')::bigint AS user_id,
               (m.payload->'context')::text AS context,
               m.payload->>'occurred_at' ~ '(Z|[+-]\\d\\d(:?\\d\\d)?)$' AS zoned
        WHERE m.payload IS NOT NULL
        {sourced}
        LIMIT 1
    ) AS r ON true
    WHERE m.consumer = %(consumer)s AND m.dead_lettered_at IS NULL
      AND (m.xid, m.id) >= (%(first_xid)s, %(first_id)s)
      AND (m.xid, m.id) <= (%(last_xid)s, %(last_id)s)
    ORDER BY m.xid, m.id
"""
_SOURCED_ROW = """
            UNION ALL
            SELECT s.key, s.event_type, s.occurred_at, s.tenant_id, s.user_id, s.context, true
            FROM ({source}) AS s
            WHERE m.payload IS NULL AND m.topic = %(topic_{n})s AND s.subject_id = m.subject_id
"""


def _log_render_statement(batch: OutboxBatch) -> tuple[str, dict]:
    table_log = STREAMS[batch.consumer]
    table = table_log.model._meta.db_table
    parameters = {
        "stream": batch.consumer,
        "first_xid": batch.first_xid,
        "first_id": batch.first_id,
        "last_xid": batch.last_xid,
        "last_id": batch.last_id,
        "environment": settings.ENVIRONMENT,
        "version": METADATA_VERSION,
    }
    entry_ids = batch.entry_ids
    if entry_ids is None:  # not the instance its claim made: a retry, another relay's batch
        with connection.cursor() as cursor:
            cursor.execute(_ENTRY_IDS.format(table=table, where=table_log.where), parameters)
            entry_ids = cursor.fetchone()
    parameters["entries_min_id"], parameters["entries_max_id"] = entry_ids
    entries = _ENTRIES.format(table=table, where=table_log.where)
    own, *more = [rows.sql for rows in LOG_ROWS.get(table_log.name, [])] or [_NO_ROWS]
    rows = " UNION ALL ".join(
        [
            _OWN_ROWS.format(entries=entries, sql=own),
            *(_MORE_ROWS.format(entries=entries, sql=sql) for sql in more),
        ]
    )
    return _LOG_RENDER.format(dead=OutboxMessage._meta.db_table, rows=rows), parameters


# The least and greatest id of a batch's entries, for a batch its claim did not give them: the
# range an app's rows of another table are found in (outbox.analytics.LogRows). Over a
# subquery, so the planner reads the batch's range in its index: as min() and max() of the
# table it read the id index from an end until it met the range, which can be the whole table.
_ENTRY_IDS = """
    SELECT min(id), max(id) FROM (
        SELECT id FROM {table}
        WHERE {where}
          AND (xid, id) >= (%(first_xid)s, %(first_id)s)
          AND (xid, id) <= (%(last_xid)s, %(last_id)s)
          AND xid BETWEEN %(first_xid)s AND %(last_xid)s
        OFFSET 0
    ) AS entries
"""
# A table log's batch: its rows, as outbox.batches.batch_rows selects them, but those
# dead-lettered for the stream. The id range is redundant, and lets the planner join
# an app's rows on it.
_ENTRIES = """
        SELECT * FROM {table}
        WHERE {where}
          AND (xid, id) >= (%(first_xid)s, %(first_id)s)
          AND (xid, id) <= (%(last_xid)s, %(last_id)s)
          AND xid BETWEEN %(first_xid)s AND %(last_xid)s
          AND id BETWEEN %(entries_min_id)s AND %(entries_max_id)s
          AND id NOT IN (SELECT subject_id FROM dead)
"""
# Each entry's own row (the first source registered), a NULL key where it has none, then the
# rows of every other source, each source joined to the batch as a whole: a source whose rows
# are in another table (an event's alerts) is one join, which the planner makes a hash join of
# the batch and that table's rows in the batch's id range, not a lookup per entry (which cost
# the render as much as the entries' own rows, alerts or none; events/tests/
# test_analytics_render_lookups.py). An entry's rows so come apart: the digest sorts the rows
# (_in_order), ClickHouse needs no order.
# The stream's dead letters are read once (`dead`), and each branch hashes them (`NOT IN` a
# subquery); `NOT EXISTS` became an anti join that the planner, guessing a handful of dead
# letters, ran as a nested loop reading all of them again for every row (with none, an empty
# scan per row: a tenth of the render's PostgreSQL time). `IS NOT NULL` keeps NOT IN's meaning
# that of NOT EXISTS.
_LOG_RENDER = """
    WITH dead AS MATERIALIZED (
        SELECT d.subject_id FROM {dead} AS d
        WHERE d.consumer = %(stream)s AND d.dead_lettered_at IS NOT NULL
          AND d.subject_id IS NOT NULL
    )
    SELECT CASE WHEN r.event_type IS NOT NULL AND r.occurred_at IS NOT NULL
                     AND r.tenant_id IS NOT NULL AND r.context IS NOT NULL
                THEN r.key END,
           r.event_type,
           r.occurred_at AT TIME ZONE 'UTC',
           %(environment)s, r.context, %(version)s, r.tenant_id, r.user_id
    FROM ({rows}) AS r (key, event_type, occurred_at, tenant_id, user_id, context)
"""
_OWN_ROWS = "SELECT r.* FROM ({entries}) AS m LEFT JOIN LATERAL ({sql}) AS r ON true"
_MORE_ROWS = "SELECT r.* FROM ({entries}) AS m CROSS JOIN LATERAL ({sql}) AS r"
_NO_ROWS = (
    "SELECT NULL::text, NULL::text, NULL::timestamptz, NULL::text, NULL::bigint, NULL::text"
    " WHERE false"
)
