"""The API's JSON renderer: DRF's, with every number in the notation the parser accepts.

The parser refuses exponents (midnite_test.parsers: a few characters could otherwise name a
number of any size), but Python writes a float under 0.0001 or from 1e16 with one (`1e-07`),
and payloads keep their numbers as floats (events.validation.number_storable). An answer that
wrote `1e-07` could not be sent back as it came, so each such number is written again here,
positionally (`0.0000001`). The digits are the float's shortest repr, the very value stored:
PostgreSQL's jsonb holds the same digits and writes them the same way.
"""

import re
from decimal import Decimal

from rest_framework import renderers

# A number's exponent as Python's float repr writes it (`e-07`, `e+19`): found fast (the
# pattern starts with a literal), and most answers have none.
_EXPONENT = re.compile(rb"e[-+][0-9]+")
# What precedes an exponent in a number, up to the exponent (the search's end): its sign,
# digits and fraction, after `:`, `,`, `[` or at the start.
_MANTISSA = re.compile(rb"(?:^|[:,\[])(-?[0-9]+(?:\.[0-9]+)?)\Z")
# A JSON string (kept as it is: its text may look like a number) or a number with an exponent.
_STRING_OR_EXPONENT = re.compile(
    rb'"[^"\\]*(?:\\.[^"\\]*)*"|(-?[0-9]+(?:\.[0-9]+)?e[-+][0-9]+)', re.DOTALL
)
# The most characters of a mantissa: a sign, 17 digits, a point, and the character before.
_MANTISSA_LENGTH = 20


def numbers_positional(text: bytes) -> bytes:
    """Return JSON `text` with each number written positionally, of the same value."""
    exponents = list(_EXPONENT.finditer(text))
    if not exponents:
        return text
    if b"\\" in text:
        # An escaped quote would upset the count below: the strings are tokenized instead.
        return _STRING_OR_EXPONENT.sub(_positional, text)
    return _outside_strings_positional(text, exponents)


def _outside_strings_positional(text: bytes, exponents: list[re.Match]) -> bytes:
    """numbers_positional for a text without a backslash, so without an escaped quote: an
    exponent is outside every string exactly when an even number of quotes precede it."""
    parts, written, counted, quotes = [], 0, 0, 0
    for exponent in exponents:
        start, end = exponent.span()
        quotes += text.count(b'"', counted, start)
        counted = start
        mantissa = _MANTISSA.search(text, max(written, start - _MANTISSA_LENGTH), start)
        if quotes % 2 or mantissa is None:
            continue
        parts += [
            text[written : mantissa.start(1)],
            _number_positional(text[mantissa.start(1) : end]),
        ]
        written = end
    return b"".join([*parts, text[written:]])


def _positional(match: re.Match) -> bytes:
    number = match.group(1)
    return match.group(0) if number is None else _number_positional(number)


def _number_positional(number: bytes) -> bytes:
    return format(Decimal(number.decode()), "f").encode()


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer, numbers written positionally (numbers_positional)."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return numbers_positional(super().render(data, accepted_media_type, renderer_context))
