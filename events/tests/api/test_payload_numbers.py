"""Numbers of a stored payload come back in the notation the API accepts: positional.

The parser refuses exponents (midnite_test.parsers), so an answer that wrote one (`1e-07`, as
Python's float repr does) could not be sent on as it came. Each value is the one stored:
payloads keep numbers as JSON doubles (events.validation.number_storable), and PostgreSQL's
jsonb writes that value positionally.
"""

import json

import pytest

# A payload as a client writes it: the literals below, not Python's reprs of their floats.
PAYLOAD_TEXT = (
    '{"tiny": 0.0000001, "tinier": -0.' + "0" * 39 + "1, "
    '"small": 0.00001234, "tenth": 0.1, "integer": 1234567890123456789012345, '
    '"trailing": 123.4500, "large": 12345678901234567890.123, '
    '"in_a_list": [0.0000001, 1.5], "text": "1e-07 stays text"}'
)
# The payload as every answer writes it: each number positional, as stored; 123.4500 is the
# double 123.45, and 12345678901234567890.123 the double nearest it, which jsonb writes
# 12345678901234567000 (the shortest digits that name that double).
PAYLOAD_ANSWERED = (
    '{"tiny":0.0000001,"tinier":-0.' + "0" * 39 + "1,"
    '"small":0.00001234,"tenth":0.1,"integer":1234567890123456789012345,'
    '"trailing":123.45,"large":12345678901234567000,'
    '"in_a_list":[0.0000001,1.5],"text":"1e-07 stays text"}'
)


def _event(event_id: str, payload_text: str) -> str:
    return (
        f'{{"event_id": "{event_id}", "tenant_id": "tenant_1", "source": "web", '
        f'"event_type": "click", "timestamp": "2024-01-15T10:30:00Z", "payload": {payload_text}}}'
    )


def _literals(payload_text: str) -> dict:
    """A payload with each number as its literal, as written: jsonb may order the keys."""
    return json.loads(
        payload_text, parse_float=lambda s: ("float", s), parse_int=lambda s: ("int", s)
    )


def _payload_text(body: bytes) -> str:
    """The text of the first `"payload":` value in an answer's body (ours: compact, no spaces)."""
    text = body.decode()
    start = text.index('"payload":') + len('"payload":')
    depth = 0
    for end, character in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(character, 0)
        if depth == 0:
            return text[start : end + 1]
    raise AssertionError(text)


@pytest.fixture
def client(api_client):
    return api_client


def _post(client, body: str):
    return client.post("/events", body, content_type="application/json")


def test_the_answers_write_a_payloads_numbers_positionally_as_stored(client):
    created = _post(client, _event("evt_1", PAYLOAD_TEXT))
    again = _post(client, _event("evt_1", PAYLOAD_TEXT))
    listed = client.get("/events", {"tenant_id": "tenant_1"})

    assert created.status_code == 201, created.content
    assert again.status_code == 200, again.content
    assert _literals(_payload_text(created.content)) == _literals(PAYLOAD_ANSWERED)
    assert _literals(_payload_text(again.content)) == _literals(PAYLOAD_ANSWERED)
    assert _literals(_payload_text(listed.content)) == _literals(PAYLOAD_ANSWERED)


def test_a_payload_read_back_can_be_sent_on_as_a_new_event(client):
    _post(client, _event("evt_1", PAYLOAD_TEXT))
    listed = client.get("/events", {"tenant_id": "tenant_1"})

    sent_on = _post(client, _event("evt_2", _payload_text(listed.content)))

    assert sent_on.status_code == 201, sent_on.content
    assert _literals(_payload_text(sent_on.content)) == _literals(PAYLOAD_ANSWERED)


def test_a_product_events_properties_and_traits_come_back_positional(client):
    item = (
        '[{"user_id": "u_numbers", "event_type": "page_view", '
        f'"event_timestamp": "2025-10-31T19:30:00Z", "properties": {PAYLOAD_TEXT}, '
        f'"user_traits": {PAYLOAD_TEXT}}}]'
    )
    accepted = client.post("/api/v1/events", item, content_type="application/json")
    listed = client.get("/events", {"tenant_id": "default"})
    audit = client.get("/audit/u_numbers")

    assert accepted.status_code == 202, accepted.content
    assert _literals(_payload_text(listed.content)) == _literals(PAYLOAD_ANSWERED)
    assert audit.status_code == 200, audit.content
    body = json.loads(
        audit.content, parse_float=lambda s: ("float", s), parse_int=lambda s: ("int", s)
    )
    assert body["traits"] == _literals(PAYLOAD_ANSWERED)
    assert body["recent_events"][0]["properties"] == _literals(PAYLOAD_ANSWERED)
