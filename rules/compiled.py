"""Conditions compiled into plain functions, for evaluating one rule set over many events.

`condition_compile(condition)` returns a function `(event, history) -> bool` that answers
exactly what `condition.passes(event=event, history=history)` answers. It is faster where the
answer is simple to state, a property match on `event_type` against strings or on a Decimal
`amount` with an ordering, and it precomputes what `passes` works out per event (a window's
length). Any case it does not know, or a value it does not expect (a missing amount, a number
that is not a Decimal), goes to the condition's own `passes`, so the two never disagree. A
replay of stored history (alerts.backtest) evaluates millions of events this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Sequence as OrderedRecords
from datetime import timedelta
from decimal import Decimal
from operator import ge, gt, le, lt

from rules.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Not,
    Operator,
    PropertyMatch,
    Sequence,
    WindowAggregate,
    _strictly_increasing,
)
from rules.history import EventRecord, History

Compiled = Callable[[EventRecord, History], bool]
RecordTest = Callable[[EventRecord], bool]

_ORDERINGS: Mapping[Operator, Callable[[Decimal, Decimal], bool]] = {
    Operator.GT: gt,
    Operator.GTE: ge,
    Operator.LT: lt,
    Operator.LTE: le,
}


def condition_compile(condition: Condition) -> Compiled:
    """Return a function answering `condition.passes(event=..., history=...)`."""
    if isinstance(condition, PropertyMatch):
        test = record_match_compile(condition)
        return lambda event, history: test(event)
    if isinstance(condition, Sequence):
        return _sequence_compile(condition)
    if isinstance(condition, WindowAggregate):
        return _aggregate_compile(condition)
    if isinstance(condition, (AllOf, AnyOf)):
        parts = tuple(condition_compile(item) for item in condition.conditions)
        if isinstance(condition, AllOf):
            return lambda event, history: all(part(event, history) for part in parts)
        return lambda event, history: any(part(event, history) for part in parts)
    if isinstance(condition, Not):
        inner = condition_compile(condition.condition)
        return lambda event, history: not inner(event, history)
    return lambda event, history: condition.passes(event=event, history=history)


def record_match_compile(match: PropertyMatch) -> RecordTest:
    """Return a function answering `match.matches(record)`."""
    if match.path == "event_type":
        values = match.value if match.op in (Operator.IN, Operator.NIN) else (match.value,)
        # Strings compare as strings with strings, whatever they look like (rules.conditions).
        if all(isinstance(value, str) for value in values):
            accepted = frozenset(values)
            if match.op in (Operator.EQ, Operator.IN):
                return lambda record: record.event_type in accepted
            if match.op in (Operator.NEQ, Operator.NIN):
                return lambda record: record.event_type not in accepted
    if match.path == "amount" and match.op in _ORDERINGS and isinstance(match.value, Decimal):
        ordering, bound = _ORDERINGS[match.op], match.value

        def ordered(record: EventRecord) -> bool:
            amount = record.amount
            if type(amount) is Decimal and amount.is_finite():
                return ordering(amount, bound)
            return match.matches(record)

        return ordered
    return match.matches


def _sequence_compile(sequence: Sequence) -> Compiled:
    """Mirror `Sequence.passes`, testing a property `match` with `record_match_compile`."""
    count, events, increasing = sequence.count, sequence.events, sequence.increasing
    match = sequence.match
    test = record_match_compile(match) if isinstance(match, PropertyMatch) else None

    def passes(event: EventRecord, history: History) -> bool:
        recent = history.last(count=count, events=events)
        if len(recent) < count:
            return False
        if test is not None:
            if not all(test(item) for item in recent):
                return False
        elif match is not None:
            if not all(match.passes(event=item, history=history) for item in recent):
                return False
        return increasing is None or _increasing(recent, increasing)

    return passes


def _increasing(newest_first: OrderedRecords[EventRecord], path: str) -> bool:
    """Return `_strictly_increasing(newest_first, path)`, at once for finite Decimal amounts."""
    if path == "amount":
        amounts = [
            amount
            for amount in (record.amount for record in newest_first)
            if type(amount) is Decimal and amount.is_finite()
        ]
        if len(amounts) == len(newest_first):
            return all(newer > older for newer, older in zip(amounts, amounts[1:]))
    return _strictly_increasing(newest_first, path)


def _aggregate_compile(aggregate: WindowAggregate) -> Compiled:
    """Mirror `WindowAggregate.passes` with the window's lengths computed once."""
    before = timedelta(seconds=aggregate.window.before_seconds)
    after = timedelta(seconds=aggregate.window.after_seconds)
    function, path, events = aggregate.function, aggregate.path, aggregate.events
    ordering, bound = _ORDERINGS.get(aggregate.op), aggregate.value

    def passes(event: EventRecord, history: History) -> bool:
        at = event.occurred_at
        result = history.aggregate(
            function=function, path=path, events=events, start=at - before, end=at + after
        )
        if result is None:
            return False
        if ordering is not None and result.is_finite():
            return ordering(result, bound)
        return aggregate.passes(event=event, history=history)

    return passes
