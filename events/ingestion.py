"""The ingestion service: every way in stores events through here.

Set-based: one `INSERT ... ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING` per chunk
stores the new events (on PostgreSQL a large batch is copied, and probed for its stored keys
only when the COPY meets one, events.event_rows), one query reads back the ones that already
existed to tell duplicates (same content) from conflicts (different content). The event table is the
consumers' log (events.log): storing an event writes no outbox row, and the consumers read it
on their tick.
Idempotency is the unique constraint, so concurrent identical requests store each event once.
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from events.contracts import EventFields, EventInput, StoredEvent, event_content
from events.event_rows import (
    COPY_MIN_EVENTS,
    event_rows_copy,
    event_rows_digests,
    event_rows_insert,
    event_rows_serialized,
    event_rows_stored,
    events_stored_keys,
)
from events.exceptions import EventConflict, TooManyEvents, UnknownUser
from events.validation import InvalidEvent, event_input_parse_serialized
from midnite_test.memory import collector_paused
from users.models import User


@dataclass(frozen=True, kw_only=True)
class IngestOutcome:
    """What happened to each input, by its index in the input.

    A new event maps to its pk, stored at `received_at`; a duplicate or a conflict to the pk
    of the event stored under its key.
    """

    stored: dict[int, int]
    received_at: datetime
    duplicates: dict[int, int]
    conflicts: dict[int, int]
    unknown_users: dict[int, int]


@transaction.atomic
def events_ingest(
    *,
    events: Sequence[EventFields],
    properties_json: Sequence[str] | None = None,
) -> IngestOutcome:
    """Store the new events among `events`, once each.

    For each input, in the outcome: stored (new), a duplicate (the same tenant and event id
    is stored with the same content), a conflict (stored with different content) or an unknown
    user. Within one call the first input with a given tenant and event id decides; a later
    one is its duplicate or its conflict. Writes the events in one transaction, the caller's
    when there is one (product events store users and traits with them); the consumers read
    them from the table once it commits (events.log).
    `properties_json`, when given, holds each event's properties serialized by
    `payload_serialize`, so they are not serialized again.
    """
    keys = [event.key for event in events]
    user_ids = {event.user_id for event in events}
    user_ids.discard(None)
    unknown = _users_unknown(user_ids)
    unknown_users = {}
    if unknown:
        unknown_users = {i: e.user_id for i, e in enumerate(events) if e.user_id in unknown}
    first = _first_inputs(keys, unknown_users)
    received_at = timezone.now()
    if len(first) == len(events):
        new, new_properties = events, properties_json
    else:
        new = [events[i] for i in first.values()]
        new_properties = (
            None if properties_json is None else [properties_json[i] for i in first.values()]
        )
    serialized = event_rows_serialized(new, new_properties)
    large = connection.vendor == "postgresql" and len(new) >= COPY_MIN_EVENTS
    copied = _copied_when_new(new, first, received_at, serialized) if large else None
    if copied is not None and len(copied) == len(events):
        # Every input copied (no repeated key, no unknown user): the common batch.
        return _stored_all(copied, received_at)
    stored_before = {}
    if copied is not None:
        inserted = dict(zip(first, copied))
    else:
        # A large batch that is not all new reads the pk and digest of its keys stored
        # already: those are not inserted, and a re-sent batch reads its rows once.
        stored_before = event_rows_digests(list(first)) if large else {}
        inserted = events_insert_new(
            events=new,
            received_at=received_at,
            serialized=serialized,
            stored=stored_before.keys(),
        )
    if len(inserted) + len(stored_before) < len(first):
        # Stored by another transaction meanwhile, or not probed.
        unsettled = [key for key in first if key not in inserted and key not in stored_before]
        stored_before |= event_rows_digests(unsettled)
    existing = {}
    if stored_before:
        # Stored before: the same digest is the same content; any other is read and compared.
        digest_of = dict(zip(first, serialized[1]))
        existing = event_rows_stored(
            [key for key, (_, digest) in stored_before.items() if digest != digest_of[key]]
        )
    if len(inserted) == len(events):
        return _stored_all(list(map(inserted.__getitem__, keys)), received_at)
    stored, duplicates, conflicts = {}, {}, {}
    for index, (event, key) in enumerate(zip(events, keys)):
        if index in unknown_users:
            continue
        if key in inserted and first[key] == index:
            stored[index] = inserted[key]
            continue
        # The stored content: the first input's when it was stored now or its digest matched.
        original = existing[key].event if key in existing else events[first[key]]
        pk = inserted[key] if key in inserted else stored_before[key][0]
        same = original is event or event_content(original) == event_content(event)
        (duplicates if same else conflicts)[index] = pk
    return IngestOutcome(
        stored=stored,
        received_at=received_at,
        duplicates=duplicates,
        conflicts=conflicts,
        unknown_users=unknown_users,
    )


def _stored_all(pks: list[int], received_at: datetime) -> IngestOutcome:
    """The outcome of inputs all stored now, `pks` in their order."""
    return IngestOutcome(
        stored=dict(enumerate(pks)),
        received_at=received_at,
        duplicates={},
        conflicts={},
        unknown_users={},
    )


def _copied_when_new(
    events: Sequence[EventFields],
    first: dict[tuple[str, str], int],
    received_at: datetime,
    serialized: tuple[list[str], list[bytes]],
) -> list[int] | None:
    """Copy a large PostgreSQL batch of new events without reading its keys first; return
    their pks in their order, or None, having written nothing, when one of its keys is stored.

    Most batches are new: reading 5,000 keys that are not there cost PostgreSQL 2 ms per
    1,000 events. A batch sent again is told by its first key, so it is not copied in vain.
    """
    if events_stored_keys(keys=[next(iter(first))]):
        return None
    properties_json, digests = serialized
    return event_rows_copy(
        events, received_at=received_at, properties_json=properties_json, digests=digests
    )


def _first_inputs(keys: list[tuple[str, str]], unknown_users: dict[int, int]) -> dict:
    """Return the index of the first input of each key, leaving out those of unknown users.

    In the inputs' order; most batches repeat no key and name no unknown user.
    """
    if not unknown_users:
        first = dict(zip(keys, range(len(keys))))
        if len(first) == len(keys):
            return first
    first = {}
    for index, key in enumerate(keys):
        if index not in unknown_users:
            first.setdefault(key, index)
    return first


def _users_unknown(ids: set[int]) -> set[int]:
    """Return which of the user ids `ids` name no user."""
    if not ids:
        return set()
    if connection.vendor == "postgresql":
        # The ids as one text (a product batch can name 5,000 users, too many placeholders;
        # psycopg dumps a list element by element in Python), and only the unknown ones back.
        with connection.cursor() as cursor:
            cursor.execute(_USERS_UNKNOWN, [",".join(map(str, ids))])
            return {user_id for (user_id,) in cursor.fetchall()}
    return ids - set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))


_USERS_UNKNOWN = f"""
    SELECT id FROM unnest(string_to_array(%s::text, ',')::bigint[]) AS named (id)
    WHERE NOT EXISTS (SELECT FROM {User._meta.db_table} AS users WHERE users.id = named.id)
