"""The history a batch of events is evaluated against, read in one query where the rules allow.

Deciding events one query at a time caps a worker at a few hundred events a second on round
trips alone. Most notification rules only look back a bounded time for events of known types
(proximity), so a batch's users' events of those types in [earliest event - lookback, latest
event] are read at once and each event is evaluated against them in memory, with the rule
core's reference semantics (`rules.memory.InMemoryHistory`). A rule that asks anything else
(the last N events, an aggregate) is answered by the store, one query per question.
"""

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection

from events.history import UserEventHistory, event_record
from events.models import Event
from rules.conditions import AllOf, AnyOf, Not, PropertyMatch, Proximity
from rules.history import EventRecord, History
from rules.legacy import LegacyPropertyMatch, LegacyProximity
from rules.memory import InMemoryHistory


@dataclass(frozen=True)
class Lookback:
    """The events a condition's history questions can reach: these types, this far back."""

    event_types: frozenset[str]
    seconds: int


NO_HISTORY = Lookback(frozenset(), 0)


def condition_lookback(condition: object) -> Lookback | None:
    """Return what `condition` looks back at, or None when it is not a bounded look back."""
    if isinstance(condition, (PropertyMatch, LegacyPropertyMatch)):
        return NO_HISTORY
    if isinstance(condition, LegacyProximity):
        return _lookback_of(condition.events.event_types, condition.seconds)
    if isinstance(condition, Proximity) and condition.window.after_seconds == 0:
        return _lookback_of(condition.events.event_types, condition.window.before_seconds)
    if isinstance(condition, (AllOf, AnyOf)):
        return _combined([condition_lookback(child) for child in condition.conditions])
    if isinstance(condition, Not):
        return condition_lookback(condition.condition)
    return None


def _lookback_of(event_types: frozenset[str] | None, seconds: int) -> Lookback | None:
    return None if event_types is None else Lookback(event_types, seconds)


def _combined(lookbacks: Sequence[Lookback | None]) -> Lookback | None:
    bounded = [lookback for lookback in lookbacks if lookback is not None]
    return lookback_union(bounded) if len(bounded) == len(lookbacks) else None


def lookback_union(lookbacks: Iterable[Lookback]) -> Lookback:
    """Return the look back that covers all of `lookbacks`."""
    lookbacks = list(lookbacks)
    return Lookback(
        frozenset().union(*(lookback.event_types for lookback in lookbacks)),
        max((lookback.seconds for lookback in lookbacks), default=0),
    )


class BatchEvent(NamedTuple):
    """A stored event as deciding reads it: the columns it uses, and no model instance (building
    thousands a batch was a tenth of deciding). Answers `event_record` as an Event does."""

    pk: int
    user_id: int
    event_type: str
    occurred_at: datetime
    amount: Decimal | None
    properties: dict[str, Any]
    user_traits: dict[str, Any]


# BatchEvent's columns in the event table.
_EVENT_COLUMNS = ("id", *BatchEvent._fields[1:])


def batch_events(event_ids: Sequence[int], event_types: Iterable[str]) -> list[BatchEvent]:
    """Return the events of `event_ids` with a user and one of `event_types`, as BatchEvents,
    in the order their users' events are decided: by user, time and id."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_BATCH_EVENTS, [list(event_ids), sorted(event_types)])
            return [
                BatchEvent(
                    pk, user_id, event_type, at, amount, json.loads(props), json.loads(traits)
                )
                for pk, user_id, event_type, at, amount, props, traits in cursor.fetchall()
            ]
    events = Event.objects.filter(
        id__in=event_ids, user__isnull=False, event_type__in=sorted(event_types)
    ).order_by("user_id", "occurred_at", "id")
    return [BatchEvent._make(row) for row in events.values_list(*BatchEvent._fields)]


# One probe of the primary key per id, whatever the planner knows: `id = ANY(%s)` on its own,
# once prepared, can be planned as a scan of the whole table testing each row against each id
# (0.13 s a batch of 1,500 on the benchmark's never-analyzed table). OFFSET 0 keeps the lateral
# subquery from being flattened into a join the planner could do the same with.
_BATCH_EVENTS = f"""
    SELECT event.* FROM unnest(%s::bigint[]) AS wanted (id)
    CROSS JOIN LATERAL (
        SELECT {", ".join(_EVENT_COLUMNS)} FROM events_event
        WHERE id = wanted.id AND user_id IS NOT NULL AND event_type = ANY(%s::text[])
        OFFSET 0
    ) AS event
    ORDER BY user_id, occurred_at, id
