"""POST /events: one event, stored once, whatever is sent again."""

import pytest

from events.models import Event
from midnite_test.tests.concurrently import post_all_at_once
from outbox.models import OutboxMessage
from outbox.selectors import outbox_backlog

EVENT = {
    "event_id": "evt_001",
    "tenant_id": "tenant_1",
    "source": "web",
    "event_type": "click",
    "timestamp": "2024-01-15T10:30:00Z",
    "payload": {"page": "/pricing", "items": [1, 2.5]},
}


@pytest.fixture
def ingest(api_client, users):
    def post(**changes):
        return api_client.post("/events", {**EVENT, **changes}, format="json")

    return post


def test_a_new_event_is_201_with_the_stored_event(ingest):
    response = ingest(user_id=1, amount="12.50")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in EVENT} == EVENT
    assert (body["user_id"], body["amount"], body["duplicate"]) == (1, "12.50", False)
    assert body["received_at"].endswith("Z")


def _waiting() -> dict[str, int]:
    """The events analytics and the metrics have still to process: their backlog but messages.

    Nothing is processed in these tests, so every message (a user created) is in the backlog.
    """
    return {
        backlog.consumer: backlog.unshipped
        - OutboxMessage.objects.filter(consumer=backlog.consumer).count()
        for backlog in outbox_backlog()
        if backlog.consumer in ("analytics", "metrics")
    }


def test_a_new_event_waits_once_for_each_consumer_and_writes_no_outbox_row(ingest):
    ingest()

    assert _waiting() == {"analytics": 1, "metrics": 1}
    assert not OutboxMessage.objects.filter(topic="event_stored").exists(), "the table is the log"


def test_the_same_event_again_is_200_duplicate_and_stores_nothing(ingest):
    first = ingest()

    again = ingest()

    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["received_at"] == first.json()["received_at"]
    assert Event.objects.count() == 1
    assert _waiting() == {"analytics": 1, "metrics": 1}


def test_the_same_event_with_its_time_in_another_zone_is_a_duplicate(ingest):
    ingest()

    assert ingest(timestamp="2024-01-15T11:30:00+01:00").json()["duplicate"] is True


def test_the_same_id_with_other_content_is_409_event_conflict(ingest):
    ingest()

    response = ingest(event_type="purchase")

    assert response.status_code == 409
    assert response.json()["error"] == "event_conflict"
    assert Event.objects.get().event_type == "click"


def test_the_same_id_in_another_tenant_is_another_event(ingest):
    ingest()

    assert ingest(tenant_id="tenant_2").status_code == 201
    assert Event.objects.count() == 2


def test_timestamps_are_stored_in_utc(ingest):
    response = ingest(timestamp="2024-01-15T12:30:00+02:00")

    assert response.json()["timestamp"] == "2024-01-15T10:30:00Z"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"timestamp": "2024-01-15T10:30:00"}, "timestamp"),
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"timestamp": 1705314600}, "timestamp"),
        ({"event_id": "txn:1:20"}, "event_id"),
        ({"source": "transactions"}, "source"),
        ({"event_id": "x" * 129}, "event_id"),
        ({"tenant_id": "t" * 129}, "tenant_id"),
        ({"event_type": "e" * 65}, "event_type"),
        ({"source": "s" * 65}, "source"),
        ({"source": ""}, "source"),
        ({"payload": ["not", "an", "object"]}, "payload"),
        ({"payload": {"blob": "x" * 65536}}, "payload"),
        ({"user_id": "1"}, "user_id"),
        ({"user_id": 0}, "user_id"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"colour": "red"}, "colour"),
        ({"event_id": "evt\x00"}, "event_id"),
        ({"source": "we\x00b"}, "source"),
        ({"payload": {"note": "a\x00b"}}, "payload"),
        ({"payload": {"a\x00": 1}}, "payload"),
    ],
)
def test_an_invalid_field_is_400_naming_it(ingest, changes, field):
    response = ingest(**changes)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert list(response.json()["details"]) == [field]
    assert Event.objects.count() == 0


def test_every_missing_field_is_named(api_client, users):
    response = api_client.post("/events", {"payload": {}}, format="json")

    assert response.status_code == 400
    assert set(response.json()["details"]) == {
        "event_id",
        "tenant_id",
        "source",
        "event_type",
        "timestamp",
    }


def test_a_body_over_256_kib_is_413(ingest):
    response = ingest(payload={"blob": "x" * 300_000})

    assert response.status_code == 413
    assert response.json()["message"] == (
        "The request body is larger than the 256 KiB this endpoint accepts."
    )


def test_an_unknown_user_is_400(ingest):
    response = ingest(user_id=99)

    assert response.status_code == 400
    assert response.json()["error"] == "unknown_user"
    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_requests_store_the_event_once(api_key):
    responses = post_all_at_once("/events", [EVENT] * 8, api_key=api_key)

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert Event.objects.count() == 1
    assert _waiting() == {"analytics": 1, "metrics": 1}


def test_a_payload_with_a_literal_backslash_u0000_is_stored(ingest):
    response = ingest(payload={"note": "\\u0000 is how JSON writes NUL"})

    assert response.status_code == 201
    assert response.json()["payload"] == {"note": "\\u0000 is how JSON writes NUL"}
