"""The ingestion service: every way in stores events through here.

Set-based: one `INSERT ... ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING` per chunk
stores the new events, one query reads back the ones that already existed to tell duplicates
(same content) from conflicts (different content), and the outbox messages of the new events
are written in the same transaction. Idempotency is the unique constraint, so concurrent
identical requests store each event once.
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from events.analytics import TOPIC_EVENT_STORED
from events.contracts import EventInput, StoredEvent
from events.exceptions import EventConflict, TooManyEvents, UnknownUser
from events.models import Event
from events.validation import InvalidEvent, event_input_parse_serialized, payload_serialize
from midnite_test.memory import collector_paused
from outbox.contracts import CONSUMERS
from outbox.services import outbox_publish_subjects
from users.models import User

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
)


@dataclass(frozen=True, kw_only=True)
class IngestOutcome:
    """What happened to each input, by its index in the input."""

    stored: dict[int, StoredEvent]
    duplicates: dict[int, StoredEvent]
    conflicts: dict[int, StoredEvent]
    unknown_users: dict[int, int]


@transaction.atomic
def events_ingest(
    *,
    events: Sequence[EventInput],
    properties_json: Sequence[str] | None = None,
    consumers: Sequence[str] = CONSUMERS,
) -> IngestOutcome:
    """Store the new events among `events`, once each, and publish them to the outbox.

    For each input, in the outcome: stored (new), a duplicate (the same tenant and event id
    is stored with the same content), a conflict (stored with different content) or an unknown
    user. Within one call the first input with a given tenant and event id decides; a later
    one is its duplicate or its conflict. Writes events and their `event_stored` messages to
    `consumers` in one transaction, the caller's when there is one (product events store
    users and traits with them). `properties_json`, when given, holds each event's properties
    serialized by `payload_serialize`, so they are not serialized again.
    """
    keys = [event.key for event in events]
    known_users = _users_existing({e.user_id for e in events if e.user_id is not None})
    unknown_users = {
        i: e.user_id
        for i, e in enumerate(events)
        if e.user_id is not None and e.user_id not in known_users
    }
    first: dict[tuple[str, str], int] = {}
    for index, key in enumerate(keys):
        if index not in unknown_users:
            first.setdefault(key, index)
    received_at = timezone.now()
    inserted = events_insert_new(
        events=[events[i] for i in first.values()],
        received_at=received_at,
        properties_json=(
            None if properties_json is None else [properties_json[i] for i in first.values()]
        ),
        consumers=consumers,
    )
    existing = _existing([key for key in first if key not in inserted])
    stored, duplicates, conflicts = {}, {}, {}
    for index, (event, key) in enumerate(zip(events, keys)):
        if index in unknown_users:
            continue
        if first[key] == index and key in inserted:
            stored[index] = StoredEvent(pk=inserted[key], event=event, received_at=received_at)
            continue
        original = stored.get(first[key]) or existing[key]
        (duplicates if original.event == event else conflicts)[index] = original
    return IngestOutcome(
        stored=stored, duplicates=duplicates, conflicts=conflicts, unknown_users=unknown_users
    )


def _users_existing(ids: set[int]) -> set[int]:
    if not ids:
        return set()
    if connection.vendor == "postgresql":
        # One array parameter: a product batch can name 5,000 users, too many placeholders.
        ids = RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])
    return set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))


def events_insert_new(
    *,
    events: Sequence[EventInput],
    received_at: datetime,
    properties_json: Sequence[str] | None = None,
    consumers: Sequence[str] = CONSUMERS,
) -> dict[tuple[str, str], int]:
    """Insert the events not stored yet and publish them; return their pks by key.

    The events' `event_stored` messages go to `consumers` in the caller's transaction.
    Events whose (tenant_id, event_id) is stored already are left out of the answer.
    `properties_json` as for events_ingest.
    """
    inserted = _insert(events, received_at=received_at, properties_json=properties_json)
    outbox_publish_subjects(
        topic=TOPIC_EVENT_STORED, subject_ids=list(inserted.values()), consumers=consumers
    )
    return inserted


def _insert(
    events: Sequence[EventInput],
    *,
    received_at: datetime,
    properties_json: Sequence[str] | None,
) -> dict[tuple[str, str], int]:
    if not events:
        return {}
    if connection.vendor == "postgresql":
        if properties_json is None:
            properties_json = [payload_serialize(e.properties) for e in events]
        return _insert_unnest(events, received_at=received_at, properties_json=properties_json)
    return _insert_values(events, received_at=received_at)


# PostgreSQL: one statement whatever the number of events, its columns sent as 9 arrays.
# The arrays go in binary (%b): psycopg then copies each string as it is, where the text
# format quotes and escapes every element in Python.
_INSERT_UNNEST = """
    INSERT INTO events_event
        (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, received_at)
    SELECT tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
           properties::jsonb, user_traits::jsonb, %s
    FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[],
                %b::timestamptz[], %b::numeric[], %b::text[], %b::text[])
        AS new (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
                user_traits)
    ON CONFLICT (tenant_id, event_id) DO NOTHING
    RETURNING id, tenant_id, event_id
