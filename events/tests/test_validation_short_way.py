"""A valid event takes the short way (one call per field); the answer is the field checks'.

`event_input_parse_serialized` tries `_event_checked` first and falls back to `_fields_check`,
which names every bad field. Whatever the item, the short way must return what the field
checks' values make, or give up (ValueError) where they raise.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.contracts import EventInput
from events.validation import (
    _CHECKS,
    REQUIRED,
    InvalidEvent,
    _event_checked,
    _fields_check,
    event_input_parse_serialized,
)

VALID = {
    "event_id": "evt_1",
    "tenant_id": "tenant_1",
    "source": "web",
    "event_type": "purchase",
    "timestamp": "2024-01-15T11:30:00.250+01:00",
    "payload": {"page": "/p", "score": Decimal("1.50"), "device": {"v": [1, Decimal("2")]}},
    "user_id": 7,
    "amount": "12.5",
}
# Values that pass some checks and fail others.
ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=2**64),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.text(max_size=6),
    st.sampled_from(["", " ", "\u00a0x", "a\x85", "txn:1", "transactions", "x" * 129, "9" * 45]),
    st.sampled_from(["2024-01-15T10:30:00", "2300-01-01T00:00:00Z", "1.001", "0", "-1"]),
    st.dictionaries(
        st.text(max_size=3),
        st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2),
        max_size=2,
    ),
)
ITEMS = st.dictionaries(st.sampled_from([*VALID, "colour"]), ODD, max_size=3).map(
    lambda changes: {**VALID, **changes}
)


def test_a_valid_event_takes_the_short_way():
    event, properties_json = _event_checked(VALID)

    assert event == EventInput(**_expected(VALID))
    assert properties_json == '{"page":"/p","score":1.5,"device":{"v":[1,2]}}'


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(item=ITEMS, dropped=st.sets(st.sampled_from(REQUIRED), max_size=1))
def test_the_short_way_answers_as_the_field_checks(item, dropped):
    item = {name: value for name, value in item.items() if name not in dropped}
    try:
        expected = _expected(item)
    except InvalidEvent as invalid:
        with pytest.raises(InvalidEvent) as raised:
            event_input_parse_serialized(item)
        assert raised.value.errors == invalid.errors
        return
    assert event_input_parse_serialized(item)[0] == EventInput(**expected)


def _expected(item) -> dict:
    values = _fields_check(item, required=REQUIRED, checks=_CHECKS)
    return {
        "tenant_id": values["tenant_id"],
        "event_id": values["event_id"],
        "source": values["source"],
        "event_type": values["event_type"],
        "occurred_at": values["timestamp"],
        "properties": values.get("payload", ({}, "{}"))[0],
        "user_id": values.get("user_id"),
        "amount": values.get("amount"),
    }
