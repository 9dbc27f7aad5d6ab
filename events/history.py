"""The rule core's `History`, answered from the event store with indexed queries.

Every question is scoped to one user and bounded (a LIMIT or an aggregate), so the cost of
evaluating an event does not grow with the user's history.
"""

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from events.models import Event
from rules.conditions import (
    ORDERING_OPERATORS,
    Operator,
    PropertyMatch,
    WindowAggregate,
    as_decimal,
)
from rules.history import AggregateFunction, EventFilter, EventRecord
from rules.legacy import TEXT_OPERATORS, LegacyOperator, LegacyPropertyMatch

_AGGREGATES = {"count": Count, "sum": Sum, "min": Min, "max": Max}


class UnsupportedFilter(ValueError):
    """A rule asks the store a question it cannot answer with an indexed query."""


def event_record(event: Event, *, user_traits: dict[str, Any]) -> EventRecord:
    """Return the rule core's view of a stored event."""
    return EventRecord(
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        amount=event.amount,
        properties=event.properties,
        user_traits=user_traits,
        sequence=event.pk,
    )


class UserEventHistory:
    """One user's events as of an anchor event that is already stored.

    `scope` narrows them to one stream of events (the alert stream: `alerts.stream`). A
    question about several event types is asked once per type, each on the (user, type,
    time) index: an `IN` list of types can be a scan of the user's every event when the
    planner has no statistics to tell it otherwise.
    """

    def __init__(
        self, *, user_id: int, anchor: Event, user_traits: dict[str, Any], scope: Q = Q()
    ) -> None:
        self._user_id = user_id
        self._anchor = anchor
        self._user_traits = user_traits
        self._scope = scope

    def last(self, *, count: int, events: EventFilter) -> Sequence[EventRecord]:
        at = self._anchor.occurred_at
        # `occurred_at <= at` on its own as well: a condition the index scan can start from.
        not_after_anchor = Q(occurred_at__lte=at) & (
            Q(occurred_at__lt=at) | Q(id__lte=self._anchor.pk)
        )
        rows = [
            row
            for one_type in _per_type(events)
            for row in self._matching(one_type, not_after_anchor)
            .order_by("-occurred_at", "-id")
            .values_list("id", "event_type", "occurred_at", "amount", "properties")[:count]
        ]
        newest = sorted(rows, key=lambda row: (row[2], row[0]), reverse=True)[:count]
        return [
            EventRecord(
                sequence=pk,
                event_type=event_type,
                occurred_at=occurred_at,
                amount=amount,
                properties=properties,
                user_traits=self._user_traits,
            )
            for pk, event_type, occurred_at, amount, properties in newest
        ]

    def aggregate(
        self,
        *,
        function: AggregateFunction,
        path: str,
        events: EventFilter,
        start: datetime,
        end: datetime,
    ) -> Decimal | None:
        if function != "count" and path != "amount":
            raise UnsupportedFilter(f"{function} is only supported over amount")
        expression = _AGGREGATES[function]("id" if function == "count" else "amount")
        in_window = Q(occurred_at__range=(start, end))
        answers = (
            self._matching(one_type, in_window).aggregate(value=expression)["value"]
            for one_type in _per_type(events)
        )
        values = [Decimal(value) for value in answers if value is not None]
        if not values:
            return None
        return _COMBINED[function](values)

    def exists(self, *, events: EventFilter, start: datetime, end: datetime) -> bool:
        in_window = Q(occurred_at__range=(start, end)) & ~Q(id=self._anchor.pk)
        return any(self._matching(one_type, in_window).exists() for one_type in _per_type(events))

    def _matching(self, events: EventFilter, condition: Q) -> QuerySet[Event]:
        # One filter() call: each extra call clones the query, which is costly on the hot path.
        return Event.objects.filter(
            Q(user_id=self._user_id) & self._scope & event_filter_q(events) & condition
        )


# How the answers of each type's query make the answer over all of them.
_COMBINED = {"count": sum, "sum": sum, "min": min, "max": max}


def _per_type(events: EventFilter) -> list[EventFilter]:
    """Return `events` as one filter per event type (itself when it names at most one type, or
    every type)."""
    if events.event_types is None or len(events.event_types) <= 1:
        return [events]
    return [
        dataclasses.replace(events, event_types=frozenset({event_type}))
        for event_type in sorted(events.event_types)
    ]


