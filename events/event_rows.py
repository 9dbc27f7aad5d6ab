"""The event table's set-based statements: insert the new rows, read back the stored ones.

On PostgreSQL each is one statement over arrays (`unnest`), whatever the number of events, or
for a large batch of new events one binary COPY; elsewhere (SQLite) multi-row VALUES and IN
lists in chunks.
"""

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import psycopg
from django.db import IntegrityError, connection, transaction
from psycopg.adapt import PyFormat

from events.contracts import EventFields, EventInput, StoredEvent
from events.models import Event
from events.validation import payload_serialize
from midnite_test.sequences import next_id_sql

# Rows per INSERT: 10 parameters a row stays under SQLite's and PostgreSQL's parameter limits.
INSERT_CHUNK = 1_000
_COLUMNS = (
    "tenant_id",
    "event_id",
    "user_id",
    "event_type",
    "source",
    "occurred_at",
    "amount",
    "properties",
    "user_traits",
    "received_at",
    "content_digest",
)


def content_digest(event: EventFields, properties_json: str) -> bytes:
    """Return the digest of what makes an event a duplicate: its fields but the user's traits.

    `properties_json` is its properties as payload_serialize writes them. The same digest means
    the same content (EventInput's equality); the same content written otherwise (its
    properties' keys in another order, say) can have another digest. Unambiguous: no field
    holds the separator, a control character (events.validation).
    """
    # The instant as days, seconds and microseconds since the epoch: 10:30Z and 11:30+01:00
    # are the same time, and formatting these costs a fifth of isoformat().
    since = event.occurred_at - _EPOCH
    content = (
        f"{event.tenant_id}\x1f{event.event_id}\x1f{event.source}\x1f{event.event_type}\x1f"
        f"{since.days}.{since.seconds}.{since.microseconds}\x1f{event.user_id}\x1f"
        f"{event.amount}\x1f{properties_json}"
    )
    digest = _BLAKE2B_16.copy()
    digest.update(content.encode())
    return digest.digest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Copied for each digest: cheaper than blake2b(..., digest_size=16), which parses its keywords.
_BLAKE2B_16 = hashlib.blake2b(digest_size=16)


def event_rows_serialized(
    events: Sequence[EventFields], properties_json: Sequence[str] | None
) -> tuple[list[str], list[bytes]]:
    """Return each event's properties as stored and its content_digest.

    `properties_json`, when given, holds the properties serialized by payload_serialize
    already (validation does, to measure them), so they are not serialized again.
    """
    if properties_json is None:
        properties_json = [payload_serialize(e.properties) for e in events]
    digests = [content_digest(e, p) for e, p in zip(events, properties_json)]
    return list(properties_json), digests


def event_rows_insert(
    events: Sequence[EventFields],
    *,
    received_at: datetime,
    properties_json: Sequence[str],
    digests: Sequence[bytes],
    stored: Collection[tuple[str, str]] = (),
) -> dict[tuple[str, str], int]:
    """Insert the events not stored yet, each with its content_digest; return their pks by key.

    `properties_json` and `digests` are event_rows_serialized's. `stored`: keys among the
    events that the caller's probe found stored (events.ingestion, on PostgreSQL), not
    inserted; a stored key it did not name makes the COPY fail, and the batch is inserted
    with ON CONFLICT instead.
    """
    if not events:
        return {}
    if connection.vendor != "postgresql":
        return _insert_values(events, received_at=received_at, digests=digests)
    if stored:
        if len(stored) == len(events):
            # `stored` holds keys of these events: as many as the events, all are stored (a
            # re-sent batch).
            return {}
        kept = [i for i, event in enumerate(events) if event.key not in stored]
        events, properties_json, digests = (
            [values[i] for i in kept] for values in (events, properties_json, digests)
        )
    if len(events) >= COPY_MIN_EVENTS:
        pks = event_rows_copy(
            events, received_at=received_at, properties_json=properties_json, digests=digests
        )
        if pks is not None:
            return dict(zip([event.key for event in events], pks))
    if not events:
        return {}
    return _insert_unnest(
        events, received_at=received_at, properties_json=properties_json, digests=digests
    )


