"""Say in one sentence why a condition does not pass for an event.

`condition_failure` is what a decision records for a rule that did not match, for example
`no signup_completed in the 1d before this event` or `properties.attempt_number is missing`.
It dispatches on the condition's type, so the condition classes stay as they are; a kind it
does not know gets a generic sentence, never an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from rules.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Not,
    Operator,
    PropertyMatch,
    Proximity,
    Sequence,
    WindowAggregate,
    resolve_path,
)
from rules.history import EventFilter, EventRecord, History
from rules.legacy import LegacyOperator, LegacyPropertyMatch, LegacyProximity, legacy_number
from rules.schema import Window

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def condition_failure(condition: Condition, *, event: EventRecord, history: History) -> str | None:
    """Return None when `condition` passes for `event`, else a sentence naming what failed."""
    if condition.passes(event=event, history=history):
        return None
    return _failure(condition, event, history)


def condition_describe(condition: object) -> str:
    """Return what `condition` requires, as a short phrase (`properties.x EQ "y"`)."""
    describe = _DESCRIPTIONS.get(type(condition))
    return describe(condition) if describe else type(condition).__name__


def _failure(condition: Condition, event: EventRecord, history: History) -> str:
    """Return why `condition`, which does not pass for `event`, fails."""
    explain = _FAILURES.get(type(condition))
    if explain is None:
        return f"{condition_describe(condition)} does not hold"
    return explain(condition, event, history)


def shown(value: Any) -> str:
    """Return `value` as a message shows it: strings quoted, numbers and booleans as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    if type(value) is int:
        return str(value)  # as JSON writes it, without building an encoder: reasons show many
    return _JSON.encode(value)


_JSON = json.JSONEncoder(default=str, separators=(", ", ": "))


