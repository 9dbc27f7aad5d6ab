"""Condition kinds of the rule language, one frozen dataclass each, registered by YAML name.

A condition answers one question with `passes(event=..., history=...)`. Leaf kinds are written
`{type: <name>, ...}` in YAML and are listed in `CONDITION_TYPES`; combinators are single-key
mappings (`{all: [...]}`, `{any: [...]}`, `{not: ...}`) and are listed in `COMBINATORS`. Each
kind reads itself from YAML in `from_node`, using the helpers of `rules.parser.Node`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Reversible
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from operator import ge, gt, le, lt
from typing import TYPE_CHECKING, Any, Protocol, cast

from rules.history import AggregateFunction, EventFilter, EventRecord, History
from rules.schema import Window

if TYPE_CHECKING:
    from rules.parser import Node

_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_RECORD_FIELDS = frozenset({"event_type", "amount"})
_RECORD_MAPPINGS = frozenset({"properties", "user_traits"})
_FILTER_KEYS = ("event_type", "event_types", "where")


class Operator(StrEnum):
    """How a property match compares the value at its path with its constant."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NIN = "nin"
    EXISTS = "exists"


ORDERING_OPERATORS = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})
MEMBERSHIP_OPERATORS = frozenset({Operator.IN, Operator.NIN})
AGGREGATE_OPERATORS = ORDERING_OPERATORS | {Operator.EQ, Operator.NEQ}
_ORDERINGS: Mapping[Operator, Callable[[Decimal, Decimal], bool]] = {
    Operator.GT: gt,
    Operator.GTE: ge,
    Operator.LT: lt,
    Operator.LTE: le,
}


