"""A strict JSON parser: exact decimals, no NaN, Infinity or exponent notation."""

import json
from decimal import Decimal

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


def _decimal_without_exponent(literal: str) -> Decimal:
    if "e" in literal or "E" in literal:
        raise ValueError(f"number {literal!r} uses exponent notation; send a plain decimal")
    return Decimal(literal)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number this API accepts")


class StrictJSONParser(JSONParser):
    """Parse JSON with JSON numbers as Decimal, never float.

    Body size is bounded before parsing by Django's DATA_UPLOAD_MAX_MEMORY_SIZE; the exception
    handler answers a larger body with 413.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json.loads(
                stream.read(),
                parse_float=_decimal_without_exponent,
                parse_constant=_reject_constant,
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}")
        except RecursionError:
            raise exceptions.ParseError("The request body is not valid JSON: nested too deeply")
