"""Conditions of the existing notification rule format (`event_conditions`), with its semantics.

The format's `property_match` differs from the rule language's: `EQ`, `IN` and `NIN` compare
both sides as text, case-insensitively, and `GT`/`GTE`/`LT`/`LTE` read both sides as numbers
(the string "3" is 3). `event_proximity` looks only backwards from the event. `event_logic` and
the list of conditions map onto the rule language's `AllOf`, `AnyOf` and `Not`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from operator import ge, gt, le, lt
from typing import Any

from rules.conditions import as_decimal, resolve_path
from rules.exceptions import RuleParseError
from rules.history import EventFilter, EventRecord, History
from rules.parser import RULE_INTEGER_MAX, Node, _kind

LEGACY_ITEM_KEYS = ("property_match", "event_proximity", "event_logic")
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_DURATION_UNITS = (86_400, 3_600, 60, 1)
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class LegacyOperator(StrEnum):
    """The operators of the existing format's `property_match`."""

    EQ = "EQ"
    GT = "GT"
    GTE = "GTE"
    LT = "LT"
    LTE = "LTE"
    IN = "IN"
    NIN = "NIN"


TEXT_OPERATORS = frozenset({LegacyOperator.EQ, LegacyOperator.IN, LegacyOperator.NIN})
_ORDERINGS: Mapping[LegacyOperator, Callable[[Decimal, Decimal], bool]] = {
    LegacyOperator.GT: gt,
    LegacyOperator.GTE: ge,
    LegacyOperator.LT: lt,
    LegacyOperator.LTE: le,
}


def legacy_text(value: Any) -> str | None:
    """Return `value` as the text EQ/IN/NIN compare, lower-cased; None when it has none.

    Strings are themselves; booleans `true`/`false`; numbers as JSON writes them (1 is "1",
    1.0 is "1.0", so 1.0 does not equal "1"). Objects, lists and None have no text.
    """
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value).lower()
    if isinstance(value, Decimal):
        return str(value).lower()
    return None


def legacy_number(value: Any) -> Decimal | None:
    """Return `value` as the number GT/GTE/LT/LTE compare, or None when it is not one.

    Numbers (never booleans) and strings holding a decimal number, optionally with an exponent
    and surrounding spaces (" 3", "2.5", "1e3"), are numbers; "NaN", "inf" and "" are not.
    """
    if isinstance(value, str):
        text = value.strip()
        return Decimal(text) if _NUMBER_TEXT.fullmatch(text) else None
    return as_decimal(value)


@dataclass(frozen=True, kw_only=True)
class LegacyPropertyMatch:
    """The existing format's `property_match`: `path` compared with `value` by `operator`.

    `value` is the file's value for EQ (a string, number or boolean), a tuple of them for
    IN/NIN and a Decimal for the ordering operators. A missing path (absent or null) passes only
    NIN. `texts` holds the lower-cased texts EQ, IN and NIN compare against; being a field, it
    also keeps `value: 1` and `value: true` (equal in Python) from comparing equal.
    """

    path: str
    operator: LegacyOperator
    value: Any
    texts: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        texts = frozenset(text for text in map(legacy_text, values) if text is not None)
        object.__setattr__(self, "texts", texts if self.operator in TEXT_OPERATORS else frozenset())

    @classmethod
    def from_node(cls, node: Node) -> LegacyPropertyMatch:
        """Return the `property_match` that `node` describes."""
        node.keys_allow("property_xpath", "value", "operator")
        path = node.event_path("property_xpath")
        operator = _operator(node)
        value: Any
        if operator in (LegacyOperator.IN, LegacyOperator.NIN):
            items = node.non_empty_list("value")
            value = tuple(
                _text_value(item, path=f"{node.at('value')}[{index}]")
                for index, item in enumerate(items)
            )
        elif operator is LegacyOperator.EQ:
            value = _text_value(node.required("value"), path=node.at("value"))
        else:
            value = _number_value(node)
        return cls(path=path, operator=operator, value=value)

    def matches(self, record: EventRecord) -> bool:
        """Return whether `record` satisfies this match."""
        found, actual = resolve_path(record, self.path)
        if self.operator is LegacyOperator.NIN:
            return not found or legacy_text(actual) not in self.texts
        if not found:
            return False
        if self.operator in TEXT_OPERATORS:
            return legacy_text(actual) in self.texts
        number = legacy_number(actual)
        return number is not None and _ORDERINGS[self.operator](number, self.value)

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether `event` satisfies this match; `history` is not consulted."""
        return self.matches(event)


@dataclass(frozen=True, kw_only=True)
class LegacyProximity:
    """Pass when another event of the filter lies within `seconds` BEFORE the event.

    The window is [t - seconds, t], inclusive at both ends: it never reaches after the event,
    and the event itself never satisfies it. `duration` is the file's text ("1d"), for messages.
    """

    events: EventFilter
    seconds: int
    duration: str

    @classmethod
    def from_node(cls, node: Node) -> LegacyProximity:
        """Return the `event_proximity` that `node` describes.

        Its `event_conditions` filter the other event, which the event store must be able to
        query, so they may only be `property_match` items.
        """
        node.keys_allow("event_type", "time_proximity", "event_conditions")
        event_type = node.text("event_type")
        raw = node.required("time_proximity")
        seconds = duration_seconds(raw, path=node.at("time_proximity"))
        return cls(
            events=EventFilter(event_types=frozenset({event_type}), where=_nested_matches(node)),
            seconds=seconds,
            duration=raw.strip() if isinstance(raw, str) else f"{raw}s",
        )

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether a matching other event has t - seconds <= occurred_at <= t."""
        end = event.occurred_at
        start = end - timedelta(seconds=self.seconds)
        return history.exists(events=self.events, start=start, end=end)


