"""Builders of `EventRecord`s for the rule tests."""

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from rules.history import EventRecord


def at(t: int) -> datetime:
    """Return the UTC instant `t` seconds after the epoch."""
    return datetime.fromtimestamp(t, tz=timezone.utc)


def record(
    event_type: str = "deposit",
    *,
    t: int = 0,
    amount: str | None = None,
    sequence: int = 0,
    properties: Mapping[str, Any] | None = None,
    user_traits: Mapping[str, Any] | None = None,
) -> EventRecord:
    """Return an event of `event_type` at second `t`, with `amount` as a Decimal."""
    return EventRecord(
        event_type=event_type,
        occurred_at=at(t),
        amount=None if amount is None else Decimal(amount),
        properties=properties or {},
        user_traits=user_traits or {},
        sequence=sequence,
    )
