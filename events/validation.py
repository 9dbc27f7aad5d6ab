"""Validation of ingested events without a serializer per event.

Bulk requests carry up to 5,000 events; a DRF serializer instance per event would cost more
than storing them. `event_input_parse` checks one item with plain Python and names every bad
field, in the API's `details` shape (`{"field": ["message", ...]}`).
"""

import hashlib
import json
import re
from collections.abc import Callable
from itertools import repeat
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from events.contracts import EventInput, ProductEvent
from events.models import TRANSACTION_SOURCE
from midnite_test.serializers import money_parse
from midnite_test.text import CONTROL_CHARACTER, controls_refuse

MAX_ID_LENGTH = 128
MAX_NAME_LENGTH = 64
MAX_PAYLOAD_BYTES = 64 * 1024
# Levels of objects and arrays in a payload, properties or traits (the value itself is 1).
MAX_PAYLOAD_DEPTH = 32
# Digits of a number in a payload, properties or traits: any such number is a finite double.
MAX_NUMBER_DIGITS = 40
# The times ClickHouse's DateTime64 can hold: every stored event goes to its event log.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MAX_AMOUNT = Decimal(10) ** 12
MAX_USER_ID = 2**63 - 1
RESERVED_EVENT_ID_PREFIX = "txn:"
REQUIRED = ("event_id", "tenant_id", "source", "event_type", "timestamp")
PRODUCT_REQUIRED = ("user_id", "event_type", "event_timestamp")
# The prefix of the ids product_event_id derives from an item's content.
CONTENT_EVENT_ID_PREFIX = "h:"