def duration_text(seconds: int) -> str:
    """Return `seconds` as 1d, 24h, 1h30m or 90s: the largest units that divide it exactly."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _actual(event: EventRecord, path: str) -> tuple[bool, Any, str]:
    """Return (found, value, "<path> is <value>" or "<path> is missing") for `path`."""
    found, value = resolve_path(event, path)
    return found, value, f"{path} is {shown(value)}" if found else f"{path} is missing"


def _legacy_match_failure(match: LegacyPropertyMatch, event: EventRecord, _: History) -> str:
    found, value, actual = _actual(event, match.path)
    if not found:
        return actual
    if match.operator not in (LegacyOperator.EQ, LegacyOperator.IN, LegacyOperator.NIN):
        if legacy_number(value) is None:
            return f"{actual}, not a number to compare {match.operator} {shown(match.value)}"
    return f"{actual}, not {match.operator} {shown(match.value)}"


def _match_failure(match: PropertyMatch, event: EventRecord, _: History) -> str:
    found, value, actual = _actual(event, match.path)
    if match.op is Operator.EXISTS:
        return actual if match.value else f"{actual}, not missing"
    if not found:
        return actual
    return f"{actual}, not {match.op.value} {shown(match.value)}"


def _legacy_proximity_failure(proximity: LegacyProximity, *_: Any) -> str:
    return f"no {_events_text(proximity.events)} in the {proximity.duration} before this event"


def _proximity_failure(proximity: Proximity, *_: Any) -> str:
    return f"no {_events_text(proximity.events)} {_window_text(proximity.window)}"


def _sequence_failure(sequence: Sequence, event: EventRecord, history: History) -> str:
    recent = history.last(count=sequence.count, events=sequence.events)
    events = f"{_events_text(sequence.events, plural=True)}"
    if len(recent) < sequence.count:
        return f"only {len(recent)} {events} so far, fewer than the {sequence.count} needed"
    if sequence.match is not None:
        for position, item in enumerate(recent):
            if not sequence.match.passes(event=item, history=history):
                reason = _failure(sequence.match, item, history)
                return f"of the last {sequence.count} {events}, {_nth(position)}: {reason}"
    values = ", ".join(shown(resolve_path(item, sequence.increasing or "")[1]) for item in recent)
    return (
        f"{sequence.increasing} does not strictly increase over the last {sequence.count} "
        f"{events} (newest first: {values})"
    )


def _nth(position: int) -> str:
    """Return how a message names the event `position` places from the newest (0: newest)."""
    if position == 0:
        return "the newest"
    return f"the {position + 1}{_ordinal_suffix(position + 1)} newest"


def _ordinal_suffix(number: int) -> str:
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _aggregate_failure(aggregate: WindowAggregate, event: EventRecord, history: History) -> str:
    start, end = aggregate.window.bounds(event.occurred_at)
    result = history.aggregate(
        function=aggregate.function,
        path=aggregate.path,
        events=aggregate.events,
        start=start,
        end=end,
    )
    events = _events_text(aggregate.events, plural=True)
    window = _window_text(aggregate.window)
    if result is None:
        return f"no {events} {window} has a number at {aggregate.path}"
    subject = _aggregate_text(aggregate)
    return (
        f"{subject} {window} is {shown(result)}, not {aggregate.op.value} {shown(aggregate.value)}"
    )


def _all_failure(conjunction: AllOf, event: EventRecord, history: History) -> str:
    failing = (
        item for item in conjunction.conditions if not item.passes(event=event, history=history)
    )
    return _failure(next(failing), event, history)


def _any_failure(disjunction: AnyOf, event: EventRecord, history: History) -> str:
    reasons = "; ".join(_failure(item, event, history) for item in disjunction.conditions)
    return f"none of these holds: {reasons}"


def _not_failure(negation: Not, *_: Any) -> str:
    return f"{condition_describe(negation.condition)} holds, and the rule requires it not to"


def _events_text(events: EventFilter, *, plural: bool = False) -> str:
    """Return "signup_completed", "deposit or withdraw events", "events where ..."."""
    if events.event_types is None:
        text = "events" if plural else "event"
    else:
        text = " or ".join(sorted(events.event_types))
        text = f"{text} events" if plural else text
    if events.where:
        text += " where " + " and ".join(condition_describe(m) for m in events.where)
    return text


def _window_text(window: Window) -> str:
    """Return "in the 30s before this event" or "from 1h before to 10m after this event"."""
    before, after = duration_text(window.before_seconds), duration_text(window.after_seconds)
    if window.after_seconds == 0:
        return f"in the {before} before this event"
    if window.before_seconds == 0:
        return f"in the {after} after this event"
    return f"from {before} before to {after} after this event"


def _aggregate_text(aggregate: WindowAggregate) -> str:
    events = _events_text(aggregate.events, plural=True)
    if aggregate.function == "count":
        return f"the count of {events}"
    return f"the {aggregate.function} of {aggregate.path} over {events}"


def _items_text(conditions: Iterable[Condition], joiner: str) -> str:
    return f" {joiner} ".join(f"({condition_describe(item)})" for item in conditions)


def _describe_legacy_match(match: LegacyPropertyMatch) -> str:
    return f"{match.path} {match.operator} {shown(match.value)}"


def _describe_match(match: PropertyMatch) -> str:
    if match.op is Operator.EXISTS:
        return f"{match.path} exists" if match.value else f"{match.path} is missing"
    return f"{match.path} {match.op.value} {shown(match.value)}"


def _describe_legacy_proximity(proximity: LegacyProximity) -> str:
    return f"a {_events_text(proximity.events)} in the {proximity.duration} before this event"


def _describe_proximity(proximity: Proximity) -> str:
    return f"a {_events_text(proximity.events)} {_window_text(proximity.window)}"


def _describe_sequence(sequence: Sequence) -> str:
    parts = []
    if sequence.match is not None:
        parts.append(f"each has {condition_describe(sequence.match)}")
    if sequence.increasing is not None:
        parts.append(f"{sequence.increasing} strictly increases")
    events = _events_text(sequence.events, plural=True)
    return f"the last {sequence.count} {events}: {' and '.join(parts)}"


def _describe_aggregate(aggregate: WindowAggregate) -> str:
    window = _window_text(aggregate.window)
    return f"{_aggregate_text(aggregate)} {window} {aggregate.op.value} {shown(aggregate.value)}"


def _describe_all(conjunction: AllOf) -> str:
    if not conjunction.conditions:
        return "always"
    if len(conjunction.conditions) == 1:
        return condition_describe(conjunction.conditions[0])
    return _items_text(conjunction.conditions, "and")


def _describe_any(disjunction: AnyOf) -> str:
    if len(disjunction.conditions) == 1:
        return condition_describe(disjunction.conditions[0])
    return _items_text(disjunction.conditions, "or")


def _describe_not(negation: Not) -> str:
    return f"not ({condition_describe(negation.condition)})"


_FAILURES: Mapping[type, Callable[[Any, EventRecord, History], str]] = {
    LegacyPropertyMatch: _legacy_match_failure,
    PropertyMatch: _match_failure,
    LegacyProximity: _legacy_proximity_failure,
    Proximity: _proximity_failure,
    Sequence: _sequence_failure,
    WindowAggregate: _aggregate_failure,
    AllOf: _all_failure,
    AnyOf: _any_failure,
    Not: _not_failure,
}
_DESCRIPTIONS: Mapping[type, Callable[[Any], str]] = {
    LegacyPropertyMatch: _describe_legacy_match,
    PropertyMatch: _describe_match,
    LegacyProximity: _describe_legacy_proximity,
    Proximity: _describe_proximity,
    Sequence: _describe_sequence,
    WindowAggregate: _describe_aggregate,
    AllOf: _describe_all,
    AnyOf: _describe_any,
    Not: _describe_not,
}
