"""One mistake gets one answer, whichever endpoint it is made on."""

import json

import pytest
from django.test import RequestFactory

from events.models import Event
from midnite_test.http_errors import server_error
from midnite_test.tests.api.valid_items import EVENT, PRODUCT
from users.models import User


@pytest.mark.parametrize(
    "path, body",
    [
        ("/events/bulk", {"events": [EVENT] * 5_001}),
        ("/api/v1/events", [PRODUCT] * 5_001),
    ],
)
def test_more_than_5000_items_is_413_on_every_batch_endpoint(api_client, db, path, body):
    response = api_client.post(path, body, format="json")

    assert response.status_code == 413
    assert response.json()["error"] == "too_many_events"
    assert response.json()["details"] == {"max_events": 5_000, "events": 5_001}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "path, body",
    [
        ("/events", {**EVENT, "extra": 1}),
        ("/events/bulk", {"events": [EVENT], "extra": 1}),
        ("/event", {"type": "deposit", "amount": "1", "user_id": 1, "t": 1, "extra": 1}),
        ("/users", {"email": "a@example.com", "first_name": "A", "last_name": "B", "extra": 1}),
    ],
)
def test_an_unknown_top_level_key_is_named(api_client, users, path, body):
    response = api_client.post(path, body, format="json")

    assert response.status_code == 400
    assert response.json()["details"]["extra"] == ["Unknown field."]
    assert not Event.objects.filter(event_id="evt_0").exists()


@pytest.mark.parametrize("field", ["first_name", "last_name", "email"])
@pytest.mark.parametrize("value", [5, 1.5, True])
def test_a_user_s_string_field_given_a_number_is_refused(api_client, db, field, value):
    body = {"email": "a@example.com", "first_name": "A", "last_name": "B", field: value}

    response = api_client.generic("POST", "/users", json.dumps(body), "application/json")

    assert response.status_code == 400
    assert response.json()["details"] == {field: ["A string is required."]}
    assert not User.objects.exists()


def test_an_unknown_url_is_404_in_the_compact_error_json(api_client, db):
    response = api_client.get("/no/such/endpoint")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.content == (
        b'{"error":"not_found","message":"No endpoint at /no/such/endpoint.","details":{}}'
    )


def test_a_server_error_is_500_in_the_compact_error_json():
    response = server_error(RequestFactory().get("/events"))

    assert response.status_code == 500
    assert response.content == (
        b'{"error":"internal_error","message":"An unexpected error occurred.","details":{}}'
    )