class InvalidEvent(Exception):
    """An item is not a valid event; `errors` names each bad field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def event_input_parse(item: Any) -> EventInput:
    """Return the EventInput `item` describes, or raise InvalidEvent naming each bad field."""
    return event_input_parse_serialized(item)[0]


def event_input_parse_serialized(item: Any) -> tuple[EventInput, str]:
    """Like event_input_parse; also return the payload as stored, in compact JSON.

    Checking the payload's size serializes it anyway, so storing it need not do so again.
    A valid item takes the short way (_event_checked); any other gets the field by field
    checks, which name every bad field.
    """
    if isinstance(item, dict) and _REQUIRED_FIELDS <= item.keys() <= _FIELDS:
        try:
            return _event_checked(item)
        except ValueError:
            pass
    _fields_check(item, required=REQUIRED, checks=_CHECKS)
    raise AssertionError(f"{item!r} failed a check that the field by field checks passed")


def _event_checked(item: dict[str, Any]) -> tuple[EventInput, str]:
    """Return the event of an item with the expected fields; ValueError if one is bad."""
    properties, properties_json = (
        payload_parse(item["payload"]) if "payload" in item else ({}, "{}")
    )
    event = event_input_checked(
        tenant_id=item["tenant_id"],
        event_id=item["event_id"],
        source=item["source"],
        event_type=item["event_type"],
        timestamp=item["timestamp"],
        properties=properties,
        user_id=item.get("user_id"),
        amount=item.get("amount"),
    )
    return event, properties_json


def event_input_checked(
    *,
    tenant_id: Any,
    event_id: Any,
    source: Any,
    event_type: Any,
    timestamp: Any,
    properties: dict[str, Any],
    user_id: Any,
    amount: Any,
) -> EventInput:
    """Return the event of these field values as parsed; ValueError if one is bad.

    The same checks as _CHECKS, called directly: a bulk request makes 5,000 of these, and
    collecting each field's errors (_fields_check) costs more than the checks themselves.
    `properties` is payload_parse's value; a None `user_id` or `amount` is the field left out.
    """
    return EventInput(
        tenant_id=_id_text(tenant_id),
        event_id=_event_id(event_id),
        source=_source(source),
        event_type=_name_text(event_type),
        occurred_at=timestamp_parse(timestamp),
        properties=properties,
        user_id=None if user_id is None else _user_id(user_id),
        amount=None if amount is None else _amount(amount),
    )


def product_event_parse(item: Any) -> ProductEvent:
    """Return the product event `item` describes, or raise InvalidEvent naming each bad field.

    `properties` and `user_traits` default to {}. Without an `event_id` (absent or null)
    the event gets one derived from its content (product_event_id), so a re-sent item is
    recognised either way.
    """
    values = _fields_check(item, required=PRODUCT_REQUIRED, checks=_PRODUCT_CHECKS)
    properties, properties_json = values.get("properties", ({}, "{}"))
    user_traits, _ = values.get("user_traits", ({}, "{}"))
    event_id = values.get("event_id") or product_event_id(
        user_id=values["user_id"],
        event_type=values["event_type"],
        occurred_at=values["event_timestamp"],
        properties=properties,
        user_traits=user_traits,
    )
    return ProductEvent(
        event_id=event_id,
        user_id=values["user_id"],
        event_type=values["event_type"],
        occurred_at=values["event_timestamp"],
        properties=properties,
        properties_json=properties_json,
        user_traits=user_traits,
    )


def product_event_id(
    *,
    user_id: str,
    event_type: str,
    occurred_at: datetime,
    properties: dict[str, Any],
    user_traits: dict[str, Any],
) -> str:
    """Return the id of a product event sent without one: a hash of its content.

    `"h:"` and the sha256 of the canonical JSON (sorted keys, compact) of the validated
    fields, the time in UTC: the same item sent again, in any key order or time zone,
    gets the same id.
    """
    content = {
        "user_id": user_id,
        "event_type": event_type,
        "event_timestamp": occurred_at.isoformat(),
        "properties": properties,
        "user_traits": user_traits,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return CONTENT_EVENT_ID_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()


def _fields_check(
    item: Any, *, required: tuple[str, ...], checks: dict[str, Callable[[Any], Any]]
) -> dict[str, Any]:
    """Return the checked value of each field `item` has, or raise InvalidEvent."""
    if not isinstance(item, dict):
        raise InvalidEvent({"non_field_errors": ["An event must be a JSON object."]})
    errors: dict[str, list[str]] = {}
    for name in item.keys() - checks.keys():
        errors[name] = ["Unknown field."]
    for name in required:
        if name not in item:
            errors[name] = ["This field is required."]
    values = {}
    for name, check in checks.items():
        if name in item and name not in errors:
            try:
                values[name] = check(item[name])
            except ValueError as exc:
                errors[name] = [str(exc)]
    if errors:
        raise InvalidEvent(errors)
    return values


# PostgreSQL's text and jsonb cannot hold the NUL character.
_NUL = "The NUL character (\\u0000) is not allowed."
# \u0000 in serialized JSON, not preceded by an escaped backslash (a literal "\\u0000").
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _text(limit: int):
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("A string is required.")
        if not value.strip():
            raise ValueError("This field may not be blank.")
        if len(value) > limit:
            raise ValueError(f"At most {limit} characters are allowed.")
        return controls_refuse(value)

    return check


_id_text = _text(MAX_ID_LENGTH)
_name_text = _text(MAX_NAME_LENGTH)


def event_columns_valid(
    *, tenant_ids: list[str], event_ids: list[str], sources: list[str], event_types: list[str]
) -> bool:
    """Whether the events of a bulk body, given as columns of str, pass the checks of their
    fields (_id_text, _event_id, _source, _name_text).

    Each check runs over a whole column in C: for 5,000 events a call per value costs more
    than the checks themselves.
    """
    return (
        _identifiers_valid(tenant_ids, MAX_ID_LENGTH)
        and _identifiers_valid(event_ids, MAX_ID_LENGTH)
        and not any(map(str.startswith, event_ids, repeat(RESERVED_EVENT_ID_PREFIX)))
        and _identifiers_valid(sources, MAX_NAME_LENGTH)
        and TRANSACTION_SOURCE not in sources
        and _identifiers_valid(event_types, MAX_NAME_LENGTH)
    )


def _identifiers_valid(values: list[str], limit: int) -> bool:
    """Whether each of `values` passes _text(limit): not blank, at most `limit` characters,
    no control character."""
    if not values:
        return True
    if max(map(len, values)) > limit or not all(map(str.strip, values)):
        return False
    # Joined by a space, which is printable: the text is printable unless a value is not.
    joined = " ".join(values)
    return joined.isprintable() or not CONTROL_CHARACTER.search(joined)


def _event_id(value: Any) -> str:
    value = _id_text(value)
    if value.startswith(RESERVED_EVENT_ID_PREFIX):
        raise ValueError(
            f'Ids starting with "{RESERVED_EVENT_ID_PREFIX}" are reserved for POST /event.'
        )
    return value


def _source(value: Any) -> str:
    value = _name_text(value)
    if value == TRANSACTION_SOURCE:
        # The alert stream (alerts.stream) is POST /event's: no other way in may feed it.
        raise ValueError(f'The source "{TRANSACTION_SOURCE}" is reserved for POST /event.')
    return value


def timestamp_parse(value: Any) -> datetime:
    """Return the ISO 8601 timestamp `value` in UTC; it must carry a timezone."""
    if not isinstance(value, str):
        raise ValueError('An ISO 8601 timestamp string such as "2024-01-15T10:30:00Z" is required.')
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp.") from None
    if parsed.tzinfo is None:
        raise ValueError("The timestamp must carry a timezone, such as Z or +01:00.")
    return time_in_range(parsed)


_OUT_OF_RANGE = (
    f"Must be between {EARLIEST_TIME:%Y-%m-%dT%H:%M:%SZ} and {LATEST_TIME:%Y-%m-%dT%H:%M:%S.%fZ}."
)


def time_in_range(moment: datetime) -> datetime:
    """Return the aware `moment` in UTC; raise ValueError outside EARLIEST_TIME..LATEST_TIME.

    Year 1 with a positive offset, or 9999 with a negative one, has no UTC datetime at all.
    """
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_TIME <= utc <= LATEST_TIME:
        raise ValueError(_OUT_OF_RANGE)
    return utc


# ASCII only (ensure_ascii): a payload's length in characters is its length in bytes.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def payload_serialize(value: dict) -> str:
    """Return a payload as it is stored and measured: compact JSON."""
    return _COMPACT_JSON.encode(value)


def payload_parse(value: Any) -> tuple[dict, str]:
    """Return a parsed payload as stored, and its compact JSON; ValueError names a fault."""
    if not isinstance(value, dict):
        raise ValueError("A JSON object is required.")
    value, serialized = _storable_short(value) or _storable(value)
    return value, payload_text_check(serialized)


def payload_text_check(serialized: str) -> str:
    """Return a payload's compact JSON; ValueError if it is too large or holds a NUL."""
    if len(serialized) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"At most {MAX_PAYLOAD_BYTES // 1024} KiB serialized is allowed.")
    if "\\u0000" in serialized and _ESCAPED_NUL.search(serialized):
        raise ValueError(_NUL)
    return serialized