"""


# What a batch holds: its own events as BatchEvents, its history from the store as Events (the
# backtest's are Events too).
StoredEvent = Event | BatchEvent


class BatchHistories:
    """Histories for each event of a batch: preloaded for `lookback`, else the store's."""

    def __init__(
        self, events: Sequence[StoredEvent], lookback: Lookback, *, traits: Mapping[int, dict]
    ) -> None:
        """Preload for `events`; `traits` are the users' current traits, by user id, for events
        stored without a snapshot of their own."""
        self._records: dict[int, list[EventRecord]] = defaultdict(list)
        self._anchors: dict[int, EventRecord] = {}
        self._histories: dict[int, InMemoryHistory] = {}
        for event in _preloaded(events, lookback):
            user_traits = event.user_traits or traits.get(event.user_id, {})
            record = event_record(event, user_traits=user_traits)
            self._records[event.user_id].append(record)
            self._anchors[event.pk] = record

    def record(self, event: StoredEvent) -> EventRecord:
        """Return the rule core's view of `event`, as its conditions see it."""
        return self._anchors[event.pk]

    def preloaded(self, event: StoredEvent) -> History:
        """Return `event`'s history from the preloaded events (bounded look backs only); built
        once per event, whatever the number of its rules (it sorts and checks its events)."""
        history = self._histories.get(event.pk)
        if history is None:
            history = self._histories[event.pk] = InMemoryHistory(
                events=self._records[event.user_id], anchor=self._anchors[event.pk]
            )
        return history

    def store(self, event: StoredEvent, *, user_traits: dict) -> History:
        """Return `event`'s history answered by the event store."""
        return UserEventHistory(user_id=event.user_id, anchor=event, user_traits=user_traits)


def _preloaded(events: Sequence[StoredEvent], lookback: Lookback) -> Iterable[StoredEvent]:
    """Return `events` and their users' events that `lookback` reaches, each once."""
    by_pk = {event.pk: event for event in events}
    if lookback.event_types and events:
        start = min(event.occurred_at for event in events) - timedelta(seconds=lookback.seconds)
        end = max(event.occurred_at for event in events)
        users = sorted({event.user_id for event in events})
        for event in _in_window(users, sorted(lookback.event_types), start, end):
            by_pk.setdefault(event.pk, event)
    return by_pk.values()


# One range per (user, type) pair on event_user_type_time, whatever the planner knows: with IN
# lists of users and types (or two lists crossed) instead, a never-analyzed table can be read
# through the (user, time) index, every event of the users in the window, of any type.
_IN_WINDOW_PER_USER_AND_TYPE = """
    SELECT event.* FROM unnest(%s::bigint[], %s::text[]) AS wanted (user_id, event_type)
    CROSS JOIN LATERAL (
        SELECT * FROM events_event
        WHERE user_id = wanted.user_id AND event_type = wanted.event_type
            AND occurred_at BETWEEN %s AND %s
    ) AS event
"""


def _in_window(
    users: list[int], event_types: list[str], start: datetime, end: datetime
) -> Iterable[Event]:
    if connection.vendor == "postgresql":
        pairs = [(user, event_type) for user in users for event_type in event_types]
        return Event.objects.raw(
            _IN_WINDOW_PER_USER_AND_TYPE,
            [[user for user, _ in pairs], [event_type for _, event_type in pairs], start, end],
        )
    return Event.objects.filter(
        user_id__in=users, event_type__in=event_types, occurred_at__range=(start, end)
    )
