"""Reads of the events app."""

import base64
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Concat

from events.contracts import StoredEvent, stored_event
from events.models import Event
from events.validation import time_in_range
from midnite_test.errors import InvalidQuery
from midnite_test.index_order import read_in_index_order


@dataclass(frozen=True, kw_only=True)
class EventFilters:
    tenant_ids: frozenset[str] | None = None
    source: str | None = None
    event_type: str | None = None
    user_id: int | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def events_filtered(*, filters: EventFilters) -> QuerySet[Event]:
    """Return the events matching `filters`, newest first, in a stable order (time, id).

    `occurred_from` is inclusive, `occurred_to` exclusive.
    """
    events = Event.objects.all()
    if filters.tenant_ids is not None and filters.user_id is not None:
        # One user's events are read on the user's index (event_user_time), their tenant checked
        # on each: as an index condition, a planner without statistics may take a tenant's
        # index instead and read every event of the tenant to find a few of the user's.
        tenant = Concat("tenant_id", Value(""), output_field=CharField())
        events = events.alias(tenant=tenant).filter(tenant__in=filters.tenant_ids)
    elif filters.tenant_ids is not None:
        events = events.filter(tenant_id__in=filters.tenant_ids)
    for name, value in (
        ("source", filters.source),
        ("event_type", filters.event_type),
        ("user_id", filters.user_id),
        ("occurred_at__gte", filters.occurred_from),
        ("occurred_at__lt", filters.occurred_to),
    ):
        if value is not None:
            events = events.filter(**{name: value})
    return events.order_by("-occurred_at", "-id")


def events_after_cursor(
    *, events: QuerySet[Event], cursor: tuple[datetime, int]
) -> QuerySet[Event]:
    """Return the events of `events` (newest first) that come after `cursor` (time, id)."""
    occurred_at, pk = cursor
    return events.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=pk))


@dataclass(frozen=True, kw_only=True)
class EventPage:
    events: list[StoredEvent]
    number: int = 1
    count: int | None = None
    has_next: bool = False
    # The numbered page before exists: page 1 always (empty when nothing matches), a later one
    # when it holds an event; past the end, no link to another page past the end.
    has_previous: bool = False
    next_cursor: str | None = None


def events_page(
    *, filters: EventFilters, page: int | None, page_size: int, cursor: str | None
) -> EventPage:
    """Return one page of the filtered events: numbered (`page`) or after a keyset `cursor`.

    A keyset page costs the same wherever it is and never skips or repeats an event when
    others arrive meanwhile. Raises InvalidQuery for a cursor this API did not make.
    """
    events = events_filtered(filters=filters)
    if page is not None:
        count = events.count()
        rows = events[(page - 1) * page_size : page * page_size]
        return EventPage(
            events=[stored_event(e) for e in rows],
            number=page,
            count=count,
            has_next=page * page_size < count,
            has_previous=page == 2 or (page > 2 and (page - 2) * page_size < count),
        )
    if cursor is not None:
        events = events_after_cursor(events=events, cursor=_cursor_decode(cursor))
    with read_in_index_order():
        rows = list(events[: page_size + 1])
    more, rows = len(rows) > page_size, rows[:page_size]
    return EventPage(
        events=[stored_event(e) for e in rows],
        next_cursor=_cursor_encode(rows[-1]) if more else None,
    )


def _cursor_encode(event: Event) -> str:
    text = f"{event.occurred_at.isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        occurred_at, pk = text.split("|")
        parsed = datetime.fromisoformat(occurred_at)
        if parsed.tzinfo is None:
            raise ValueError("no timezone")
        return time_in_range(parsed), int(pk)
    except ValueError:
        raise InvalidQuery(
            "The cursor is not one this API made; follow the `next` links.",
            details={"cursor": ["Invalid cursor."]},
        ) from None


def events_with_users(*, pks: Collection[int]) -> dict[int, Event]:
    """The events of `pks` that are stored, by primary key, each with its user (or None), in
    one query however many (the console names a page of dead letters' events with it)."""
    events = Event.objects.filter(pk__in=pks).select_related("user").order_by()
    return {event.pk: event for event in events}
