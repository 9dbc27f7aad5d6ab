"""A write's query string is refused, not ignored: `?dry_run=1` must not store a transaction.

Each write that takes no query parameter answers one with 400 `invalid_query`, naming it, and
stores nothing; POST /api/v1/events takes `tenant_id` alone. POST /event is refused on
Django's path and in front of it (the WSGI fast path leaves such a request to Django).
"""

import json

import pytest

from events.models import Event
from midnite_test.tests.api.valid_items import EVENT, PRODUCT
from outbox.models import OutboxMessage
from users.models import User

TRANSACTION = {"type": "deposit", "amount": "10.00", "user_id": 1, "t": 1}
USER = {"email": "query@example.com", "first_name": "Q", "last_name": "Uery"}
WRITES = {
    "POST /event": ("/event", TRANSACTION, "dry_run=1", "dry_run"),
    "POST /events": ("/events", EVENT, "dry_run=true", "dry_run"),
    "POST /events/bulk": ("/events/bulk", {"events": [EVENT]}, "tenant_id=other", "tenant_id"),
    "POST /users": ("/users", USER, "invite=false", "invite"),
    "POST /api/v1/events": ("/api/v1/events", [PRODUCT], "tenant_id=t&dry_run=1", "dry_run"),
}


def _stored() -> tuple[int, int, int]:
    return Event.objects.count(), User.objects.count(), OutboxMessage.objects.count()


@pytest.mark.parametrize("path, body, query, named", WRITES.values(), ids=WRITES.keys())
def test_a_query_parameter_of_a_write_is_400_naming_it_and_nothing_is_stored(
    api_client, users, path, body, query, named
):
    before = _stored()

    response = api_client.post(f"{path}?{query}", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_query"
    assert list(response.json()["details"]) == [named]
    assert _stored() == before


def test_a_query_parameter_of_post_event_is_refused_in_front_of_django_too(
    api_client, users, served
):
    before = _stored()
    content = json.dumps(TRANSACTION).encode()
    key = api_client._credentials["HTTP_AUTHORIZATION"]

    status, _, answer = served("POST", "/event", content, query="dry_run=1", HTTP_AUTHORIZATION=key)

    assert (status, json.loads(answer)["details"]) == (400, {"dry_run": ["Unknown field."]})
    assert _stored() == before