def _storable(value: dict) -> tuple[dict, str]:
    """Return `value` as stored (_without_decimals) and serialized; ValueError names a fault."""
    value = _without_decimals(value, MAX_PAYLOAD_DEPTH)
    return value, payload_serialize(value)


def number_storable(number: Decimal) -> int | float:
    """Return the parser's exact Decimal as the int or float stored in JSON.

    Raises ValueError for more than MAX_NUMBER_DIGITS digits (the parser gives such integers
    as Decimal).
    """
    _, digits, exponent = number.as_tuple()
    # Digits as written: 0.0001 has one significant digit and four after the point.
    if max(len(digits), -exponent) > MAX_NUMBER_DIGITS:
        raise ValueError(f"Numbers may have at most {MAX_NUMBER_DIGITS} digits.")
    return int(number) if number == number.to_integral_value() else float(number)


# payload_serialize's encoder, turning the parser's Decimals (the only values JSON has no
# type for) into what _without_decimals would.
_COMPACT_JSON_OF_DECIMALS = json.JSONEncoder(separators=(",", ":"), default=number_storable)
_STORED_JSON = msgspec.json.Decoder()


def _storable_short(value: dict) -> tuple[dict, str] | None:
    """Return what _storable(value) returns, or None where it may raise.

    Serializing in C turns each Decimal into its number as it goes, and decoding the result
    builds the value as stored; both cost a fraction of walking the value in Python. A
    number with too many digits raises; a value of at most MAX_PAYLOAD_DEPTH brackets nests
    no deeper. Any other value takes the walk, which names the first fault it meets.
    """
    try:
        serialized = _COMPACT_JSON_OF_DECIMALS.encode(value)
    except ValueError:
        return None
    if serialized.count("[") + serialized.count("{") > MAX_PAYLOAD_DEPTH:
        return None
    return _STORED_JSON.decode(serialized), serialized


