"""Bounded input on every way in: a 4xx naming the field, never a 5xx, nothing half-stored.

Times ClickHouse cannot hold, numbers no double can, nesting past the documented limits and
identifiers with control characters are refused where they arrive; in a batch, the bad item
is rejected by its index and the others are stored.
"""

import base64
import json

import pytest

from events.models import Event
from outbox.models import OutboxMessage
from midnite_test.tests.api.valid_items import EVENT, PRODUCT
from users.models import User

TIME_RANGE = "Must be between 1900-01-01T00:00:00Z and 2299-12-31T23:59:59.999999Z."
TIMES_OUT_OF_RANGE = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1899-12-31T23:59:59Z",
    "2300-01-01T00:00:00Z",
]
TIMES_IN_RANGE = ["1900-01-01T00:00:00Z", "2299-12-31T23:59:59.999999Z", "1900-01-01T01:00+01:00"]
DIGITS = "Numbers may have at most 40 digits."
HUGE_NUMBERS = ["1" + "0" * 400 + ".5", "1" + "0" * 400, "9" * 5000, "0." + "0" * 400 + "1"]
CONTROL = "Control characters (such as \\u0000, \\n or \\u001b) are not allowed."


def _nested(levels: int) -> str:
    """A JSON object whose innermost value sits `levels` objects and arrays deep."""
    return '{"a":' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


def _raw(value: dict, **raw_fields: str) -> str:
    """`value` as JSON, with each of `raw_fields` written as the raw JSON given."""
    text = json.dumps(value)[:-1]
    return text + "".join(f', "{name}": {raw}' for name, raw in raw_fields.items()) + "}"


@pytest.fixture
def post(api_client, users):
    def send(path: str, raw: str):
        return api_client.generic("POST", path, raw, "application/json")

    return send


def _stored() -> tuple[int, int, int]:
    return Event.objects.count(), User.objects.count(), OutboxMessage.objects.count()


def _invalid(response, field: str) -> list[str]:
    """The messages naming `field` of a 400 `invalid_payload` answer."""
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_payload"
    return response.json()["details"][field]


def _bulk(post, middle: str):
    """POST /events/bulk with `middle` between two valid new events; the answer, and how many
    events it stored."""
    before = Event.objects.count()
    first = json.dumps({**EVENT, "event_id": f"first_{before}"})
    last = json.dumps({**EVENT, "event_id": f"last_{before}"})
    response = post("/events/bulk", '{"events": [' + f"{first}, {middle}, {last}" + "]}")
    return response, Event.objects.count() - before


def _product(post, middle: str):
    """POST /api/v1/events, as _bulk."""
    before = Event.objects.count()
    first = json.dumps({**PRODUCT, "event_id": f"first_{before}"})
    last = json.dumps({**PRODUCT, "event_id": f"last_{before}"})
    response = post("/api/v1/events", f"[{first}, {middle}, {last}]")
    return response, Event.objects.count() - before


def _assert_only_the_middle_rejected(sent, field: str, message: str) -> None:
    response, stored = sent
    assert response.status_code in (200, 202), response.content
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == [{"index": 1, "errors": {field: [message]}}]
    assert stored == 2


@pytest.mark.parametrize("stamp", TIMES_OUT_OF_RANGE)
def test_a_time_clickhouse_cannot_hold_is_refused_naming_the_field(post, stamp):
    before = _stored()

    assert _invalid(post("/events", json.dumps({**EVENT, "timestamp": stamp})), "timestamp") == [
        TIME_RANGE
    ]
    assert _stored() == before
    _assert_only_the_middle_rejected(
        _bulk(post, json.dumps({**EVENT, "event_id": "bad", "timestamp": stamp})),
        "timestamp",
        TIME_RANGE,
    )
    _assert_only_the_middle_rejected(
        _product(post, json.dumps({**PRODUCT, "event_timestamp": stamp})),
        "event_timestamp",
        TIME_RANGE,
    )


@pytest.mark.parametrize("stamp", TIMES_IN_RANGE)
def test_the_first_and_last_times_clickhouse_holds_are_stored(post, stamp):
    assert post("/events", json.dumps({**EVENT, "timestamp": stamp})).status_code == 201


def test_a_transaction_after_2299_is_refused_naming_t(post):
    body = {"type": "deposit", "amount": "1.00", "user_id": 1, "t": 10413792000}

    response = post("/event", json.dumps(body))

    assert _invalid(response, "t") == ["Ensure this value is less than or equal to 10413791999."]
    assert not Event.objects.exists()


