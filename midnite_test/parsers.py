"""A strict JSON parser: exact decimals, no NaN, Infinity or exponent notation, no repeated keys."""

import json
from decimal import Decimal

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from midnite_test.memory import collector_paused


class RepeatedKey(ValueError):
    """An object names one key twice; Python's json would silently keep the last value."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class PayloadTooLarge(exceptions.APIException):
    """The request body is larger than the endpoint accepts (see midnite_test.parsers)."""

    status_code = 413
    default_code = "payload_too_large"
    default_detail = "The request body is larger than any endpoint accepts (32 MiB)."


DEFAULT_MAX_BODY_BYTES = 64 * 1024


def _size(size: int) -> str:
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 2**10} KiB"


def _decimal_without_exponent(literal: str) -> Decimal:
    if "e" in literal or "E" in literal:
        raise ValueError(f"number {literal!r} uses exponent notation; send a plain decimal")
    return Decimal(literal)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number this API accepts")


def _object_without_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise RepeatedKey(key)
            seen.add(key)
    return obj


def json_strict_loads(body: bytes) -> object:
    """Parse `body` as StrictJSONParser does; raise ValueError (RepeatedKey) or RecursionError."""
    with collector_paused():
        return json.loads(
            body,
            parse_float=_decimal_without_exponent,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_without_repeated_keys,
        )


class StrictJSONParser(JSONParser):
    """Parse JSON with JSON numbers as Decimal, never float, and each key once per object.

    A body larger than the view's `max_body_bytes` (64 KiB unless the view says otherwise)
    is answered with 413 before it is parsed. Django's DATA_UPLOAD_MAX_MEMORY_SIZE is the
    largest any view accepts.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        view = (parser_context or {}).get("view")
        limit = getattr(view, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(
                f"The request body is larger than the {_size(limit)} this endpoint accepts."
            )
        try:
            return json_strict_loads(body)
        except RepeatedKey as exc:
            raise exceptions.ParseError(
                f"The request body repeats the key {exc.key!r} in one object; send each key once."
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}")
        except RecursionError:
            raise exceptions.ParseError("The request body is not valid JSON: nested too deeply")
