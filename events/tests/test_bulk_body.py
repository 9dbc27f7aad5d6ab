"""The typed bulk decoder answers as the generic way does, or leaves the body to it.

`bulk_body_decode` must return exactly what the strict parser and events.validation give for
each item (the same EventInput, amounts as Decimal, the same payload value and stored text),
and only for bodies the generic way accepts whole; for any other body, None. Bodies are
written as text so that the numbers, escapes, spaces and repeated keys are as a client wrote
them.
"""

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from events.bulk_body import bulk_body_decode
from events.contracts import event_content
from events.tests.api.test_events_bulk import _event
from events.validation import InvalidEvent, event_input_parse_serialized
from midnite_test.parsers import json_strict_loads

TEXTS = st.sampled_from(
    [
        '"e1"',
        '"e2"',
        '"a:b"',
        '"a\\u003ab"',
        '""',
        '" "',
        '"txn:1"',
        '"transaction"',
        '"transactions"',
        '"\\u00e9t\\u00e9"',
        '"été"',
        '"a\\nb"',
        '"a\\u0000"',
        '"\\ud800"',
        '"\\ud83d\\ude00"',
        '"' + "x" * 129 + '"',
        "5",
        "null",
    ]
)
TIMESTAMPS = st.sampled_from(
    [
        '"2024-01-15T10:30:00Z"',
        '"2024-01-15T10:30:00.250+01:00"',
        '"2024-01-15 10:30:00Z"',
        '"2024-01-15T10:30:00"',
        '"1899-12-31T23:59:59Z"',
        '"2300-01-01T00:00:00Z"',
        '"2024-01-15"',
        '"yesterday"',
        "1705314600",
    ]
)
USER_IDS = st.sampled_from(["1", "2", "0", "-1", "null", "true", "1.0", '"1"', "9" * 20, "9" * 41])
AMOUNTS = st.sampled_from(
    ['"12.50"', '"12.505"', '"1e2"', '"-1"', '"abc"', '" 1"', "12", "12.5", "1e2", "0"]
    + ["-5", "null", "1000000000000", "1000000000001", "true", '"\\u0031"', "9" * 41]
)
NUMBERS = st.one_of(
    st.sampled_from(
        ["1", "-0", "0", "81.0", "81.5", "-0.0", "0.1", "1e5", "1E5", "1.5e-3", "0.00001"]
        + ["0.0001", "0.00012", "1.50", "12345678901234567", "1" * 40, "1" * 41, "-" + "9" * 40]
        + ["1000000000000000.5", "10000000000000000.0", "1234567890." + "1" * 31, "1e400"]
    ),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
SCALARS = st.one_of(
    NUMBERS,
    TEXTS,
    st.sampled_from(['"\x7f"', '"\\/"', '"\\u0041"', '"\\\\u0000"', "true", "false", "NaN"]),
)
KEYS = st.sampled_from(['"a"', '"b"', '"\\u0061"', '"a:b"', '"é"', '"\\u00e9"'])
SPACE = st.sampled_from(["", "", "", " ", "\n"])
PAYLOADS = st.one_of(
    st.recursive(
        st.lists(st.tuples(KEYS, SPACE, SCALARS), max_size=4).map(
            lambda members: "{" + ",".join(f"{k}:{s}{v}" for k, s, v in members) + "}"
        ),
        lambda inner: st.one_of(
            st.lists(st.tuples(KEYS, inner), max_size=3).map(
                lambda members: "{" + ",".join(f"{k}:{v}" for k, v in members) + "}"
            ),
            st.lists(st.one_of(inner, SCALARS), max_size=3).map(lambda v: "[" + ",".join(v) + "]"),
        ),
        max_leaves=8,
    ),
    st.integers(min_value=30, max_value=36).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.sampled_from(["[]", "5", "null", '"x"']),
)
VALID = {
    "event_id": '"e1"',
    "tenant_id": '"tenant_1"',
    "source": '"web"',
    "event_type": '"click"',
    "timestamp": '"2024-01-15T10:30:00Z"',
}
CHANGES = st.one_of(
    st.tuples(st.sampled_from(["event_id", "tenant_id", "source", "event_type"]), TEXTS),
    st.tuples(st.just("timestamp"), TIMESTAMPS),
    st.tuples(st.just("payload"), PAYLOADS),
    st.tuples(st.just("user_id"), USER_IDS),
    st.tuples(st.just("amount"), AMOUNTS),
    st.tuples(st.sampled_from(["extra", "event_id"]), TEXTS),
    st.tuples(st.sampled_from(["drop"]), st.sampled_from(sorted(VALID))),
)


def _item(changes: list[tuple[str, str]], space: str) -> str:
    """A valid item's members with `changes`: a field set, added again, or ("drop", field)."""
    members = dict(VALID)
    repeated = []
    for name, value in changes:
        if name == "drop":
            members.pop(value, None)
        elif name in members and name == "event_id" and value == '"e2"':
            repeated.append((name, value))
        else:
            members[name] = value
    pairs = [*members.items(), *repeated]
    return "{" + ",".join(f'{space}"{name}"{space}:{value}' for name, value in pairs) + "}"


ITEMS = st.builds(_item, st.lists(CHANGES, max_size=3), SPACE)
BODIES = st.one_of(
    st.lists(ITEMS, min_size=1, max_size=4).map(
        lambda items: '{"events":[' + ",".join(items) + "]}"
    ),
    st.sampled_from(['{"events":[]}', '{"events":{}}', "[]", "{}", '{"events":[1],"x":1}']),
)


def _typed(body: bytes) -> list | None:
    """The typed way's events, as the fields the store reads, and payload texts, or None."""
    decoded = bulk_body_decode(body)
    if decoded is None:
        return None
    events, texts = decoded
    assert len(events) == len(texts)
    return [(type(event.user_traits), event_content(event), text) for event, text in zip(*decoded)]


def _generic(body: bytes) -> list | None:
    """The generic way's events, as _typed gives them, or None where it refuses any of the
    body."""
    try:
        data = json_strict_loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.keys() != {"events"} or not data["events"]:
        return None
    if not isinstance(data["events"], list):
        return None
    try:
        parsed = [event_input_parse_serialized(item) for item in data["events"]]
    except InvalidEvent:
        return None
    return [(type(event.user_traits), event_content(event), text) for event, text in parsed]


@settings(max_examples=3000, derandomize=True, database=None, deadline=None)
@given(body=BODIES)
@example(body='{"events":[' + _item([], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"s":81.0,"t":0.5}')], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"a":1,"a":2}')], "") + "]}")
@example(body='{"events":[' + _item([("event_id", '"e2"')], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"n":"\\u0000"}')], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"n":0.00001}')], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"n":1e16}')], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"n":' + "1" * 41 + "}")], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"n":"\x7f"}')], "") + "]}")
@example(body='{"events":[' + _item([("payload", '{"s":"' + "x" * 65536 + '"}')], "") + "]}")
@example(body='{"events":[' + _item([("event_id", '"e2"'), ("source", '"a\\u003ab"')], "") + "]}")
def test_the_typed_way_answers_as_the_generic_way_or_leaves_the_body_to_it(body):
    typed = _typed(body.encode())
    if typed is None:
        return
    # repr tells 1 from 1.0 and Decimal("12.5") from Decimal("12.50"), shows key order and
    # the time zone.
    assert repr(typed) == repr(_generic(body.encode()))