@pytest.mark.parametrize("stamp", TIMES_OUT_OF_RANGE)
@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize(
    "path, query",
    [("/events", {}), ("/metrics", {"tenant_id": "tenant_1", "bucket_size": "hour"})],
)
def test_a_time_range_out_of_range_is_invalid_query_naming_it(
    api_client, db, path, query, name, stamp
):
    response = api_client.get(path, {**query, name: stamp})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert response.json()["details"] == {name: [TIME_RANGE]}


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_cursor_out_of_range_is_invalid_query_naming_it(api_client, db, stamp):
    cursor = base64.urlsafe_b64encode(f"{stamp}|1".encode()).decode().rstrip("=")

    response = api_client.get("/events", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["details"] == {"cursor": ["Invalid cursor."]}


@pytest.mark.parametrize(
    "number", HUGE_NUMBERS, ids=["400 digits .5", "400 digits", "5000", "tiny"]
)
def test_a_number_with_hundreds_of_digits_is_refused_naming_the_field(post, number):
    before = _stored()

    assert _invalid(post("/events", _raw(EVENT, payload=f'{{"n": {number}}}')), "payload") == [
        DIGITS
    ]
    assert _stored() == before
    bad = _raw({**EVENT, "event_id": "bad"}, payload=f'{{"n": [{number}]}}')
    _assert_only_the_middle_rejected(_bulk(post, bad), "payload", DIGITS)
    _assert_only_the_middle_rejected(
        _product(post, _raw(PRODUCT, user_traits=f'{{"n": {number}}}')), "user_traits", DIGITS
    )


def test_forty_digits_are_stored(post):
    response = post(
        "/events", _raw(EVENT, payload='{"n": 1234567890123456789012345678901234567.891}')
    )

    assert response.status_code == 201
    # The double nearest it, written positionally as jsonb writes it: an integer literal.
    assert b'"payload":{"n":1234567890123456800000000000000000000}' in response.content
    assert float(response.json()["payload"]["n"]) == 1234567890123456789012345678901234567.891


def test_a_payload_nested_past_32_levels_is_refused_and_32_are_stored(post):
    deep = "Objects and arrays may nest at most 32 levels deep."

    assert _invalid(post("/events", _raw(EVENT, payload=_nested(33))), "payload") == [deep]
    assert post("/events", _raw(EVENT, payload=_nested(32))).status_code == 201
    bad = _raw({**EVENT, "event_id": "bad"}, payload=_nested(40))
    _assert_only_the_middle_rejected(_bulk(post, bad), "payload", deep)


def test_product_properties_nested_past_32_levels_are_rejected_by_index(post):
    deep = "Objects and arrays may nest at most 32 levels deep."

    _assert_only_the_middle_rejected(
        _product(post, _raw(PRODUCT, properties=_nested(33))), "properties", deep
    )


@pytest.mark.parametrize("path", ["/events", "/events/bulk", "/api/v1/events", "/event", "/users"])
@pytest.mark.parametrize("levels", [65, 700, 5000])
def test_a_body_nested_past_64_levels_is_refused_whole(post, path, levels):
    before = _stored()

    response = post(path, '{"a":' + "[" * (levels - 1) + "]" * (levels - 1) + "}")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_payload",
        "message": "The request body nests objects and arrays more than 64 levels deep.",
        "details": {},
    }
    assert _stored() == before


@pytest.mark.parametrize("character", ["\x01", "\n", "\x1b", "\x7f", "\x85"])
@pytest.mark.parametrize("field", ["event_id", "tenant_id", "source", "event_type"])
def test_an_identifier_with_a_control_character_is_refused_naming_it(post, field, character):
    event = {**EVENT, field: f"a{character}b"}

    assert _invalid(post("/events", json.dumps(event)), field) == [CONTROL]
    _assert_only_the_middle_rejected(_bulk(post, json.dumps(event)), field, CONTROL)
    assert not Event.objects.filter(**{field: f"a{character}b"}).exists()


@pytest.mark.parametrize("field", ["user_id", "event_type", "event_id"])
def test_a_product_identifier_with_a_control_character_is_rejected_by_index(post, field):
    _assert_only_the_middle_rejected(
        _product(post, json.dumps({**PRODUCT, field: "a\r\nb"})), field, CONTROL
    )


@pytest.mark.parametrize(
    "path, field",
    [("/events", "tenant_id"), ("/events", "source"), ("/metrics", "event_type")]
    + [("/metrics", "tenant_id")],
)
def test_a_query_identifier_with_a_control_character_is_invalid_query(api_client, db, path, field):
    query = {"tenant_id": "t", "bucket_size": "hour"} if path == "/metrics" else {}

    response = api_client.get(path, {**query, field: "a\nb"})

    assert response.status_code == 400
    assert response.json()["details"] == {field: [CONTROL]}