@functools.lru_cache(maxsize=256)
def event_filter_q(events: EventFilter) -> Q:
    """Return the query filter for `events`; rule filters are few and immutable, so cache them."""
    condition = Q()
    if events.event_types is not None:
        condition &= Q(event_type__in=sorted(events.event_types))
    for match in events.where:
        condition &= where_filter(match)
    return condition


def check_answerable(condition: object) -> None:
    """Raise UnsupportedFilter when a history question in `condition` has no indexed query.

    Walks the condition's dataclass tree: every `where` filter must translate, and window
    aggregates other than count must be over `amount`.
    """
    if isinstance(condition, WindowAggregate) and condition.function != "count":
        if condition.path != "amount":
            raise UnsupportedFilter(f"{condition.function} is only supported over amount")
    if isinstance(condition, EventFilter):
        for match in condition.where:
            where_filter(match)
    for field in dataclasses.fields(condition):
        value = getattr(condition, field.name)
        for item in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(item):
                check_answerable(item)


def where_filter(match: PropertyMatch) -> Q:
    """Return `match` as an indexed query filter with the rule core's semantics.

    Supported: any operator on `amount` with numbers; eq, neq, in, nin and exists on
    `event_type` and on `properties.*` with string values. Anything else raises
    UnsupportedFilter, which rule loading reports, so a rule never fails at evaluation time.
    Notification rules in the existing format bring their own matches: see `_legacy_filter`.
    """
    if isinstance(match, LegacyPropertyMatch):
        return _legacy_filter(match)
    field = _column(match.path)
    # A JSON null counts as missing, as it does in the rule core.
    present = Q(**{f"{field}__isnull": False})
    if field.startswith("properties__"):
        present &= ~Q(**{field: None})
    if match.op is Operator.EXISTS:
        return present if match.value else ~present
    if match.op in ORDERING_OPERATORS:
        if field != "amount":
            raise UnsupportedFilter(f"{match.op.value} on {match.path!r}: only amount compares")
        # The operators are named as Django's lookups: gt, gte, lt, lte.
        return Q(**{f"{field}__{match.op.value}": match.value})
    values = list(match.value) if match.op in (Operator.IN, Operator.NIN) else [match.value]
    if field == "amount" and not all(as_decimal(value) is not None for value in values):
        raise UnsupportedFilter("amount can only be matched against numbers")
    if field != "amount" and not all(isinstance(value, str) for value in values):
        raise UnsupportedFilter(f"{match.path!r} can only be matched against strings")
    matched = Q(**{f"{field}__in": values})
    if match.op in (Operator.EQ, Operator.IN):
        return matched
    # neq / nin: an event without the value does not equal it (as in the rule core).
    return ~matched | ~present


def _legacy_filter(match: LegacyPropertyMatch) -> Q:
    """Return an existing-format match (EQ, IN, NIN: text, any case) as a query filter.

    Supported on `event_type` and `properties.*`. A JSON boolean is tested as a boolean, since
    SQLite reads `true` as the text "1"; its text is "true" or "false" as in the rule core.
    """
    if match.operator not in TEXT_OPERATORS:
        raise UnsupportedFilter(
            f"{match.operator} on {match.path!r}: only EQ, IN and NIN match other events"
        )
    field = _column(match.path)
    if field == "amount":
        raise UnsupportedFilter("amount is not matched as text (EQ, IN, NIN) in other events")
    texts = sorted(match.texts)
    boolean = Q(**{field: True}) | Q(**{field: False})
    matched = Q()
    for text in texts:
        same_text = Q(**{f"{field}__iexact": text})
        matched |= same_text if field == "event_type" else same_text & ~boolean
    for flag, text in ((True, "true"), (False, "false")):
        if field != "event_type" and text in texts:
            matched |= Q(**{field: flag})
    if match.operator is not LegacyOperator.NIN:
        return matched
    if field == "event_type":
        return ~matched
    # A missing or null value is in none of the texts, as in the rule core.
    present = Q(**{f"{field}__isnull": False}) & ~Q(**{field: None})
    return ~matched | ~present


def _column(path: str) -> str:
    if path in ("event_type", "amount"):
        return path
    if path.startswith("properties.") and path != "properties.":
        return "properties__" + path.removeprefix("properties.").replace(".", "__")
    raise UnsupportedFilter(f"{path!r} is not a stored event field")