# A batch of at least this many events is written with COPY (event_rows_copy): below it, its
# four extra round trips cost more than the insert's per-row work saves.
COPY_MIN_EVENTS = 100
_COPY = """
    COPY events_event
        (tenant_id, event_id, id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, content_digest, received_at)
    FROM STDIN (FORMAT BINARY)
"""
# jsonb's binary format is a version byte and the text: written as bytea, the JSON text
# goes through psycopg's C dumper as it is, where jsonb's would serialize it again.
_COPY_TYPES = (
    "text",
    "text",
    "int8",
    "int8",
    "text",
    "text",
    "timestamptz",
    "numeric",
    "bytea",
    "bytea",
    "bytea",
    "timestamptz",
)
_JSONB_VERSION = b"\x01"
_JSONB_EMPTY = _JSONB_VERSION + b"{}"
_NEXT_ID = next_id_sql("events_event")
# One array of ids, not a row each: 5,000 rows cost the web worker 1.1-1.4 ms of CPU, the array
# 0.7-0.8.
_IDS = f"SELECT array_agg({_NEXT_ID} ORDER BY n) FROM generate_series(1, %s) AS n"
# psycopg's dumper of bytes, in C. The one COPY's set_types finds for bytea is psycopg.dbapi20's,
# a Python subclass of it (for its Binary wrapper) called for every value.
_BYTES_DUMPER = psycopg.adapters.get_dumper(bytes, PyFormat.BINARY)


def event_rows_copy(
    events: Sequence[EventFields],
    *,
    received_at: datetime,
    properties_json: Sequence[str],
    digests: Sequence[bytes],
) -> list[int] | None:
    """Write events presumed new with one binary COPY (PostgreSQL); return their pks, in the
    events' order.

    COPY costs PostgreSQL less per row than INSERT ... ON CONFLICT (no speculative insertion,
    no unnest, no RETURNING). Returns None, having written nothing, when one of the keys is
    stored, before or by another transaction meanwhile (the unique violation rolls back the
    savepoint): the caller then reads which are (events.ingestion), or INSERT ... ON CONFLICT
    decides, so idempotency stays the unique constraint. The pks come from the table's
    sequence first, as the insert's would.
    """
    with connection.cursor() as cursor:
        cursor.execute(_IDS, [len(events)])
        [ids] = cursor.fetchone()
        rows = [
            (
                e.tenant_id,
                e.event_id,
                pk,
                e.user_id,
                e.event_type,
                e.source,
                e.occurred_at,
                e.amount,
                _JSONB_VERSION + properties.encode(),
                (
                    _JSONB_VERSION + payload_serialize(e.user_traits).encode()
                    if e.user_traits
                    else _JSONB_EMPTY
                ),
                digest,
                received_at,
            )
            for pk, e, properties, digest in zip(ids, events, properties_json, digests)
        ]
        _in_key_order(rows)
        cursor.adapters.register_dumper(bytes, _BYTES_DUMPER)
        try:
            with transaction.atomic(), connection.wrap_database_errors:
                with cursor.copy(_COPY) as copy:
                    copy.set_types(_COPY_TYPES)
                    write = copy.write_row
                    for row in rows:
                        write(row)
        except IntegrityError:
            return None
    return ids


def _in_key_order(rows: list[tuple]) -> None:
    """Sort rows that start with their key and pk in key order, as PostgreSQL's "C" collation
    sorts the keys.

    Rows are written in key order, so two batches that share keys take their locks in the
    same order and one waits for the other, where each holding a key the other needs next
    would deadlock. The pks are drawn in the batch's own order first, so the event log still
    reads a batch in the order it was sent. Python compares strings by code point, as "C"
    compares their UTF-8 bytes. The sort key is each key as one text, its parts joined by NUL,
    which sorts before any character an identifier may hold (no validated identifier holds a
    control character, events.validation): the order of the (tenant_id, event_id) pairs, which
    Python's sort compares as strings at once, where pairs of one tenant compare in two steps.
    """
    rows.sort(key=_sort_key)


def _sort_key(row: tuple) -> str:
    return f"{row[0]}\x00{row[1]}"