def test_a_product_batch_for_a_tenant_with_a_control_character_is_refused(api_client, db):
    response = api_client.post("/api/v1/events?tenant_id=a%0Ab", [PRODUCT], format="json")

    assert response.status_code == 400
    assert response.json()["details"] == {"tenant_id": [CONTROL]}
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "path, limit",
    [
        ("/event", "64 KiB"),
        ("/users", "64 KiB"),
        ("/events", "256 KiB"),
        ("/events/bulk", "32 MiB"),
        ("/api/v1/events", "32 MiB"),
    ],
)
def test_a_body_declared_over_its_limit_is_refused_before_it_is_read(
    api_client, users, path, limit
):
    declared = {"64 KiB": 2**16, "256 KiB": 2**18, "32 MiB": 2**25}[limit] + 1

    # The test client's input refuses to be read past the 2 bytes it holds.
    response = api_client.generic(
        "POST", path, "{}", "application/json", CONTENT_LENGTH=str(declared)
    )

    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": f"The request body is larger than the {limit} this endpoint accepts.",
        "details": {},
    }


@pytest.mark.parametrize(
    "path, body",
    [
        ("/events", _raw(EVENT, payload='{"note": "\\ud800"}')),
        ("/events", _raw({k: v for k, v in EVENT.items() if k != "source"}, source='"\\udfff"')),
        ("/events/bulk", '{"events": [' + _raw(EVENT, payload='{"\\ud800": 1}') + "]}"),
        ("/api/v1/events", "[" + _raw(PRODUCT, user_traits='{"a": ["\\udc00"]}') + "]"),
        ("/users", '{"email": "a@example.com", "first_name": "\\ud800", "last_name": "B"}'),
    ],
)
def test_a_lone_surrogate_is_not_text_and_is_refused_whole(post, path, body):
    before = _stored()

    response = post(path, body)

    assert response.status_code == 400
    assert response.json()["message"] == (
        "The request body is not valid JSON: a string holds a lone UTF-16 surrogate "
        "(\\ud800 to \\udfff)"
    )
    assert _stored() == before


@pytest.mark.parametrize(
    "body",
    [
        '{"type": "deposit", "amount": "1.00", "user_id": 1, "t": 10413792000}',
        '{"type": "deposit", "amount": "1.00", "user_id": 1, "t": 1' + "0" * 5000 + "}",
        '{"type": "deposit", "amount": "1' + "0" * 400 + '", "user_id": 1, "t": 1}',
        '{"type": "\\ud800", "amount": "1.00", "user_id": 1, "t": 1}',
        '{"type": ' + "[" * 900 + "]" * 900 + ', "amount": "1.00", "user_id": 1, "t": 1}',
    ],
    ids=["after 2299", "5000-digit t", "400-digit amount", "surrogate", "900 levels"],
)
def test_post_event_s_fast_path_refuses_hostile_bodies_as_django_does(
    api_client, users, served, body
):
    """Served, the fast path parses the body first: it must hand each of these to Django."""
    django_answer = api_client.generic("POST", "/event", body, "application/json")
    status, _, content = served(
        "POST",
        "/event",
        body.encode(),
        HTTP_AUTHORIZATION=api_client._credentials["HTTP_AUTHORIZATION"],
    )

    assert django_answer.status_code == 400
    assert (status, json.loads(content)) == (400, django_answer.json())
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "raw",
    ['{"a": "\ud800"}'.encode("utf-8", "surrogatepass"), '{"a": "é"}'.encode("latin-1")],
    ids=["a surrogate's UTF-8 bytes", "Latin-1"],
)
@pytest.mark.parametrize("path", ["/events", "/events/bulk", "/api/v1/events", "/event", "/users"])
def test_a_body_that_is_not_utf_8_is_refused_whole(post, path, raw):
    before = _stored()

    response = post(path, raw)

    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "The request body is not valid JSON: 'utf-8' codec can't decode byte"
    )
    assert _stored() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/event", {"type": "deposit", "amount": "1.00", "user_id": 1, "t": 1}),
        ("/users", {"first_name": "Ada", "last_name": "L", "email": "ada@example.com"}),
        ("/events", EVENT),
        ("/events/bulk", {"events": [EVENT]}),
        ("/api/v1/events", [PRODUCT]),
    ],
)
def test_a_chunked_body_is_411_length_required_on_every_way_in(
    api_client, users, served, path, body
):
    """A streamed body (Transfer-Encoding: chunked) comes without a Content-Length, and Django
    reads such a body as empty: a valid event was answered "This field is required"."""
    before = (Event.objects.count(), User.objects.count())
    status, _, content = served(
        "POST",
        path,
        json.dumps(body).encode(),
        HTTP_AUTHORIZATION=api_client._credentials["HTTP_AUTHORIZATION"],
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )

    assert status == 411
    assert json.loads(content) == {
        "error": "length_required",
        "message": "Send the request body with a Content-Length header: a chunked body "
        "(Transfer-Encoding) is not read.",
        "details": {},
    }
    assert (Event.objects.count(), User.objects.count()) == before
