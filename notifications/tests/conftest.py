from datetime import datetime
from itertools import count

import pytest
from django.db import transaction

from events.models import Event, User
from notifications.evaluation import notification_events_evaluate
from notifications.models import Notification

_ids = count(1)


@pytest.fixture
def app_user(db):
    """A product user `u_1` who has opted in to marketing, with an email address."""
    return User.objects.create(
        external_id="u_1", email="u1@example.com", traits={"marketing_opt_in": True}
    )


def product_event(
    user: User,
    event_type: str,
    at: datetime,
    properties: dict | None = None,
    traits: dict | None = None,
) -> Event:
    """Store a product event for `user` as ingestion does, merging `traits` into the user."""
    if traits:
        user.traits = {**user.traits, **traits}
        user.save(update_fields=["traits"])
    return Event.objects.create(
        event_id=f"test-{next(_ids)}",
        user=user,
        event_type=event_type,
        source="product",
        occurred_at=at,
        properties=properties or {},
        user_traits=user.traits,
    )


def evaluate(*events: Event) -> dict[str, Notification]:
    """Evaluate `events` as the notifications consumer does; return their decisions by rule."""
    with transaction.atomic():
        notification_events_evaluate(event_ids=[event.pk for event in events])
    return {
        f"{notification.rule}@{notification.trigger_event.event_id}": notification
        for notification in Notification.objects.filter(trigger_event__in=events)
    }


def decision(event: Event, rule: str) -> Notification:
    return Notification.objects.get(trigger_event=event, rule=rule)
