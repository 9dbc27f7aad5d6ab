"""POST /events/bulk's typed decoder: a body of valid events decoded and checked in C.

A bulk body holds up to 5,000 items of one shape. The generic way (midnite_test.parsers, then
events.validation) builds a dict per item, makes every number a Decimal and serializes each
payload again in Python; msgspec decodes the body into Structs and checks each field's type in
one pass, each payload's numbers already as stored, and writes each payload again in C. The
answer must still be the generic way's: `bulk_body_decode` returns the events only where its
checks show that the generic way would accept every item and store the same values, the
payload's text included. On any doubt it returns None and the body takes the generic way,
which names each fault.

The checks cost a bulk body more than its decoding, so they run a column at a time where they
can (events.validation.event_columns_valid, the payloads' texts joined), and each decoded item
becomes the event the store reads in place, without a second object per event.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, ClassVar

import msgspec

from events.validation import (
    MAX_NUMBER_DIGITS,
    MAX_PAYLOAD_BYTES,
    MAX_PAYLOAD_DEPTH,
    MAX_USER_ID,
    amount_stored,
    event_columns_valid,
    number_storable,
    payload_parse,
    payload_text_check,
    timestamp_parse,
)
from midnite_test.memory import collector_paused
from midnite_test.parsers import StrictJSONParser, long_digit_run


class _Item(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """An item with the types the generic way accepts; once checked, the event to store.

    The annotations are the types decoded from the body: `occurred_at` is the "timestamp" as
    written, `properties` the "payload", `amount` a str or an int, and a field left out UNSET.
    _events then puts each field's stored value in its place (the time as an aware datetime in
    UTC, the amount as Decimal, None or {} for a field left out), so that the item itself is
    what events.contracts.EventFields describes.
    An amount sent as a JSON number with a fraction fails the type and leaves the body to the
    generic way (which reads it as an exact Decimal); as a string or an integer it is the same.
    """

    event_id: str
    tenant_id: str
    source: str
    event_type: str
    occurred_at: str = msgspec.field(name="timestamp")
    properties: dict | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="payload")
    user_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_USER_ID)] | None | msgspec.UnsetType = (
        msgspec.UNSET
    )
    amount: str | int | None | msgspec.UnsetType = msgspec.UNSET
    # A bulk event has no user traits (events.product's do); read only, never written.
    user_traits: ClassVar[dict] = {}

    @property
    def key(self) -> tuple[str, str]:
        return (self.tenant_id, self.event_id)


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    events: list[_Item]


def _stored_number(literal: str) -> int | float:
    """The number payload_parse stores for a payload's number `literal` with a fraction.

    msgspec's float_hook: called with the literal as written. Raises ValueError (the body then
    takes the generic way) for an exponent, which the parser refuses, for more digits than
    validation allows, and for a float that Python's repr writes with an exponent (under 0.0001
    or from 1e16), where msgspec writes another text than payload_serialize.
    A literal of at most MAX_NUMBER_DIGITS characters, no exponent and a value that is not
    integral is that float: float() rounds the literal correctly, as float(Decimal) does.
    """
    if "e" in literal or "E" in literal:
        raise ValueError("exponent notation")
    if len(literal) <= MAX_NUMBER_DIGITS:
        number = float(literal)
        if not number.is_integer() and 1e-4 <= abs(number) < 1e16:
            return number
    stored = number_storable(Decimal(literal))
    if type(stored) is float and not 1e-4 <= abs(stored) < 1e16:
        raise ValueError("msgspec writes this float otherwise")
    return stored


_BODY = msgspec.json.Decoder(_Body, float_hook=_stored_number)
# The payloads' texts, a line each, kept to their brackets and newlines: a payload of more
# brackets than MAX_PAYLOAD_DEPTH shows as a run of more, which it needs to nest that deep.
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[{\n")
_TOO_MANY_BRACKETS = re.compile(rb"[\[{]{%d}" % (MAX_PAYLOAD_DEPTH + 1))
_ENCODER = msgspec.json.Encoder()


def bulk_body_decode(body: bytes) -> tuple[list[_Item], list[str]] | None:
    """Return the events of `body` and each one's payload as stored, or None to leave `body`
    to the generic way.

    None for anything but `{"events": [...]}` of 1 or more items that each pass every check
    of events.validation, and for bodies the checks here cannot vouch for: a repeated key, an
    escaped colon, a run of 40 digits, a number msgspec would write otherwise.
    """
    # An escaped colon (\u003a) would hide from the colon count below.
    if b"\\u003" in body:
        return None
    try:
        with collector_paused():
            return _events(body)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None


def _events(body: bytes) -> tuple[list[_Item], list[str]] | None:
    """bulk_body_decode's work; raises msgspec.DecodeError or ValueError where it gives up."""
    items = _BODY.decode(body).events
    if not items:
        return None
    texts = [item.tenant_id for item in items], [item.event_id for item in items]
    names = [item.source for item in items], [item.event_type for item in items]
    timestamps = [item.occurred_at for item in items]
    valid = event_columns_valid(
        tenant_ids=texts[0], event_ids=texts[1], sources=names[0], event_types=names[1]
    )
    if not valid:
        return None
    # The members of the items' objects: the five required ones and those counted here.
    members = 5 * len(items)
    unset = msgspec.UNSET
    for item, timestamp in zip(items, timestamps):
        item.occurred_at = timestamp_parse(timestamp)
        if item.properties is unset:
            item.properties = {}
        else:
            members += 1
        if item.user_id is unset:
            item.user_id = None
        else:
            members += 1
        amount = item.amount
        if amount is unset:
            item.amount = None
        else:
            members += 1
            item.amount = None if amount is None else amount_stored(amount)
    payloads, joined = _payloads(items)
    # An integer of more than 40 digits is the parser's Decimal, and validation refuses it, but
    # msgspec's int. Only a payload can hold one that decodes (user_id and amount are bounded,
    # a number with a fraction is _stored_number's), and its text writes it again as it was.
    if long_digit_run(joined):
        return None
    # msgspec takes a repeated key's last value. Each member of an object writes one colon
    # outside strings, strings keep theirs (an amount has none) and the payloads' texts hold
    # their own: a repeated key shows as a colon more in the body than these, as
    # midnite_test.parsers counts them ("events" is the body's own member).
    strings = "".join([*texts[0], *texts[1], *names[0], *names[1], *timestamps])
    if body.count(b":") != 1 + members + strings.count(":") + joined.count(b":"):
        return None
    return items, payloads


