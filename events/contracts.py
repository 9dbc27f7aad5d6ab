"""Data that crosses module and app boundaries of the events app."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from events.models import Event


@dataclass(frozen=True, kw_only=True)
class EventInput:
    """One validated event to store."""

    tenant_id: str
    event_id: str
    source: str
    event_type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    user_id: int | None = None
    amount: Decimal | None = None
    # The user's traits as merged when a product event was stored (events.product.services).
    # Not part of the event's content: a re-sent event is compared without them.
    user_traits: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant_id, self.event_id)


class EventFields(Protocol):
    """What storing an event reads of it (events.ingestion, events.event_rows).

    An EventInput, or an item of a bulk body decoded by events.bulk_body, which holds its
    stored values itself: a body of 5,000 events need not build a second object per event.
    Two of them are the same event when their event_content is the same.
    """

    tenant_id: str
    event_id: str
    source: str
    event_type: str
    occurred_at: datetime
    properties: dict[str, Any]
    user_id: int | None
    amount: Decimal | None
    user_traits: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]: ...


def event_content(event: EventFields) -> tuple:
    """Return what EventInput's equality compares: every field but the user's traits."""
    return (
        event.tenant_id,
        event.event_id,
        event.source,
        event.event_type,
        event.occurred_at,
        event.properties,
        event.user_id,
        event.amount,
    )


@dataclass(frozen=True, kw_only=True)
class ProductEvent:
    """One validated item of a product event batch (POST /api/v1/events).

    `user_id` is the user's external id (`User.external_id`); `event_id` is the client's, or
    one derived from the item's content.
    """

    event_id: str
    user_id: str
    event_type: str
    occurred_at: datetime
    properties: dict[str, Any]
    properties_json: str
    user_traits: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class StoredEvent:
    pk: int
    event: EventInput
    received_at: datetime


def stored_event(event: Event) -> StoredEvent:
    """Return a stored Event as the service layer hands it around."""
    return StoredEvent(
        pk=event.pk,
        event=EventInput(
            tenant_id=event.tenant_id,
            event_id=event.event_id,
            source=event.source,
            event_type=event.event_type,
            occurred_at=event.occurred_at,
            properties=event.properties,
            user_id=event.user_id,
            amount=event.amount,
            user_traits=event.user_traits,
        ),
        received_at=event.received_at,
    )
