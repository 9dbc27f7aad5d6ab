"""msgspec decodes a body only where Python's json with the parser's hooks gives the same value.

`json_strict_loads` tries `_compiled_loads` (msgspec) first and falls back to `_python_loads`,
which names what is wrong. Whatever the text, the compiled way must return exactly what the
Python way returns (the same types: Decimal, not int or float), or leave the text to it.
"""

import json
from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from midnite_test.parsers import _UNDECIDED, _compiled_loads, _python_loads, json_strict_loads

# Keys that repeat, also written another way ("\u0061" is "a"), and keys holding colons.
KEYS = st.sampled_from(['"a"', '"b"', '"\\u0061"', '"a:b"', '"\\u003a"', '"\\u003A"', '":"'])
STRINGS = st.lists(
    st.sampled_from(
        [
            "a",
            ":",
            "é",
            "\\u003a",
            "\\ud800",
            "\\udc00",
            "\\ud83d\\ude00",
            "\\u0000",
            "\\n",
            '\\"',
            "\\\\",
            "\\/",
            "\t",
            "\x7f",
            "1" * 41,
            "{[",
        ]
    ),
    max_size=4,
).map(lambda parts: '"' + "".join(parts) + '"')
NUMBERS = st.one_of(
    st.integers(min_value=-(2**140), max_value=2**140).map(str),
    st.integers(min_value=38, max_value=42).map(lambda digits: "9" * digits),
    st.integers(min_value=37, max_value=41).map(lambda digits: "-" + "9" * digits),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["1.50", "-0.0", "-0", "0.1", "1e3", "1E+3", "1.5e-2", "01", "1.", ".5"]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1" + "0" * 50 + ".5", "0." + "0" * 45]),
)
SCALARS = st.one_of(st.sampled_from(["true", "false", "null", "tru"]), NUMBERS, STRINGS)
SPACE = st.sampled_from(["", "", " ", "\n", "\t", "\r", "\f", "\xa0"])


def _array(items: list[tuple[str, str]]) -> str:
    return "[" + ",".join(space + item for space, item in items) + "]"


def _object(members: list[tuple[str, str, str]]) -> str:
    return "{" + ",".join(f"{key}{space}:{value}" for key, space, value in members) + "}"


VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(st.tuples(SPACE, inner), max_size=4).map(_array),
        st.lists(st.tuples(KEYS, SPACE, inner), max_size=4).map(_object),
    ),
    max_leaves=12,
)
# Valid JSON and near misses: a character dropped, doubled or replaced.
TEXTS = st.one_of(
    st.tuples(SPACE, VALUES, SPACE).map("".join),
    st.tuples(VALUES, st.integers(min_value=0), st.sampled_from(["", ",", "]", "}", ":", '"'])).map(
        lambda case: _mutated(*case)
    ),
)


def _mutated(text: str, at: int, insert: str) -> str:
    at %= len(text) + 1
    return text[:at] + insert + text[at + 1 :]


@settings(max_examples=1500, derandomize=True, database=None, deadline=None)
@given(text=TEXTS)
@example(text='{"a":1,"\\u0061":2}')
@example(text='{"a":1,"a":"\\u003a"}')
@example(text="[" + "9" * 41 + "]")
@example(text='["\\ud800"]')
def test_the_compiled_way_answers_as_python_s_or_leaves_the_text_to_it(text):
    compiled = _compiled_loads(text)
    if compiled is _UNDECIDED:
        return
    # repr tells 1, Decimal("1") and Decimal("1.0") apart, and shows the keys' order.
    assert repr(compiled) == repr(_python_loads(text))


def test_a_bulk_body_is_decoded_by_msgspec_with_its_numbers_exact():
    item = {
        "event_id": "e-1",
        "timestamp": "2025-03-01T10:30:00.250Z",
        "payload": {"score": "x", "device": {"os": "ios", "v": "5.12.3"}, "items": 3},
    }
    text = json.dumps({"events": [item] * 3}).replace('"x"', "12.50")

    assert _compiled_loads(text) is not _UNDECIDED
    assert json_strict_loads(text.encode())["events"][2]["payload"]["score"] == Decimal("12.50")
