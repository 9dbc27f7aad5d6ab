"""What the rule core evaluates against: one event and a narrow view of its user's history.

The core never receives a user's whole history. It asks `History` three bounded questions, which
the `events` app answers with indexed queries and tests answer from a list in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

AggregateFunction = Literal["count", "sum", "min", "max"]


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    """One stored event as the rule core sees it.

    `occurred_at` is timezone-aware UTC. `sequence` orders events that share an `occurred_at`
    (the store's primary key); larger means later.
    """

    event_type: str
    occurred_at: datetime
    amount: Decimal | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)
    user_traits: Mapping[str, Any] = field(default_factory=dict)
    sequence: int = 0


class RecordMatch(Protocol):
    """A test of one stored event on its own, such as `rules.conditions.PropertyMatch`."""

    def matches(self, record: EventRecord) -> bool:
        """Return whether `record` passes the test."""
        ...


@dataclass(frozen=True, kw_only=True)
class EventFilter:
    """Which events a history question is about.

    `event_types` of None means every type. `where` holds property matches (see
    `rules.conditions.PropertyMatch` and `rules.legacy.LegacyPropertyMatch`) that every returned
    event satisfies; they are plain comparisons so that a store can turn them into indexed query
    filters.
    """

    event_types: frozenset[str] | None = None
    where: Sequence[RecordMatch] = ()


class History(Protocol):
    """A user's events as of one anchor event (the event being evaluated, already stored).

    Methods that child classes must implement:
    """

    def last(self, *, count: int, events: EventFilter) -> Sequence[EventRecord]:
        """Return up to `count` matching events at or before the anchor, newest first.

        The anchor itself is included when it matches.
        """
        ...

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
        others skip events whose value at `path` is missing or not a number (an int, float or
        Decimal, never a bool or a string; see `rules.conditions.as_decimal`) and return None
        when none has one.
        """
        ...

    def exists(self, *, events: EventFilter, start: datetime, end: datetime) -> bool:
        """Return whether a matching event other than the anchor has start <= occurred_at <= end."""
        ...
