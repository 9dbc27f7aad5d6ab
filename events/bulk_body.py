"""POST /events/bulk's typed decoder: a body of valid events decoded and checked in C.

A bulk body holds up to 5,000 items of one shape. The generic way (midnite_test.parsers, then
events.validation) builds a dict per item, makes every number a Decimal and serializes each
payload again in Python; msgspec decodes the body into Structs and checks each field's type in
one pass, and keeps each payload as written. The answer must still be the generic way's:
`bulk_body_decode` returns the events only where its checks show that the generic way would
accept every item and store the same values, the payload's text included. On any doubt it
returns None and the body takes the generic way, which names each fault.
"""

import re
from dataclasses import dataclass

import msgspec

from events.contracts import EventInput
from events.validation import (
    MAX_PAYLOAD_DEPTH,
    event_input_checked,
    payload_parse,
    payload_text_check,
)
from midnite_test.memory import collector_paused
from midnite_test.parsers import StrictJSONParser, json_strict_loads


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    """An item with the types the generic way accepts; the payload as written.

    An amount sent as a JSON number with a fraction fails the type and leaves the body to the
    generic way (which reads it as an exact Decimal); as a string or an integer it is the same.
    """

    event_id: str
    tenant_id: str
    source: str
    event_type: str
    timestamp: str
    payload: msgspec.Raw = msgspec.UNSET
    user_id: int | None | msgspec.UnsetType = msgspec.UNSET
    amount: str | int | None | msgspec.UnsetType = msgspec.UNSET


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    events: list[_Item]


_BODY = msgspec.json.Decoder(_Body)
_PAYLOAD = msgspec.json.Decoder(dict)
_ENCODER = msgspec.json.Encoder()
# Where text msgspec wrote differs from what payload_serialize writes for the same value, or
# the generic way refuses it: DEL (json escapes it); a number in exponent notation, or under
# 0.0001 (json's float repr uses exponents from there); an integral float ("81.0": the generic
# way stores 81); a run of 40 digits (it refuses numbers of more than 40 digits).
_NOT_AS_STORED = re.compile(rb"\x7f|\d{40}|[:,\[]-?(?:0\.0000|[\d.]+e|\d+\.0[,\]}])")


def bulk_body_decode(body: bytes) -> list[tuple[EventInput, str]] | None:
    """Return each item's event and payload as stored, or None to leave `body` to the generic way.

    None for anything but `{"events": [...]}` of 1 or more items that each pass every check
    of events.validation, and for bodies the checks here cannot vouch for (a repeated key, an
    escaped colon, a payload written otherwise than payload_serialize writes it and that the
    strict parser refuses).
    """
    # An escaped colon (\u003a) would hide from the colon count below.
    if b"\\u003" in body:
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


def _payload(raw: msgspec.Raw) -> tuple[dict, str]:
    """Return a payload as stored and its text, as payload_parse does for the parser's value.

    A payload written as msgspec writes it (compact, ASCII, numbers as Python writes them)
    is stored as written; any other is parsed and serialized the generic way.
    """
    if raw is msgspec.UNSET:
        return {}, "{}"
    text = bytes(raw)
    value = _PAYLOAD.decode(text)
    if (
        text.isascii()
        and _ENCODER.encode(value) == text
        and text.count(b"[") + text.count(b"{") <= MAX_PAYLOAD_DEPTH
        and not _NOT_AS_STORED.search(text)
    ):
        return value, payload_text_check(text.decode())
    return payload_parse(json_strict_loads(text))


@dataclass(frozen=True)
class DecodedBulkBody:
    """A bulk body bulk_body_decode vouched for: each item's event and payload as stored."""

    events: list[tuple[EventInput, str]]


class BulkBodyParser(StrictJSONParser):
    """StrictJSONParser giving a DecodedBulkBody for a body bulk_body_decode vouches for."""

    def decode(self, body: bytes) -> object:
        events = bulk_body_decode(body)
        return super().decode(body) if events is None else DecodedBulkBody(events)
