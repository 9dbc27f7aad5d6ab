"""The API's JSON parser: strict, exact and bounded.

Exact decimals; no NaN, Infinity or exponent notation; each key once per object; at most
MAX_BODY_DEPTH levels of nesting; each view's body limit enforced before the body is read.

Two decoders give one answer: msgspec's, compiled, decodes a body when cheap exact checks
show that Python's json with this module's hooks would return the same value; any other body
(malformed, a repeated key, a long integer) goes to Python's, which says what is wrong.
"""

import json
import re
import string
from decimal import Decimal

import msgspec
from django.utils.http import parse_header_parameters
from rest_framework import exceptions, renderers
from rest_framework.parsers import BaseParser

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
# Levels of objects and arrays in a body (the body itself is 1): deeper bodies are refused
# whole, before any code walks them recursively.
MAX_BODY_DEPTH = 64
# Integer literals longer than this come back as Decimal, as other numbers do: Python's int
# refuses more than 4,300 digits, and the validators give one answer for any number too long.
_LONG_INTEGER = 40
_SURROGATE = re.compile("[\ud800-\udfff]")


class LoneSurrogate(ValueError):
    """A string of the body holds half of a UTF-16 surrogate pair: it is not text."""

    def __init__(self) -> None:
        super().__init__("a string holds a lone UTF-16 surrogate (\\ud800 to \\udfff)")