class Condition(Protocol):
    """What every condition kind provides."""

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether `event` satisfies the condition, asking `history` what it needs."""
        ...

    @classmethod
    def from_node(cls, node: Node) -> Condition:
        """Return the condition that the YAML mapping `node` describes."""
        ...


def as_decimal(value: Any) -> Decimal | None:
    """Return `value` as a Decimal when it is a finite number, else None.

    Numbers are int, float (converted through `str`) and Decimal; a bool is never a number.
    """
    if type(value) is Decimal:  # the common case (amounts, rule constants), checked first
        return value if value.is_finite() else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def path_is_valid(path: str) -> bool:
    """Return whether `path` names an event field the rule language can read."""
    root, *keys = path.split(".")
    if root in _RECORD_FIELDS:
        return not keys
    return root in _RECORD_MAPPINGS and bool(keys) and all(keys)


@lru_cache(maxsize=1024)
def _path_parts(path: str) -> tuple[str, ...] | None:
    """The steps of a valid `path`, else None: once per path (rules name few), not per event."""
    return tuple(path.split(".")) if path_is_valid(path) else None


def resolve_path(record: EventRecord, path: str) -> tuple[bool, Any]:
    """Return (found, value) for the dotted `path` of `record`.

    `event_type` and `amount` are the record's fields; `properties.a.b` and `user_traits.x`
    walk its mappings. A missing key, a step into a non-mapping, an unknown path and a None
    value all count as not found.
    """
    parts = _path_parts(path)
    if parts is None:
        return False, None
    root, *keys = parts
    value = getattr(record, root)
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return False, None
        value = value[key]
    return value is not None, value


def _numbers(left: Any, right: Any) -> tuple[Decimal, Decimal] | None:
    """Return both sides as Decimals when they compare as numbers, else None.

    A string that is a plain decimal ("12", "-0.50") counts as a number when the other side is
    a number.
    """
    left_number, right_number = as_decimal(left), as_decimal(right)
    if left_number is None and right_number is not None:
        left_number = _decimal_from_text(left)
    elif right_number is None and left_number is not None:
        right_number = _decimal_from_text(right)
    if left_number is None or right_number is None:
        return None
    return left_number, right_number


def _decimal_from_text(value: Any) -> Decimal | None:
    """Return `value` as a Decimal when it is a string holding a plain decimal, else None."""
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    return None


def _equal(left: Any, right: Any) -> bool:
    """Return whether two values are equal, numbers by value and booleans only to booleans."""
    numbers = _numbers(left, right)
    if numbers is not None:
        return numbers[0] == numbers[1]
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if as_decimal(left) is not None or as_decimal(right) is not None:
        return False
    return bool(left == right)


def _is_member(value: Any, candidates: Any) -> bool:
    """Return whether `value` equals one of `candidates` (a list or tuple)."""
    if not isinstance(candidates, (list, tuple)):
        return False
    return any(_equal(value, candidate) for candidate in candidates)


def compare(*, found: bool, value: Any, op: Operator, expected: Any) -> bool:
    """Return whether a resolved value satisfies `op` against `expected`; never raise.

    A missing value satisfies only `neq`, `nin` and `exists` with `expected` False. Ordering
    operators need both sides to be numbers (see `_numbers`) and are False otherwise.
    """
    if op is Operator.EXISTS:
        return found == (expected is not False)
    if op is Operator.NEQ:
        return not found or not _equal(value, expected)
    if op is Operator.NIN:
        return not found or not _is_member(value, expected)
    if not found:
        return False
    if op is Operator.EQ:
        return _equal(value, expected)
    if op is Operator.IN:
        return _is_member(value, expected)
    numbers = _numbers(value, expected)
    return numbers is not None and _ORDERINGS[op](*numbers)


@dataclass(frozen=True, kw_only=True)
class PropertyMatch:
    """Compare the value at a dotted path of an event with a constant.

    `value` is a tuple for `in`/`nin`, a bool for `exists` (False: the path must be missing)
    and a string, Decimal or bool otherwise.
    """

    path: str
    op: Operator
    value: Any = True

    @classmethod
    def from_node(cls, node: Node) -> PropertyMatch:
        """Return the property match that `node` describes."""
        node.keys_allow("type", "path", "op", "value")
        path = node.event_path("path")
        op = Operator(node.choice("op", tuple(Operator)))
        if op is Operator.EXISTS:
            value: Any = node.boolean("value", default=True)
        elif op in MEMBERSHIP_OPERATORS:
            value = node.scalars("value")
        elif op in ORDERING_OPERATORS:
            value = node.number("value")
        else:
            value = node.scalar("value")
        return cls(path=path, op=op, value=value)

    def matches(self, record: EventRecord) -> bool:
        """Return whether `record` satisfies this match."""
        found, value = resolve_path(record, self.path)
        return compare(found=found, value=value, op=self.op, expected=self.value)

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether `event` satisfies this match; `history` is not consulted."""
        return self.matches(event)


@dataclass(frozen=True, kw_only=True)
class Proximity:
    """Pass when another matching event lies within `window` around the event."""

    events: EventFilter
    window: Window

    @classmethod
    def from_node(cls, node: Node) -> Proximity:
        """Return the proximity condition that `node` describes."""
        node.keys_allow("type", *_FILTER_KEYS, "window")
        return cls(events=node.events(required=True), window=node.window("window"))

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether a matching event other than the anchor lies in the window."""
        start, end = self.window.bounds(event.occurred_at)
        return history.exists(events=self.events, start=start, end=end)


@dataclass(frozen=True, kw_only=True)
class Sequence:
    """Pass when the last `count` matching events all pass `match` and/or strictly increase.

    The events are the anchor's history up to and including the anchor, so the anchor is
    one of them when it matches `events`. Fewer than `count` events never pass.
    """

    count: int
    events: EventFilter
    match: Condition | None = None
    increasing: str | None = None

    @classmethod
    def from_node(cls, node: Node) -> Sequence:
        """Return the sequence condition that `node` describes."""
        node.keys_allow("type", "count", *_FILTER_KEYS, "match", "increasing")
        if not node.has("match") and not node.has("increasing"):
            raise node.error(None, "needs `match`, `increasing` or both")
        return cls(
            count=node.integer("count", minimum=1),
            events=node.events(required=False),
            match=node.condition("match") if node.has("match") else None,
            increasing=node.event_path("increasing") if node.has("increasing") else None,
        )

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether the last `count` matching events satisfy `match` and `increasing`."""
        recent = history.last(count=self.count, events=self.events)
        if len(recent) < self.count:
            return False
        if self.match is not None:
            if not all(self.match.passes(event=item, history=history) for item in recent):
                return False
        return self.increasing is None or _strictly_increasing(recent, self.increasing)


