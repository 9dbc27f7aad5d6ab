"""`History` answered from events held in memory: the reference for every other store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from rules.conditions import as_decimal, resolve_path
from rules.history import AggregateFunction, EventFilter, EventRecord

_REDUCERS: Mapping[str, Callable[[list[Decimal]], Decimal]] = {
    "sum": lambda values: sum(values, Decimal(0)),
    "min": min,
    "max": max,
}


def _order_key(record: EventRecord) -> tuple[datetime, int]:
    """Return the key that orders events oldest first: (occurred_at, sequence)."""
    return record.occurred_at, record.sequence


def _filter_matches(record: EventRecord, events: EventFilter) -> bool:
    """Return whether `record` has one of the filter's types and satisfies all its matches."""
    if events.event_types is not None and record.event_type not in events.event_types:
        return False
    return all(match.matches(record) for match in events.where)


class InMemoryHistory:
    """A user's events as of `anchor`, answered by scanning a list.

    `events` are one user's stored events, the anchor among them. They are ordered by
    (occurred_at, sequence), which must be unique as a store's primary key is.
    """

    def __init__(self, *, events: Sequence[EventRecord], anchor: EventRecord) -> None:
        """Hold `events` in order; raise ValueError unless they are valid (see the class)."""
        ordered = sorted(events, key=_order_key)
        if len({_order_key(record) for record in ordered}) != len(ordered):
            raise ValueError("two events share (occurred_at, sequence)")
        if anchor not in ordered:
            raise ValueError("the anchor is not one of the events")
        self._events = tuple(ordered)
        self._anchor_key = _order_key(anchor)

    def last(self, *, count: int, events: EventFilter) -> Sequence[EventRecord]:
        """Return up to `count` matching events at or before the anchor, newest first.

        The anchor itself is included when it matches. Raise ValueError when count < 1.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        found: list[EventRecord] = []
        for record in reversed(self._events):
            if len(found) == count:
                break
            if _order_key(record) <= self._anchor_key and _filter_matches(record, events):
                found.append(record)
        return tuple(found)

    def aggregate(
        self,
        *,
        function: AggregateFunction,
        path: str,
        events: EventFilter,
        start: datetime,
        end: datetime,
    ) -> Decimal | None:
        """Return `function` of `path` over matching events with start <= occurred_at <= end.

        `count` returns the number of matching events (ignoring `path`) and never None; the
        others skip events whose value at `path` is missing or not a number (see
        `rules.conditions.as_decimal`) and return None when none has one.
        """
        matching = list(self._between(events=events, start=start, end=end))
        if function == "count":
            return Decimal(len(matching))
        values = [as_decimal(resolve_path(record, path)[1]) for record in matching]
        numbers = [value for value in values if value is not None]
        return _REDUCERS[function](numbers) if numbers else None

    def exists(self, *, events: EventFilter, start: datetime, end: datetime) -> bool:
        """Return whether a matching event other than the anchor has start <= occurred_at <= end."""
        return any(
            _order_key(record) != self._anchor_key
            for record in self._between(events=events, start=start, end=end)
        )

    def _between(
        self, *, events: EventFilter, start: datetime, end: datetime
    ) -> Iterable[EventRecord]:
        """Yield the matching events with start <= occurred_at <= end, oldest first."""
        for record in self._events:
            if start <= record.occurred_at <= end and _filter_matches(record, events):
                yield record


class AppendedHistory:
    """A user's events as they arrive, oldest first, the newest one the anchor.

    For a replay of stored history in (occurred_at, sequence) order: `append` each event before
    asking about it, so each is judged on the history as it stood when it was the newest.
    Answers what `InMemoryHistory` answers for the same events with the newest as the anchor,
    without sorting or copying: `last` scans back from the newest and stops at `count`,
    `aggregate` and `exists` stop at the window's start. The caller appends in order.
    """

    def __init__(self) -> None:
        self._events: list[EventRecord] = []

    def append(self, record: EventRecord) -> None:
        """Make `record`, which is not older than any held event, the anchor."""
        self._events.append(record)

    def clear(self) -> None:
        """Forget every event (the next user's history begins)."""
        self._events.clear()

    def last(self, *, count: int, events: EventFilter) -> Sequence[EventRecord]:
        """Return up to `count` matching events up to and including the anchor, newest first.

        Raise ValueError when count < 1.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        found: list[EventRecord] = []
        # _filter_matches inlined: this runs for every event of a replay.
        types, where = events.event_types, events.where
        for record in reversed(self._events):
            if types is not None and record.event_type not in types:
                continue
            if where and not all(match.matches(record) for match in where):
                continue
            found.append(record)
            if len(found) == count:
                break
        return tuple(found)

    def aggregate(
        self,
        *,
        function: AggregateFunction,
        path: str,
        events: EventFilter,
        start: datetime,
        end: datetime,
    ) -> Decimal | None:
        """Return `function` of `path` over matching events with start <= occurred_at <= end.

        As `InMemoryHistory.aggregate`.
        """
        matching = []
        for record in reversed(self._events):
            if record.occurred_at < start:
                break
            if record.occurred_at <= end and _filter_matches(record, events):
                matching.append(record)
        if function == "count":
            return Decimal(len(matching))
        values = [_number(record, path) for record in matching]
        numbers = [value for value in values if value is not None]
        return _REDUCERS[function](numbers) if numbers else None

    def exists(self, *, events: EventFilter, start: datetime, end: datetime) -> bool:
        """Return whether a matching event other than the anchor has start <= occurred_at <= end."""
        anchor = self._events[-1] if self._events else None
        return any(
            record is not anchor and _filter_matches(record, events)
            for record in self._window(start, end)
        )

    def _window(self, start: datetime, end: datetime) -> Iterable[EventRecord]:
        """Yield the events with start <= occurred_at <= end, newest first."""
        for record in reversed(self._events):
            if record.occurred_at < start:
                return
            if record.occurred_at <= end:
                yield record


def _number(record: EventRecord, path: str) -> Decimal | None:
    """Return `as_decimal` of the value at `path`: a finite Decimal amount as it is."""
    if path == "amount":
        amount = record.amount
        if type(amount) is Decimal and amount.is_finite():
            return amount
    return as_decimal(resolve_path(record, path)[1])