# PostgreSQL: one statement whatever the number of events, its columns sent as 10 arrays.
# The pks are drawn in the batch's order and the rows inserted in key order (_in_key_order).
# The arrays go in binary (%b): psycopg then copies each string as it is, where the text
# format quotes and escapes every element in Python.
_INSERT_UNNEST = f"""
    INSERT INTO events_event
        (id, tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, received_at, content_digest)
    SELECT id, tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
           properties::jsonb, user_traits::jsonb, %s, content_digest
    FROM (
        SELECT {_NEXT_ID} AS id, new.*
        FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[],
                    %b::timestamptz[], %b::numeric[], %b::text[], %b::text[], %b::bytea[])
            AS new (tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
                    properties, user_traits, content_digest)
    ) AS numbered
    ORDER BY tenant_id COLLATE "C", event_id COLLATE "C"
    ON CONFLICT (tenant_id, event_id) DO NOTHING
    RETURNING id, tenant_id, event_id
"""


def _insert_unnest(
    events: Sequence[EventFields],
    *,
    received_at: datetime,
    properties_json: Sequence[str],
    digests: Sequence[bytes],
) -> dict[tuple[str, str], int]:
    columns = [
        [e.tenant_id for e in events],
        [e.event_id for e in events],
        [e.user_id for e in events],
        [e.event_type for e in events],
        [e.source for e in events],
        [e.occurred_at for e in events],
        [e.amount for e in events],
        properties_json,
        [payload_serialize(e.user_traits) if e.user_traits else "{}" for e in events],
        digests,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_UNNEST, [received_at, *columns])
        return {(tenant, event_id): pk for pk, tenant, event_id in cursor.fetchall()}