def _strictly_increasing(newest_first: Reversible[EventRecord], path: str) -> bool:
    """Return whether the numbers at `path` strictly increase from oldest to newest.

    A missing value or one that is not a number fails.
    """
    values = [as_decimal(resolve_path(record, path)[1]) for record in reversed(newest_first)]
    numbers = [value for value in values if value is not None]
    if len(numbers) != len(values):
        return False
    return all(older < newer for older, newer in zip(numbers, numbers[1:]))


@dataclass(frozen=True, kw_only=True)
class WindowAggregate:
    """Pass when `function` of `path` over matching events in `window` compares true to `value`.

    `path` is empty for `count`. An aggregate of None (no event had a number) never passes.
    """

    function: AggregateFunction
    events: EventFilter
    window: Window
    op: Operator
    value: Decimal
    path: str = ""

    @classmethod
    def from_node(cls, node: Node) -> WindowAggregate:
        """Return the window aggregate that `node` describes."""
        node.keys_allow("type", "function", "path", *_FILTER_KEYS, "window", "op", "value")
        function = cast(AggregateFunction, node.choice("function", ("count", "sum", "min", "max")))
        if function == "count" and node.has("path"):
            raise node.error("path", "is not allowed with function count")
        choices = tuple(op for op in Operator if op in AGGREGATE_OPERATORS)
        return cls(
            function=function,
            path="" if function == "count" else node.event_path("path"),
            events=node.events(required=False),
            window=node.window("window"),
            op=Operator(node.choice("op", choices)),
            value=node.number("value"),
        )

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether the aggregate over the window around `event` satisfies `op`."""
        start, end = self.window.bounds(event.occurred_at)
        result = history.aggregate(
            function=self.function, path=self.path, events=self.events, start=start, end=end
        )
        if result is None:
            return False
        return compare(found=True, value=result, op=self.op, expected=self.value)


@dataclass(frozen=True, kw_only=True)
class AllOf:
    """Pass when every condition passes (YAML `{all: [...]}`)."""

    conditions: tuple[Condition, ...]

    @classmethod
    def from_node(cls, node: Node) -> AllOf:
        """Return the conjunction that `node` describes."""
        return cls(conditions=node.conditions("all"))

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether every condition passes, stopping at the first that fails."""
        return all(item.passes(event=event, history=history) for item in self.conditions)


@dataclass(frozen=True, kw_only=True)
class AnyOf:
    """Pass when at least one condition passes (YAML `{any: [...]}`)."""

    conditions: tuple[Condition, ...]

    @classmethod
    def from_node(cls, node: Node) -> AnyOf:
        """Return the disjunction that `node` describes."""
        return cls(conditions=node.conditions("any"))

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether any condition passes, stopping at the first that does."""
        return any(item.passes(event=event, history=history) for item in self.conditions)


@dataclass(frozen=True, kw_only=True)
class Not:
    """Pass when the condition fails (YAML `{not: ...}`)."""

    condition: Condition

    @classmethod
    def from_node(cls, node: Node) -> Not:
        """Return the negation that `node` describes."""
        return cls(condition=node.condition("not"))

    def passes(self, *, event: EventRecord, history: History) -> bool:
        """Return whether the condition fails."""
        return not self.condition.passes(event=event, history=history)


CONDITION_TYPES: Mapping[str, type[Condition]] = {
    "property_match": PropertyMatch,
    "proximity": Proximity,
    "sequence": Sequence,
    "window_aggregate": WindowAggregate,
}
COMBINATORS: Mapping[str, type[Condition]] = {"all": AllOf, "any": AnyOf, "not": Not}