def _operator(node: Node) -> LegacyOperator:
    """Return the operator under `operator` (any case: EQ, eq)."""
    value = node.required("operator")
    names = tuple(LegacyOperator)
    if not isinstance(value, str) or value.upper() not in names:
        raise node.error("operator", f"must be one of: {', '.join(names)}; got {value!r}")
    return LegacyOperator(value.upper())


def _text_value(value: Any, *, path: str) -> Any:
    """Return a string, number or boolean value as the file has it."""
    if isinstance(value, (str, bool)) or as_decimal(value) is not None:
        return value
    raise RuleParseError(path, f"must be a string, number or boolean, not {_kind(value)}")


def _number_value(node: Node) -> Decimal:
    """Return the value of an ordering operator: a number or a string holding one ("3")."""
    value = node.required("value")
    number = legacy_number(value)
    if number is None:
        raise node.error("value", f"must be a number or a numeric string, not {_kind(value)}")
    return number


def _nested_matches(node: Node) -> tuple[LegacyPropertyMatch, ...]:
    """Return the property matches of a proximity's `event_conditions` (absent or null: none)."""
    items = node.mapping.get("event_conditions")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise node.error("event_conditions", f"must be a list, not {_kind(items)}")
    matches: list[LegacyPropertyMatch] = []
    for index, item in enumerate(items):
        item_node = Node.of(item, path=f"{node.at('event_conditions')}[{index}]")
        item_node.keys_allow(*LEGACY_ITEM_KEYS)
        for key in LEGACY_ITEM_KEYS[1:]:
            if item_node.mapping.get(key) is not None:
                raise item_node.error(
                    key, "is not supported inside event_proximity; use property_match"
                )
        if item_node.mapping.get("property_match") is None:
            raise item_node.error("property_match", "must be non-null")
        matches.append(LegacyPropertyMatch.from_node(item_node.child("property_match")))
    return tuple(matches)


def duration_seconds(value: Any, *, path: str) -> int:
    """Return the seconds of a duration: an integer, or text like 1d, 24h, 30m, 1h30m, 90s.

    Units are d, h, m and s, largest first, each at most once; a string of digits is seconds.
    Raise RuleParseError, at `path`, for anything else (negative numbers, "1w", "1.5h", "") and
    for more than RULE_INTEGER_MAX seconds.
    """
    seconds = _seconds(value)
    if seconds is None:
        raise RuleParseError(
            path,
            "must be seconds (an integer >= 0) or a duration like 1d, 24h, 30m, 1h30m, 90s; "
            f"not {_kind(value)}",
        )
    if seconds > RULE_INTEGER_MAX:
        raise RuleParseError(
            path, f"must be at most {RULE_INTEGER_MAX} seconds (about 68 years), not {seconds}"
        )
    return seconds


def _seconds(value: Any) -> int | None:
    """The seconds `value` spells as a duration, or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = _DURATION.fullmatch(text)
    if text and match:
        return sum(int(part or 0) * unit for part, unit in zip(match.groups(), _DURATION_UNITS))
    return None
