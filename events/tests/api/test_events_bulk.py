"""POST /events/bulk: up to 5,000 events, each judged on its own, stored once."""

import gc
import uuid

import pytest

from events.models import Event
from outbox.models import OutboxMessage
from outbox.selectors import outbox_backlog


def _event(n: int, **changes) -> dict:
    return {
        "event_id": f"evt_{n}",
        "tenant_id": "tenant_1",
        "source": "web",
        "event_type": "click",
        "timestamp": "2024-01-15T10:30:00Z",
        "payload": {"n": n},
        **changes,
    }


@pytest.fixture
def bulk(api_client, users):
    def post(events):
        return api_client.post("/events/bulk", {"events": events}, format="json")

    return post


def test_valid_events_are_stored_and_counted(bulk):
    response = bulk([_event(n) for n in range(3)])

    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 0, "conflicts": [], "rejected": []}
    assert Event.objects.count() == 3


def test_valid_events_are_stored_even_when_others_are_rejected(bulk):
    events = [_event(0), _event(1, timestamp="2024-01-15T10:30:00"), _event(2, user_id=99)]

    body = bulk(events).json()

    assert body["accepted"] == 1
    assert body["rejected"] == [
        {
            "index": 1,
            "errors": {"timestamp": ["The timestamp must carry a timezone, such as Z or +01:00."]},
        },
        {"index": 2, "errors": {"user_id": ["User 99 does not exist."]}},
    ]
    assert list(Event.objects.values_list("event_id", flat=True)) == ["evt_0"]


def test_the_same_request_again_stores_nothing_new(bulk):
    events = [_event(n) for n in range(5)]
    bulk(events)

    again = bulk(events).json()

    assert (again["accepted"], again["duplicates"], again["conflicts"]) == (0, 5, [])
    assert Event.objects.count() == 5
    waiting = {backlog.consumer: backlog.unshipped for backlog in outbox_backlog()}
    users_created = OutboxMessage.objects.filter(consumer="analytics").count()
    assert (waiting["analytics"] - users_created, waiting["metrics"]) == (5, 5)


def test_a_stored_id_with_other_content_is_a_conflict_naming_its_index(bulk):
    bulk([_event(0)])

    body = bulk([_event(1), _event(0, event_type="purchase")]).json()

    assert body["accepted"] == 1
    assert [conflict["index"] for conflict in body["conflicts"]] == [1]
    assert "event_id" in body["conflicts"][0]["errors"]


def test_within_one_request_the_first_of_two_same_ids_decides(bulk):
    events = [_event(0), _event(0), _event(0, payload={"other": True})]

    body = bulk(events).json()

    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert body["conflicts"] == [
        {
            "index": 2,
            "errors": {
                "event_id": [
                    "Item 0 of this request was stored with this event id and other content."
                ]
            },
        }
    ]
    assert Event.objects.get().properties == {"n": 0}


def test_a_conflict_with_an_event_stored_before_says_so(bulk):
    bulk([_event(0)])

    body = bulk([_event(0), _event(0, payload={"other": True})]).json()

    assert (body["accepted"], body["duplicates"]) == (0, 1)
    assert body["conflicts"][0]["errors"] == {
        "event_id": ["This tenant already has an event with this id and other content."]
    }


def test_an_item_that_is_not_an_object_is_rejected_on_its_own(bulk):
    body = bulk([_event(0), "evt_1", None]).json()

    assert body["accepted"] == 1
    assert [problem["index"] for problem in body["rejected"]] == [1, 2]


def test_5000_events_are_accepted(bulk):
    assert bulk([_event(n) for n in range(5000)]).json()["accepted"] == 5000


def test_more_than_5000_events_is_413_and_stores_nothing(bulk):
    response = bulk([_event(n) for n in range(5001)])

    assert gc.isenabled()  # the view's pause of the collector ends on an error too
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_events"
    assert "5,000" in response.json()["message"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("way", ["typed", "generic"])
def test_the_events_of_a_body_are_freed_as_the_request_ends_not_by_a_collection(bulk, way):
    """DRF's request, the view and the response refer to one another, so the cyclic collector
    frees them, not the request's end: the 5,000 events a body may hold would stay alive with
    them, and each collection of the older generations would walk them again."""
    marker = uuid.uuid4().hex
    events = [_event(n, payload={"marker": marker, "nested": {"n": n}}) for n in range(3)]
    if way == "generic":
        events.append(_event(3, timestamp="2024-01-15T10:30:00"))  # invalid: the generic way
    sent = {id(event["payload"]) for event in events}
    gc.collect()
    gc.disable()
    try:
        response = bulk(events)
        assert response.json()["accepted"] == 3
        del response
        alive = [
            obj
            for obj in gc.get_objects()
            if type(obj) is dict and obj.get("marker") == marker and id(obj) not in sent
        ]
    finally:
        gc.enable()

    assert alive == []


@pytest.mark.parametrize("body", [{"events": []}, {"events": {}}, {}, [], {"events": [], "x": 1}])
def test_a_body_that_is_not_1_to_5000_events_is_400(api_client, users, body):
    response = api_client.post("/events/bulk", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert "events" in response.json()["details"]
