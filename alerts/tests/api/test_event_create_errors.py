"""POST /event rejects bad input with a 4xx in the one error shape and stores nothing."""

import json

import pytest

from events.models import Event

VALID = {"type": "deposit", "amount": "42.00", "user_id": 1, "t": 10}


def _post_raw(api_client, body: str, content_type: str = "application/json"):
    return api_client.generic("POST", "/event", body, content_type=content_type)


def _with(**changes) -> dict:
    return {**VALID, **changes}


@pytest.mark.parametrize(
    "body, field",
    [
        (_with(type="transfer"), "type"),
        (_with(type=None), "type"),
        (_with(amount="-1"), "amount"),
        (_with(amount="0"), "amount"),
        (_with(amount=0), "amount"),
        (_with(amount="1.001"), "amount"),
        (_with(amount="1e3"), "amount"),
        (_with(amount="NaN"), "amount"),
        (_with(amount="Infinity"), "amount"),
        (_with(amount=" 1"), "amount"),
        (_with(amount=True), "amount"),
        (_with(amount="1000000000000.01"), "amount"),
        (_with(amount=[1]), "amount"),
        (_with(user_id="1"), "user_id"),
        (_with(user_id=True), "user_id"),
        (_with(user_id=0), "user_id"),
        (_with(user_id=2**63), "user_id"),
        (_with(t=-1), "t"),
        (_with(t="10"), "t"),
        (_with(t=False), "t"),
        (_with(t=253402300800), "t"),
        ({k: v for k, v in VALID.items() if k != "amount"}, "amount"),
        ({k: v for k, v in VALID.items() if k != "t"}, "t"),
        (_with(currency="EUR"), "currency"),
    ],
)
def test_invalid_field_is_400_naming_the_field(api_client, users, body, field):
    response = api_client.post("/event", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert field in response.json()["details"]
    assert Event.objects.count() == 0


def test_every_bad_field_is_named_at_once(api_client, users):
    response = api_client.post("/event", {"type": "x", "amount": "-5"}, format="json")

    assert set(response.json()["details"]) == {"type", "amount", "user_id", "t"}


def test_largest_amount_is_accepted(api_client, users):
    response = api_client.post("/event", _with(amount="1000000000000.00"), format="json")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "",
        '{"type": "deposit", "amount": NaN, "user_id": 1, "t": 1}',
        '{"type": "deposit", "amount": Infinity, "user_id": 1, "t": 1}',
        '{"type": "deposit", "amount": 1e2, "user_id": 1, "t": 1}',
        '{"type": "deposit", "amount": 1.5E1, "user_id": 1, "t": 1}',
        "[1, 2]",
        '"deposit"',
        "null",
        "[" * 50_000,
        '{"type": "deposit", "amount": "1", "user_id": 1, "t": 1, "x": ' + "[" * 50_000,
    ],
    ids=lambda raw: raw[:40],
)
def test_malformed_json_or_non_object_is_400(api_client, users, raw):
    response = _post_raw(api_client, raw)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_payload"
    assert set(body) == {"error", "message", "details"}
    assert Event.objects.count() == 0


@pytest.mark.parametrize("charset", ["latin-1", "utf-16"])
def test_json_declaring_a_charset_other_than_utf_8_is_415_naming_it(api_client, users, charset):
    """JSON is UTF-8 (RFC 8259): bytes sent as another charset were read as UTF-8."""
    body = '{"type": "deposit", "amount": "1.00", "user_id": 1, "t": 1}'
    response = _post_raw(api_client, body, content_type=f"application/json; charset={charset}")

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert charset in response.json()["message"]
    assert Event.objects.count() == 0


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8"])
def test_json_declaring_utf_8_is_read(api_client, users, charset):
    body = '{"type": "deposit", "amount": "1.00", "user_id": 1, "t": 1}'
    response = _post_raw(api_client, body, content_type=f"application/json; charset={charset}")

    assert response.status_code == 200


def test_non_json_content_type_is_415(api_client, users):
    response = _post_raw(
        api_client, "type=deposit", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_body_over_64_kib_is_413(api_client, users):
    raw = json.dumps({**VALID, "padding": "x" * (64 * 1024)})

    response = _post_raw(api_client, raw)

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert Event.objects.count() == 0


def test_get_is_405_in_the_error_shape(api_client):
    response = api_client.get("/event")

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_unknown_url_is_404_in_the_error_shape(api_client):
    response = api_client.get("/nowhere")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_body_that_is_not_utf8_is_400(api_client, users):
    response = api_client.generic(
        "POST", "/event", b'{"type": "\xff"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