def _payloads(items: list[_Item]) -> tuple[list[str], bytes]:
    """Return each item's payload as stored, in text, as payload_parse writes it, and their
    texts joined by newlines, encoded.

    Each payload's numbers are as stored already (_stored_number). msgspec writes its text as
    payload_serialize does when it is ASCII without DEL (which json escapes); checked over the
    payloads joined, with the size, a NUL and how deep they may nest (each payload's brackets
    counted, at most MAX_PAYLOAD_DEPTH: it nests no deeper than it has brackets). Any payload
    of a body that fails one is made one at a time (_payload).
    """
    texts = list(map(_ENCODER.encode, [item.properties for item in items]))
    # A line each: no payload's text holds a newline (json escapes it).
    joined = b"\n".join(texts)
    if (
        joined.isascii()
        and b"\x7f" not in joined
        and b"\\u0000" not in joined
        and max(map(len, texts)) <= MAX_PAYLOAD_BYTES
        and _TOO_MANY_BRACKETS.search(joined.translate(None, _NOT_BRACKETS)) is None
    ):
        return list(map(bytes.decode, texts)), joined
    payloads = []
    for item in items:
        item.properties, text = _payload(item.properties)
        payloads.append(text)
    return payloads, "\n".join(payloads).encode()


def _payload(value: dict) -> tuple[dict, str]:
    """Return one payload as stored and its text, as payload_parse does.

    msgspec writes its text as payload_serialize does when it is ASCII without DEL; any other,
    or one of more brackets than a payload may nest (the generic way then walks it), goes
    through payload_parse.
    """
    text = _ENCODER.encode(value)
    if (
        text.isascii()
        and b"\x7f" not in text
        and text.count(b"[") + text.count(b"{") <= MAX_PAYLOAD_DEPTH
    ):
        return value, payload_text_check(text.decode())
    return payload_parse(value)


@dataclass
class DecodedBulkBody:
    """A bulk body bulk_body_decode vouched for: its events and each one's payload as stored."""

    events: list[_Item]
    properties_json: list[str]

    def take(self) -> tuple[list[_Item], list[str]]:
        """Return the events and their payloads, which this body then no longer holds.

        DRF's request holds its data and is freed by the cyclic collector (it, the view and
        the response refer to one another), not when the request ends: a view that takes the
        events lets them go as it returns.
        """
        taken = self.events, self.properties_json
        self.events, self.properties_json = [], []
        return taken


class BulkBodyParser(StrictJSONParser):
    """StrictJSONParser giving a DecodedBulkBody for a body bulk_body_decode vouches for."""

    def decode(self, body: bytes) -> object:
        decoded = bulk_body_decode(body)
        return super().decode(body) if decoded is None else DecodedBulkBody(*decoded)
