"""Product events whose id another user's transaction stores while the batch is being stored.

Runs on PostgreSQL only (not in the SQLite API pass): SQLite has one writer at a time, so the
other transaction cannot commit between the batch's look-up and its insert.
"""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from events.contracts import EventInput
from events.ingestion import events_ingest
from events.models import Event
from events.product.services import CONFLICT, product_events_ingest
from midnite_test.tests.concurrently import set_once_a_backend_waits_on_a_lock
from users.models import User


@pytest.mark.django_db(transaction=True)
def test_an_id_stored_meanwhile_for_another_user_is_rejected_and_merges_nothing():
    other = User.objects.create(external_id="u_other")
    stored, commit = threading.Event(), threading.Event()

    def other_transaction() -> None:
        try:
            with transaction.atomic():
                event = EventInput(
                    tenant_id="default",
                    event_id="evt_x",
                    source="product",
                    event_type="signup_completed",
                    occurred_at=datetime(2025, 10, 31, tzinfo=UTC),
                    user_id=other.pk,
                )
                events_ingest(events=[event])
                stored.set()
                commit.wait(timeout=30)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=other_transaction),
        threading.Thread(target=set_once_a_backend_waits_on_a_lock, args=(commit,)),
    ]
    threads[0].start()
    assert stored.wait(timeout=30)
    threads[1].start()
    item = {"user_id": "u_1", "event_type": "signup_completed"}
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
    for thread in threads:
        thread.join(timeout=30)

    assert outcome.accepted == 1
    assert outcome.rejected == [{"index": 0, "errors": {"event_id": [CONFLICT]}}]
    assert User.objects.get(external_id="u_1").traits == {"b": 2}
    assert Event.objects.get(user__external_id="u_1").user_traits == {"b": 2}
