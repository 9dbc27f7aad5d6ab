"""Decide which rules an event raises."""

from __future__ import annotations

from collections.abc import Iterable

from rules.history import EventRecord, History
from rules.schema import AlertRule


def rule_matches(*, rule: AlertRule, event: EventRecord, history: History) -> bool:
    """Return whether `event` triggers `rule` and satisfies its condition.

    `history` is not consulted when the event's type is not the rule's trigger.
    """
    return event.event_type == rule.event_type and rule.condition.passes(
        event=event, history=history
    )


def alert_codes_evaluate(
    *, rules: Iterable[AlertRule], event: EventRecord, history: History
) -> tuple[int, ...]:
    """Return the codes of the `rules` that `event` matches, in ascending order."""
    return tuple(
        sorted(rule.code for rule in rules if rule_matches(rule=rule, event=event, history=history))
    )