"""


def _insert_unnest(
    events: Sequence[EventInput], *, received_at: datetime, properties_json: Sequence[str]
) -> dict[tuple[str, str], int]:
    columns = [
        [e.tenant_id for e in events],
        [e.event_id for e in events],
        [e.user_id for e in events],
        [e.event_type for e in events],
        [e.source for e in events],
        [e.occurred_at for e in events],
        [e.amount for e in events],
        list(properties_json),
        [payload_serialize(e.user_traits) if e.user_traits else "{}" for e in events],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_UNNEST, [received_at, *columns])
        return {(tenant, event_id): pk for pk, tenant, event_id in cursor.fetchall()}


def _insert_values(
    events: Sequence[EventInput], *, received_at: datetime
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
                for event in chunk
                for f, value in zip(fields, _values(event, received_at))
            ]
            cursor.execute(sql, params)
            inserted.update({(tenant, event_id): pk for pk, tenant, event_id in cursor.fetchall()})
    return inserted


def _values(event: EventInput, received_at: datetime) -> tuple:
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
    )


def events_stored_keys(*, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Return which of these (tenant_id, event_id) keys are stored; reads only the keys."""
    keys = list(keys)
    if not keys:
        return set()
    if connection.vendor != "postgresql":
        return set(_existing_in(keys, fields=("tenant_id", "event_id")))
    with connection.cursor() as cursor:
        cursor.execute(_STORED_KEYS_UNNEST, [[t for t, _ in keys], [e for _, e in keys]])
        return set(cursor.fetchall())


_STORED_KEYS_UNNEST = """
    SELECT tenant_id, event_id FROM events_event
    WHERE (tenant_id, event_id) IN (SELECT * FROM unnest(%b::text[], %b::text[]))
"""


def _existing(keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
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
    WHERE (tenant_id, event_id) IN (SELECT * FROM unnest(%b::text[], %b::text[]))
"""


def _existing_unnest(keys: list[tuple[str, str]]) -> list[tuple]:
    zone = connection.timezone_name
    with connection.cursor() as cursor:
        cursor.execute(_EXISTING_UNNEST, [zone, zone, [t for t, _ in keys], [e for _, e in keys]])
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


@dataclass(frozen=True, kw_only=True)
class IngestedEvent:
    stored: StoredEvent
    duplicate: bool


def event_ingest(*, event: EventInput) -> IngestedEvent:
    """Store one event (POST /events); the same event sent again is a duplicate.

    Raises UnknownUser for a user that does not exist and EventConflict when the tenant has
    this event id with different content.
    """
    outcome = events_ingest(events=[event])
    if outcome.unknown_users:
        raise UnknownUser(
            f"User {event.user_id} does not exist.", details={"user_id": event.user_id}
        )
    if outcome.conflicts:
        raise EventConflict(
            f"Tenant {event.tenant_id} already has event {event.event_id} with other content.",
            details={"tenant_id": event.tenant_id, "event_id": event.event_id},
        )
    if outcome.duplicates:
        return IngestedEvent(stored=outcome.duplicates[0], duplicate=True)
    return IngestedEvent(stored=outcome.stored[0], duplicate=False)


MAX_BULK_EVENTS = 5_000


@dataclass(frozen=True, kw_only=True)
class BulkOutcome:
    accepted: int
    duplicates: int
    conflicts: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


def events_bulk_ingest(*, items: Sequence[Any], tenant_check: Callable[[str], None]) -> BulkOutcome:
    """Judge each item on its own and store the valid new ones (POST /events/bulk).

    `tenant_check(tenant_id)` raises for a tenant the caller may not write; it is asked once
    per tenant before anything is stored, so a refused request stores nothing.
    Raises TooManyEvents (nothing stored) for more than MAX_BULK_EVENTS items.
    """
    with collector_paused():
        return _bulk_ingest(items, tenant_check)


def _bulk_ingest(items: Sequence[Any], tenant_check: Callable[[str], None]) -> BulkOutcome:
    if len(items) > MAX_BULK_EVENTS:
        raise TooManyEvents(
            f"A bulk request holds at most {MAX_BULK_EVENTS:,} events; this one has "
            f"{len(items):,}. Split it; nothing was stored.",
            details={"max_events": MAX_BULK_EVENTS, "events": len(items)},
        )
    valid: list[tuple[int, EventInput, str]] = []
    rejected = []
    for index, item in enumerate(items):
        try:
            valid.append((index, *event_input_parse_serialized(item)))
        except InvalidEvent as exc:
            rejected.append({"index": index, "errors": exc.errors})
    for tenant_id in sorted({event.tenant_id for _, event, _ in valid}):
        tenant_check(tenant_id)
    outcome = None
    if valid:
        outcome = events_ingest(
            events=[event for _, event, _ in valid],
            properties_json=[properties for _, _, properties in valid],
        )
    conflicts = []
    if outcome is not None:
        for position, user_id in outcome.unknown_users.items():
            error = {"user_id": [f"User {user_id} does not exist."]}
            rejected.append({"index": valid[position][0], "errors": error})
        conflicts = [
            {"index": valid[position][0], "errors": {"event_id": [_CONFLICT]}}
            for position in outcome.conflicts
        ]
    return BulkOutcome(
        accepted=len(outcome.stored) if outcome else 0,
        duplicates=len(outcome.duplicates) if outcome else 0,
        conflicts=conflicts,
        rejected=sorted(rejected, key=lambda problem: problem["index"]),
    )


_CONFLICT = "This tenant already has an event with this id and other content."