# Values _without_decimals returns as they are; checked by exact type, without a call each.
_SCALARS = frozenset({str, int, bool, float, type(None)})


def _without_decimals(value: Any, levels: int) -> Any:
    """Return `value` with the parser's exact Decimals as JSON-storable ints and floats.

    Raises ValueError for a container nested deeper than `levels` (counting `value`) or a
    number of more than MAX_NUMBER_DIGITS digits (the parser gives such integers as Decimal).
    """
    if isinstance(value, Decimal):
        return number_storable(value)
    if levels < 1 and isinstance(value, (dict, list)):
        raise ValueError(f"Objects and arrays may nest at most {MAX_PAYLOAD_DEPTH} levels deep.")
    if isinstance(value, dict):
        return {
            key: item if type(item) in _SCALARS else _without_decimals(item, levels - 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            item if type(item) in _SCALARS else _without_decimals(item, levels - 1)
            for item in value
        ]
    return value


def _event_id_or_none(value: Any) -> str | None:
    return None if value is None else _event_id(value)


def _user_id(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("A JSON integer is required.")
    if not 1 <= value <= MAX_USER_ID:
        raise ValueError(f"Must be between 1 and {MAX_USER_ID}.")
    return value


def _amount(value: Any) -> Decimal | None:
    return None if value is None else money_parse(value, max_value=MAX_AMOUNT)


# A decimal string money_parse accepts, but for its value: no sign, at most 2 places.
_PLAIN_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_CENT = Decimal("0.01")


def amount_stored(value: str | int) -> Decimal:
    """Return the amount _amount returns for a str or an int (not a bool: a typed decoder's
    value, events.bulk_body); ValueError where it raises, without naming the fault.

    A bulk body has an amount in many of its 5,000 events; these checks are money_parse's in
    fewer steps. Of plain decimals of at most 2 places, those more than 0 are those of a cent
    or more.
    """
    if type(value) is str and not _PLAIN_AMOUNT.fullmatch(value):
        raise ValueError("not a plain amount of at most 2 places")
    amount = Decimal(value)
    if not _CENT <= amount <= MAX_AMOUNT:
        raise ValueError(f"not between {_CENT} and {MAX_AMOUNT}")
    return amount.quantize(_CENT)


_CHECKS = {
    "event_id": _event_id,
    "tenant_id": _id_text,
    "source": _source,
    "event_type": _name_text,
    "timestamp": timestamp_parse,
    "payload": payload_parse,
    "user_id": _user_id,
    "amount": _amount,
}

_PRODUCT_CHECKS = {
    "user_id": _text(MAX_ID_LENGTH),
    "event_type": _text(MAX_NAME_LENGTH),
    "event_timestamp": timestamp_parse,
    "properties": payload_parse,
    "user_traits": payload_parse,
    "event_id": _event_id_or_none,
}

_FIELDS = frozenset(_CHECKS)
_REQUIRED_FIELDS = frozenset(REQUIRED)