class NestedTooDeeply(ValueError):
    """The body nests objects and arrays deeper than MAX_BODY_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"objects and arrays nest more than {MAX_BODY_DEPTH} levels deep")


def _size(size: int) -> str:
    return f"{size // 2**20} MiB" if size >= 2**20 else f"{size // 2**10} KiB"


def _decimal_without_exponent(literal: str) -> Decimal:
    if "e" in literal or "E" in literal:
        raise ValueError(f"number {literal!r} uses exponent notation; send a plain decimal")
    return Decimal(literal)


def _integer(literal: str) -> int | Decimal:
    return int(literal) if len(literal) <= _LONG_INTEGER else Decimal(literal)


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
    """Parse `body` as StrictJSONParser does.

    Raises ValueError (RepeatedKey, NestedTooDeeply, LoneSurrogate) or, for a body nested
    deeper than the decoder can follow, RecursionError.
    """
    # Strict UTF-8, as RFC 8259 asks (a byte order mark ignored, as it allows): a surrogate's
    # UTF-8 bytes are refused here, so only a \ud800 to \udfff escape can make a lone one.
    text = body.decode("utf-8").removeprefix("\ufeff")
    with collector_paused():
        value = _compiled_loads(text)
        if value is _UNDECIDED:
            value = _python_loads(text)
        # Each level opens one bracket at least: most bodies need no walk.
        brackets = text.count("[") + text.count("{")
        if brackets > MAX_BODY_DEPTH and _deeper_than(value, MAX_BODY_DEPTH):
            raise NestedTooDeeply()
        if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(value):
            raise LoneSurrogate()
    return value


def _python_loads(text: str) -> object:
    """Decode `text` with Python's json and this module's hooks: the reference answer."""
    return json.loads(
        text,
        parse_float=_decimal_without_exponent,
        parse_int=_integer,
        parse_constant=_reject_constant,
        object_pairs_hook=_object_without_repeated_keys,
    )


# What _compiled_loads returns for a body it leaves to _python_loads.
_UNDECIDED = object()
# msgspec calls the hook with a number's literal as written (1.50 stays 1.50); it refuses NaN
# and Infinity itself, and gives integers as int, whatever their length.
_COMPILED_DECODER = msgspec.json.Decoder(float_hook=_decimal_without_exponent)
_COMPILED_ENCODER = msgspec.json.Encoder()
# Every byte a digit's or a space: a run of _LONG_INTEGER digits shows as a run of "0"s.
_DIGITS_ONLY = bytes(ord("0") if chr(byte) in string.digits else ord(" ") for byte in range(256))
_DIGIT_RUN = b"0" * _LONG_INTEGER


def _compiled_loads(text: str) -> object:
    """Return what _python_loads(text) returns, decoded by msgspec, or _UNDECIDED.

    _UNDECIDED for text msgspec refuses (malformed JSON, an exponent, a lone surrogate: Python
    then raises, naming the fault) and for the two things it decodes otherwise:
    - a repeated key, which it takes as the last value given. Each member of an object writes
      one colon outside strings, and msgspec writes colons in strings as they are: so the value
      encoded again has fewer colons than the text exactly when a key repeats, unless the text
      escapes a colon (\u003a), which the count then leaves to Python;
    - an integer literal longer than _LONG_INTEGER, which it gives as int and _integer as
      Decimal: any run of that many digits (in a number or a string) leaves the text to Python.
    """
    raw = text.encode()
    if b"\\u003" in raw or long_digit_run(raw):
        return _UNDECIDED
    try:
        value = _COMPILED_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return _UNDECIDED
    if _COMPILED_ENCODER.encode(value).count(b":") != raw.count(b":"):
        return _UNDECIDED
    return value


def long_digit_run(raw: bytes) -> bool:
    """Whether `raw` holds a run of _LONG_INTEGER digits, in a number or a string."""
    return _DIGIT_RUN in raw.translate(_DIGITS_ONLY)


def _has_lone_surrogate(value: object) -> bool:
    """Whether a key or a string anywhere in `value` holds a lone surrogate."""
    pending = [value]
    while pending:
        item = pending.pop()
        if type(item) is str:
            if _SURROGATE.search(item):
                return True
        elif type(item) is dict:
            pending += item.keys()
            pending += item.values()
        elif type(item) is list:
            pending += item
    return False


def _deeper_than(value: object, levels: int) -> bool:
    """Whether `value` nests objects and arrays more than `levels` deep, level by level."""
    level = [value] if type(value) in (dict, list) else []
    for _ in range(levels):
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) in (dict, list)
        ]
        if not level:
            return False
    return True


class StrictJSONParser(BaseParser):
    """Parse JSON with JSON numbers as Decimal, never float, and each key once per object.

    A body larger than the view's `max_body_bytes` (64 KiB unless the view says otherwise)
    is answered with 413 before it is read, when its Content-Length says so, or as soon as
    the bytes read pass the limit; it is never parsed. Django's DATA_UPLOAD_MAX_MEMORY_SIZE
    is the largest any view accepts. Not a JSONParser: DRF reads the whole body (up to that
    largest size) before it calls a JSONParser, and gives this one the stream.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        _charset_check(media_type or "")
        context = parser_context or {}
        limit = getattr(context.get("view"), "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        request = context.get("request")
        declared = request.META.get("CONTENT_LENGTH", "") if request is not None else ""
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise _too_large(limit)
        return self.decode(body)

    def decode(self, body: bytes) -> object:
        """Return the value of a body within the limit; ParseError says what is wrong."""
        try:
            return json_strict_loads(body)
        except RepeatedKey as exc:
            raise exceptions.ParseError(
                f"The request body repeats the key {exc.key!r} in one object; send each key once."
            )
        except (NestedTooDeeply, RecursionError):
            raise exceptions.ParseError(
                f"The request body nests objects and arrays more than {MAX_BODY_DEPTH} levels "
                "deep."
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}")


def _charset_check(media_type: str) -> None:
    """Refuse a body whose media type declares a charset other than UTF-8: JSON is UTF-8 (RFC
    8259), and its bytes in another charset would be read as UTF-8, wrongly or not at all."""
    charset = parse_header_parameters(media_type)[1].get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise exceptions.UnsupportedMediaType(
            media_type,
            detail=f"JSON bodies are UTF-8; this one declares charset {charset!r}. Send it as "
            "UTF-8 (application/json, or with charset=utf-8).",
        )


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the {_size(limit)} this endpoint accepts."
    )