"""


def events_insert_new(
    *,
    events: Sequence[EventFields],
    received_at: datetime,
    serialized: tuple[list[str], list[bytes]] | None = None,
    stored: Collection[tuple[str, str]] = (),
) -> dict[tuple[str, str], int]:
    """Insert the events not stored yet; return their pks by key.

    In the caller's transaction. Events whose (tenant_id, event_id) is stored already are left
    out of the answer.
    `serialized`: the events' event_rows_serialized, when the caller has it already.
    `stored`: the keys among them the caller found stored (event_rows_insert).
    """
    properties_json, digests = serialized or event_rows_serialized(events, None)
    return event_rows_insert(
        events,
        received_at=received_at,
        properties_json=properties_json,
        digests=digests,
        stored=stored,
    )


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
        return IngestedEvent(stored=event_rows_stored([event.key])[event.key], duplicate=True)
    stored = StoredEvent(pk=outcome.stored[0], event=event, received_at=outcome.received_at)
    return IngestedEvent(stored=stored, duplicate=False)


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
        _bulk_size_check(len(items))
        indexes: list[int] = []
        events: list[EventInput] = []
        properties_json: list[str] = []
        rejected = []
        for index, item in enumerate(items):
            try:
                event, properties = event_input_parse_serialized(item)
            except InvalidEvent as exc:
                rejected.append({"index": index, "errors": exc.errors})
                continue
            indexes.append(index)
            events.append(event)
            properties_json.append(properties)
        return _bulk_store(indexes, events, properties_json, rejected, tenant_check)


def events_bulk_store(
    *,
    events: Sequence[EventFields],
    properties_json: Sequence[str],
    tenant_check: Callable[[str], None],
) -> BulkOutcome:
    """events_bulk_ingest for items validated already: the events and their payloads as stored.

    For a body events.bulk_body decoded, every item of which is valid; the same outcome.
    """
    with collector_paused():
        _bulk_size_check(len(events))
        return _bulk_store(range(len(events)), events, properties_json, [], tenant_check)


def _bulk_size_check(size: int) -> None:
    if size > MAX_BULK_EVENTS:
        raise TooManyEvents(
            f"A bulk request holds at most {MAX_BULK_EVENTS:,} events; this one has "
            f"{size:,}. Split it; nothing was stored.",
            details={"max_events": MAX_BULK_EVENTS, "events": size},
        )


def _bulk_store(
    indexes: Sequence[int],
    events: Sequence[EventFields],
    properties_json: Sequence[str],
    rejected: list[dict[str, Any]],
    tenant_check: Callable[[str], None],
) -> BulkOutcome:
    """Store the valid items (each one's index in the body, event and payload as stored) and
    count what happened."""
    for tenant_id in sorted({event.tenant_id for event in events}):
        tenant_check(tenant_id)
    if not events:
        return BulkOutcome(
            accepted=0,
            duplicates=0,
            conflicts=[],
            rejected=sorted(rejected, key=lambda problem: problem["index"]),
        )
    outcome = events_ingest(events=events, properties_json=properties_json)
    for position, user_id in outcome.unknown_users.items():
        error = {"user_id": [f"User {user_id} does not exist."]}
        rejected.append({"index": indexes[position], "errors": error})
    return BulkOutcome(
        accepted=len(outcome.stored),
        duplicates=len(outcome.duplicates),
        conflicts=[
            {"index": indexes[position], "errors": {"event_id": [message]}}
            for position, message in conflict_messages(outcome, indexes).items()
        ],
        rejected=sorted(rejected, key=lambda problem: problem["index"]),
    )


def conflict_messages(outcome: IngestOutcome, indexes: Sequence[int]) -> dict[int, str]:
    """Say of each conflicting input (by position; `indexes` maps positions to the request's
    items) whether it differs from an event stored before or from an earlier item of the same
    request, stored now, which it names."""
    stored_by = {pk: position for position, pk in outcome.stored.items()}
    messages = {}
    for position, pk in outcome.conflicts.items():
        earlier = stored_by.get(pk)
        messages[position] = (
            _CONFLICT
            if earlier is None
            else f"Item {indexes[earlier]} of this request was stored with this event id and "
            "other content."
        )
    return messages


_CONFLICT = "This tenant already has an event with this id and other content."