def _bench_like_body(count: int) -> bytes:
    """Items as bench/ingest_throughput.py and most clients write them: compact JSON."""
    items = [
        {
            "event_id": f"e-{n}",
            "tenant_id": "acme",
            "source": "web",
            "event_type": "purchase",
            "timestamp": "2025-03-01T10:30:00.250Z",
            "payload": {"page": f"/p/{n}", "device": {"os": "ios"}, "items": n, "score": n + 0.25},
            "user_id": n + 1,
            "amount": f"{n}.50",
        }
        for n in range(count)
    ]
    return json.dumps({"events": items}, separators=(",", ":")).encode()


def test_a_compact_body_of_valid_events_takes_the_typed_way_with_its_payloads_as_sent():
    body = _bench_like_body(3)

    typed = bulk_body_decode(body)

    assert typed is not None
    assert repr(_typed(body)) == repr(_generic(body))
    events, texts = typed
    assert texts[2] == '{"page":"/p/2","device":{"os":"ios"},"items":2,"score":2.25}'
    assert str(events[2].amount) == "2.50"


def test_a_payload_written_otherwise_is_stored_as_the_generic_way_writes_it():
    body = _bench_like_body(1).replace(b'"score":0.25}', b'"score": 1.0, "x": "\\u00e9"}')

    typed = bulk_body_decode(body)

    assert typed is not None
    assert typed[1][0] == '{"page":"/p/0","device":{"os":"ios"},"items":0,"score":1,"x":"\\u00e9"}'
    assert repr(_typed(body)) == repr(_generic(body))