def _insert_values(
    events: Sequence[EventFields], *, received_at: datetime, digests: Sequence[bytes]
) -> dict[tuple[str, str], int]:
    """Any other database (SQLite): multi-row VALUES, INSERT_CHUNK rows a statement."""
    fields = [Event._meta.get_field(name) for name in _COLUMNS]
    table = connection.ops.quote_name(Event._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    inserted = {}
    with connection.cursor() as cursor:
        for start in range(0, len(events), INSERT_CHUNK):
            chunk = events[start : start + INSERT_CHUNK]
            row = f"({', '.join(['%s'] * len(fields))})"
            sql = (
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING id, tenant_id, event_id"
            )
            params = [
                f.get_db_prep_save(value, connection)
                for event, digest in zip(chunk, digests[start : start + INSERT_CHUNK])
                for f, value in zip(fields, _values(event, received_at, digest))
            ]
            cursor.execute(sql, params)
            inserted.update({(tenant, event_id): pk for pk, tenant, event_id in cursor.fetchall()})
    return inserted


def _values(event: EventFields, received_at: datetime, digest: bytes) -> tuple:
    return (
        event.tenant_id,
        event.event_id,
        event.user_id,
        event.event_type,
        event.source,
        event.occurred_at,
        event.amount,
        event.properties,
        event.user_traits,
        received_at,
        digest,
    )


def events_stored_keys(*, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Return which of these (tenant_id, event_id) keys are stored; reads only the keys."""
    return set(_keyed_rows(list(keys), ("tenant_id", "event_id")))


def event_rows_digests(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, bytes]]:
    """Return the pk and content_digest (None when it has none) of each stored key's event."""
    rows = _keyed_rows(keys, ("tenant_id", "event_id", "id", "content_digest"))
    return {
        (tenant_id, event_id): (pk, None if digest is None else bytes(digest))
        for tenant_id, event_id, pk, digest in rows
    }


def _keyed_rows(keys: list[tuple[str, str]], columns: tuple[str, ...]) -> list[tuple]:
    """Return `columns` of the stored events with these keys, a few columns with no decoding."""
    if not keys:
        return []
    if connection.vendor != "postgresql":
        return _existing_in(keys, fields=columns)
    unnested, parameters = _keys_unnested(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            _KEYED_ROWS_UNNEST.format(columns=", ".join(columns), keys=unnested), parameters
        )
        return cursor.fetchall()


_KEYED_ROWS_UNNEST = """
    SELECT {columns} FROM events_event
    WHERE (tenant_id, event_id) IN (SELECT * FROM {keys})
"""
# Joins a key column: no validated identifier holds a control character (events.validation).
_KEY_SEPARATOR = "\x1f"


def _keys_unnested(keys: list[tuple[str, str]]) -> tuple[str, list]:
    """Return the SQL of a set of (tenant_id, event_id) rows of `keys`, and its parameters.

    Each column is sent as one text joined by _KEY_SEPARATOR, which PostgreSQL splits: psycopg
    dumps an array of 5,000 str element by element in Python, a text at once. Keys that hold
    the separator, or a single key with an empty part, go as arrays.
    """
    tenants = _KEY_SEPARATOR.join([tenant_id for tenant_id, _ in keys])
    event_ids = _KEY_SEPARATOR.join([event_id for _, event_id in keys])
    separators = len(keys) - 1
    if (
        tenants
        and event_ids
        and tenants.count(_KEY_SEPARATOR) == separators
        and event_ids.count(_KEY_SEPARATOR) == separators
    ):
        return _KEYS_JOINED, [tenants, event_ids]
    return _KEYS_ARRAYS, [[t for t, _ in keys], [e for _, e in keys]]


_KEYS_JOINED = "unnest(string_to_array(%s::text, chr(31)), string_to_array(%s::text, chr(31)))"
_KEYS_ARRAYS = "unnest(%b::text[], %b::text[])"


def event_rows_stored(keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
    """Return the stored events with these (tenant_id, event_id) keys.

    Reads value tuples, not model instances: a re-sent batch reads back every one of its rows.
    """
    if not keys:
        return {}
    rows = _existing_unnest(keys) if connection.vendor == "postgresql" else _existing_in(keys)
    found: dict[tuple[str, str], StoredEvent] = {}
    for pk, tenant_id, event_id, source, event_type, occurred_at, *rest in rows:
        properties, user_id, amount, user_traits, received_at = rest
        event = EventInput(
            tenant_id=tenant_id,
            event_id=event_id,
            source=source,
            event_type=event_type,
            occurred_at=occurred_at,
            properties=properties,
            user_id=user_id,
            amount=amount,
            user_traits=user_traits,
        )
        found[(tenant_id, event_id)] = StoredEvent(pk=pk, event=event, received_at=received_at)
    return found


_STORED_FIELDS = (
    "pk",
    "tenant_id",
    "event_id",
    "source",
    "event_type",
    "occurred_at",
    "properties",
    "user_id",
    "amount",
    "user_traits",
    "received_at",
)

# PostgreSQL: one statement whatever the number of keys, probing the unique index per key.
# The times come as the session time zone's wall clock, which psycopg reads in C, and get
# the connection's tzinfo here: the value Django's own (Python) timestamptz loader returns.
_EXISTING_UNNEST = """
    SELECT id, tenant_id, event_id, source, event_type, occurred_at AT TIME ZONE %s,
           properties, user_id, amount, user_traits, received_at AT TIME ZONE %s
    FROM events_event
    WHERE (tenant_id, event_id) IN (SELECT * FROM {keys})
"""


def _existing_unnest(keys: list[tuple[str, str]]) -> list[tuple]:
    zone = connection.timezone_name
    unnested, parameters = _keys_unnested(keys)
    with connection.cursor() as cursor:
        cursor.execute(_EXISTING_UNNEST.format(keys=unnested), [zone, zone, *parameters])
        rows = cursor.fetchall()
    tzinfo = connection.timezone
    # The JSON columns arrive as text, as the ORM's JSONField gets them before decoding them.
    decode = Event._meta.get_field("properties").from_db_value
    return [
        (
            *row[:5],
            row[5].replace(tzinfo=tzinfo),
            decode(row[6], None, connection),
            row[7],
            row[8],
            decode(row[9], None, connection),
            row[10].replace(tzinfo=tzinfo),
        )
        for row in rows
    ]


def _existing_in(
    keys: list[tuple[str, str]], fields: Sequence[str] = _STORED_FIELDS
) -> list[tuple]:
    """Any other database (SQLite): one IN query per tenant and INSERT_CHUNK ids."""
    rows: list[tuple] = []
    for tenant_id in {tenant for tenant, _ in keys}:
        ids = [event_id for tenant, event_id in keys if tenant == tenant_id]
        for start in range(0, len(ids), INSERT_CHUNK):
            rows += Event.objects.filter(
                tenant_id=tenant_id, event_id__in=ids[start : start + INSERT_CHUNK]
            ).values_list(*fields)
    return rows
