"""Product events whose id another user's transaction stores while the batch is being stored.

Runs on PostgreSQL only (not in the SQLite API pass): SQLite has one writer at a time, so the
other transaction cannot commit between the batch's look-up and its insert.
"""

from datetime import UTC, datetime

import pytest

from events.contracts import EventInput
from events.models import Event
from events.product.services import product_events_ingest
from events.tests.racing import stored_in_a_transaction_held_open
from users.models import User


@pytest.mark.django_db(transaction=True)
def test_an_id_stored_meanwhile_for_another_user_is_rejected_and_merges_nothing():
    other = User.objects.create(external_id="u_other")
    event = EventInput(
        tenant_id="default",
        event_id="evt_x",
        source="product",
        event_type="signup_completed",
        occurred_at=datetime(2025, 10, 31, tzinfo=UTC),
        user_id=other.pk,
    )
    item = {"user_id": "u_1", "event_type": "signup_completed"}
    with stored_in_a_transaction_held_open([event]):
        outcome = product_events_ingest(
            items=[
                {
                    **item,
                    "event_timestamp": "2025-10-31T00:00:00Z",
                    "event_id": "evt_x",
                    "user_traits": {"a": 1},
                },
                {**item, "event_timestamp": "2025-10-31T00:00:01Z", "user_traits": {"b": 2}},
            ],
            tenant_id="default",
        )

    assert outcome.accepted == 1
    conflict = "This tenant already has an event with this id and other content; not stored."
    assert outcome.rejected == [{"index": 0, "errors": {"event_id": [conflict]}}]
    assert User.objects.get(external_id="u_1").traits == {"b": 2}
    assert Event.objects.get(user__external_id="u_1").user_traits == {"b": 2}
