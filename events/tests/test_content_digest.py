"""A re-sent event is told a duplicate by its content digest, without reading its content back.

Events stored without a digest (before the column, or by another writer) and re-sent events
whose digest differs are compared field by field, as before: the answer is the same.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.event_rows import content_digest
from events.models import Event
from events.validation import event_input_parse


def _event(n: int, **changes) -> dict:
    return {
        "event_id": f"evt_{n}",
        "tenant_id": "tenant_1",
        "source": "web",
        "event_type": "purchase",
        "timestamp": "2024-01-15T10:30:00Z",
        "payload": {"n": n, "page": "/pricing", "score": 1.5},
        "user_id": 1,
        "amount": "12.50",
        **changes,
    }


@pytest.fixture
def bulk(api_client, users):
    def post(events):
        response = api_client.post("/events/bulk", {"events": events}, format="json")
        assert response.status_code == 200
        return response.json()

    return post


def test_every_stored_event_has_a_digest_of_its_content(bulk):
    bulk([_event(0), _event(1)])

    digests = list(Event.objects.values_list("content_digest", flat=True))
    assert all(digests) and len({bytes(digest) for digest in digests}) == 2


def test_a_re_sent_batch_reads_back_no_stored_content(bulk):
    events = [_event(n) for n in range(3)]
    bulk(events)

    with CaptureQueriesContext(connection) as queries:
        body = bulk(events)

    assert (body["accepted"], body["duplicates"], body["conflicts"]) == (0, 3, [])
    reads = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert not [sql for sql in reads if "properties" in sql], reads


def test_a_different_content_under_a_stored_id_is_still_a_conflict(bulk):
    bulk([_event(0), _event(1)])

    body = bulk([_event(0, amount="12.51"), _event(1, payload={"n": 2})])

    assert [conflict["index"] for conflict in body["conflicts"]] == [0, 1]


def test_the_same_content_written_otherwise_is_still_a_duplicate(bulk):
    bulk([_event(0)])

    reordered = {"score": 1.5, "page": "/pricing", "n": 0}
    body = bulk([_event(0, payload=reordered, timestamp="2024-01-15T11:30:00+01:00")])

    assert (body["duplicates"], body["conflicts"]) == (1, [])


@pytest.mark.parametrize("changes, duplicates", [({}, 1), ({"event_type": "click"}, 0)])
def test_events_stored_without_a_digest_are_compared_field_by_field(bulk, changes, duplicates):
    bulk([_event(0)])
    Event.objects.update(content_digest=None)

    body = bulk([_event(0, **changes)])

    assert (body["duplicates"], len(body["conflicts"])) == (duplicates, 1 - duplicates)


def test_the_digest_names_the_instant_whatever_its_zone_and_each_field():
    base = event_input_parse(_event(0))
    same = event_input_parse(_event(0, timestamp="2024-01-15T11:30:00+01:00"))
    changed = [
        event_input_parse(_event(0, **{name: value}))
        for name, value in [
            ("tenant_id", "tenant_2"),
            ("event_id", "evt_9"),
            ("source", "ios"),
            ("event_type", "click"),
            ("timestamp", "2024-01-15T10:30:00.000001Z"),
            ("user_id", 2),
            ("amount", "12.51"),
        ]
    ]

    assert content_digest(same, "{}") == content_digest(base, "{}")
    assert len({content_digest(event, "{}") for event in [base, *changed]}) == 8
    assert content_digest(base, '{"n":1}') != content_digest(base, "{}")
