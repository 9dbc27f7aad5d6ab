"""numbers_positional: numbers in exponent notation written positionally, strings untouched."""

import json

import pytest

from midnite_test.renderers import numbers_positional


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (1e-07, b"0.0000001"),
        (-1e-40, b"-0." + b"0" * 39 + b"1"),
        (1.234e-05, b"0.00001234"),
        (1.2345678901234567e19, b"12345678901234567000"),
        (0.1, b"0.1"),
        (123.45, b"123.45"),
        (10**25, b"10000000000000000000000000"),
    ],
)
def test_a_number_is_written_positionally_with_its_value(value, written):
    text = numbers_positional(json.dumps([value]).encode())

    assert text == b"[" + written + b"]"
    # The same double: 12345678901234567000 is the shortest decimal naming 1.2345678901234567e19.
    assert json.loads(text, parse_int=float) == [float(value)]


def test_strings_and_keys_that_look_like_numbers_are_kept_as_they_are():
    text = json.dumps({"1e-07": ['a "quoted" 2e+20', "\\", 3e-07, 'x\\"1e-07']}).encode()

    assert numbers_positional(text) == text.replace(b"3e-07", b"0.0000003")


def test_an_answer_without_an_exponent_is_returned_as_it_is():
    text = b'{"page":"one-e-mail","n":1.5}'

    assert numbers_positional(text) is text


@pytest.mark.parametrize(
    "value",
    [
        {"a:1e-07,b": [":2e+20]", 1e-07, "[3e-05", -4.5e-06], "c": {"d": 1.5e300}},
        [1e-07, "1e-07", 2e-07, ",3e-07"],
        {"x": "e-05 e+19", "y": 0.5, "z": 6e-10},
        1e-07,
    ],
)
def test_without_a_backslash_the_quotes_tell_strings_apart(value):
    text = json.dumps(value, separators=(",", ":")).encode()
    assert b"\\" not in text

    written = numbers_positional(text)

    assert json.loads(written, parse_float=_positional_float, parse_int=float) == json.loads(
        text, parse_int=float
    )


def _positional_float(literal: str) -> float:
    assert "e" not in literal, literal
    return float(literal)
