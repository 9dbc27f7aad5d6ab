"""POST /events/bulk's typed decoder: a body of valid events decoded and checked in C.

A bulk body holds up to 5,000 items of one shape. The generic way (midnite_test.parsers, then
events.validation) builds a dict per item, makes every number a Decimal and serializes each
payload again in Python; msgspec decodes the body into Structs and checks each field's type in
one pass, each payload's numbers already as stored, and writes each payload again in C. The
answer must still be the generic way's: `bulk_body_decode` returns the events only where its
checks show that the generic way would accept every item and store the same values, the
payload's text included. On any doubt it returns None and the body takes the generic way,
which names each fault.
"""

from dataclasses import dataclass
from decimal import Decimal

import msgspec

from events.contracts import EventInput
from events.validation import (
    MAX_PAYLOAD_DEPTH,
    event_input_checked,
    number_storable,
    payload_parse,
    payload_text_check,
)
from midnite_test.memory import collector_paused
from midnite_test.parsers import StrictJSONParser, long_digit_run


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    """An item with the types the generic way accepts.

    An amount sent as a JSON number with a fraction fails the type and leaves the body to the
    generic way (which reads it as an exact Decimal); as a string or an integer it is the same.
    """

    event_id: str
    tenant_id: str
    source: str
    event_type: str
    timestamp: str
    payload: dict | msgspec.UnsetType = msgspec.UNSET
    user_id: int | None | msgspec.UnsetType = msgspec.UNSET
    amount: str | int | None | msgspec.UnsetType = msgspec.UNSET


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    events: list[_Item]


def _stored_number(literal: str) -> int | float:
    """The number payload_parse stores for a payload's number `literal` with a fraction.

    msgspec's float_hook: called with the literal as written. Raises ValueError (the body then
    takes the generic way) for an exponent, which the parser refuses, for more digits than
    validation allows, and for a float that Python's repr writes with an exponent (under 0.0001
    or from 1e16), where msgspec writes another text than payload_serialize.
    """
    if "e" in literal or "E" in literal:
        raise ValueError("exponent notation")
    number = number_storable(Decimal(literal))
    if type(number) is float and not 1e-4 <= abs(number) < 1e16:
        raise ValueError("msgspec writes this float otherwise")
    return number


_BODY = msgspec.json.Decoder(_Body, float_hook=_stored_number)
_ENCODER = msgspec.json.Encoder()


def bulk_body_decode(body: bytes) -> list[tuple[EventInput, str]] | None:
    """Return each item's event and payload as stored, or None to leave `body` to the generic way.

    None for anything but `{"events": [...]}` of 1 or more items that each pass every check
    of events.validation, and for bodies the checks here cannot vouch for: a repeated key, an
    escaped colon, a run of 40 digits, a number msgspec would write otherwise.
    """
    # An escaped colon (\u003a) would hide from the colon count below; an integer of more than
    # 40 digits is the parser's Decimal, and validation refuses it, but msgspec's int.
    if b"\\u003" in body or long_digit_run(body):
        return None
    try:
        with collector_paused():
            return _events(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None


def _events(body: bytes) -> list[tuple[EventInput, str]] | None:
    """bulk_body_decode's work; raises msgspec.DecodeError or ValueError where it gives up."""
    items = _BODY.decode(body).events
    # msgspec takes a repeated key's last value. Encoded again (the unset fields left out),
    # each member writes one colon outside strings and strings keep theirs: a repeated key
    # shows as a colon fewer, as midnite_test.parsers counts them.
    if not items or _ENCODER.encode(items).count(b":") + 1 != body.count(b":"):
        return None
    events = []
    for item in items:
        properties, properties_json = _payload(item.payload)
        event = event_input_checked(
            tenant_id=item.tenant_id,
            event_id=item.event_id,
            source=item.source,
            event_type=item.event_type,
            timestamp=item.timestamp,
            properties=properties,
            user_id=None if item.user_id is msgspec.UNSET else item.user_id,
            amount=None if item.amount is msgspec.UNSET else item.amount,
        )
        events.append((event, properties_json))
    return events


def _payload(value: dict | msgspec.UnsetType) -> tuple[dict, str]:
    """Return a payload as stored and its text, as payload_parse does.

    `value`'s numbers are as stored already (_stored_number). msgspec writes its text as
    payload_serialize does when it is ASCII without DEL (which json escapes); any other, or one
    of more brackets than a payload may nest (the generic way then walks it), goes through
    payload_parse.
    """
    if value is msgspec.UNSET:
        return {}, "{}"
    text = _ENCODER.encode(value)
    if (
        text.isascii()
        and b"\x7f" not in text
        and text.count(b"[") + text.count(b"{") <= MAX_PAYLOAD_DEPTH
    ):
        return value, payload_text_check(text.decode())
    return payload_parse(value)


@dataclass(frozen=True)
class DecodedBulkBody:
    """A bulk body bulk_body_decode vouched for: each item's event and payload as stored."""

    events: list[tuple[EventInput, str]]


class BulkBodyParser(StrictJSONParser):
    """StrictJSONParser giving a DecodedBulkBody for a body bulk_body_decode vouches for."""

    def decode(self, body: bytes) -> object:
        events = bulk_body_decode(body)
        return super().decode(body) if events is None else DecodedBulkBody(events)
