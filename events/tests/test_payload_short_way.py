"""A payload is made storable in C where it can be; the answer is the walk's.

`payload_parse` tries `_storable_short` (serialize with the Decimals turned into numbers, then
decode the text) and falls back to `_storable` (the walk), which names the first fault it
meets. Whatever the payload, the short way must return exactly what the walk returns (the
same ints and floats, keys in the same order, the same text), or give up (None).
"""

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from events.validation import _storable, _storable_short

NUMBERS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.integers(min_value=30, max_value=45).map(lambda digits: Decimal("7" * digits)),
    st.integers(min_value=30, max_value=45).map(lambda zeros: Decimal("0." + "0" * zeros + "3")),
    st.integers(min_value=-(2**140), max_value=2**140),
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=5))


def _nested(depth: int, leaf) -> dict:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


PAYLOADS = st.one_of(
    st.dictionaries(
        st.text(max_size=4),
        st.recursive(
            SCALARS,
            lambda inner: st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=3), inner, max_size=3),
            max_leaves=10,
        ),
        max_size=4,
    ),
    st.builds(_nested, st.integers(min_value=25, max_value=40), SCALARS),
)


@settings(max_examples=1000, derandomize=True, database=None, deadline=None)
@given(payload=PAYLOADS)
@example(payload={"score": Decimal("12.50"), "n": Decimal("3.0"), "v": [Decimal("-0.0")]})
@example(payload={"big": Decimal("1" * 41)})
@example(payload={"note": "a\x00b\U0001f600"})
def test_the_short_way_answers_as_the_walk_or_gives_up(payload):
    short = _storable_short(payload)
    if short is None:
        return
    # repr tells 1 from 1.0 and shows the keys' order.
    assert repr(short) == repr(_storable(payload))


def test_a_payload_with_decimals_takes_the_short_way():
    payload = {"score": Decimal("12.50"), "device": {"os": "ios"}, "items": 3}

    assert _storable_short(payload) == (
        {"score": 12.5, "device": {"os": "ios"}, "items": 3},
        '{"score":12.5,"device":{"os":"ios"},"items":3}',
    )