def test_a_repeated_key_in_an_item_leaves_the_body_to_the_generic_way():
    body = _bench_like_body(2).replace(b'"source":"web"', b'"source":"web","source":"ios"', 1)

    assert bulk_body_decode(body) is None


def _compact(events) -> bytes:
    return json.dumps({"events": events}, separators=(",", ":")).encode()


# In order: each sees what the ones before stored (duplicates, conflicts, unknown users).
API_BODIES = [
    _compact([_event(n) for n in range(3)]),
    _compact([_event(n) for n in range(5)]),
    _compact([_event(0), _event(1, event_type="purchase")]),
    _compact([_event(7), _event(7), _event(7, payload={"o": 1})]),
    _compact([_event(8), _event(9, user_id=99), _event(10, user_id=2)]),
    _compact([_event(11, timestamp="2024-01-15T10:30:00"), _event(12)]),
    _compact([_event(13), "evt_14", None]),
    _compact([_event(15, amount="12.5", payload={"s": 81.0, "x": "é"}, user_id=1)]),
    json.dumps({"events": [_event(16, payload={"s": 0.5, "l": [1, 2.5]})]}).encode(),
    _bench_like_body(4),
    _bench_like_body(4),
    _compact([_event(n, tenant_id="tenant_2") for n in range(3)]),
    _compact([_event(17), _event(18, payload={"n": "\u0000"})]),
    b'{"events":[{"event_id":"evt_19","event_id":"evt_20","tenant_id":"tenant_1","source":"web",'
    b'"event_type":"click","timestamp":"2024-01-15T10:30:00Z"}]}',
    _compact([]),
    _compact([_event(n, event_id=f"many_{n}") for n in range(5001)]),
]


def _answers_and_rows(api_client) -> tuple[list, list]:
    from events.models import Event

    answers = []
    for body in API_BODIES:
        response = api_client.post("/events/bulk", body, content_type="application/json")
        answers.append((response.status_code, response.json()))
    columns = [f.attname for f in Event._meta.fields if f.attname not in ("id", "received_at")]
    rows = list(Event.objects.order_by("tenant_id", "event_id").values_list(*columns))
    Event.objects.all().delete()
    return answers, rows


def test_the_api_answers_and_stores_the_same_with_the_typed_way_or_without(
    api_client, users, monkeypatch
):
    typed = [body for body in API_BODIES if bulk_body_decode(body) is not None]
    with_typed_way = _answers_and_rows(api_client)
    monkeypatch.setattr("events.bulk_body.bulk_body_decode", lambda body: None)

    without = _answers_and_rows(api_client)

    assert len(typed) == 11
    assert with_typed_way == without
