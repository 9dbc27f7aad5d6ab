"""Tests of rule evaluation: trigger type, condition and the order of codes."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import pytest

from rules.conditions import Operator, PropertyMatch
from rules.evaluator import alert_codes_evaluate, rule_matches
from rules.history import EventFilter, EventRecord
from rules.memory import InMemoryHistory
from rules.schema import AlertRule
from rules.tests.records import record


class UnusableHistory:
    """A history that fails the test when asked anything."""

    def last(self, *, count: int, events: EventFilter) -> Sequence[EventRecord]:
        """Fail: the history must not be consulted."""
        raise AssertionError("history was queried")

    def aggregate(self, **kwargs: object) -> Decimal | None:
        """Fail: the history must not be consulted."""
        raise AssertionError("history was queried")

    def exists(self, *, events: EventFilter, start: datetime, end: datetime) -> bool:
        """Fail: the history must not be consulted."""
        raise AssertionError("history was queried")


class AskingCondition:
    """A condition that always consults its history."""

    def passes(self, *, event: EventRecord, history: UnusableHistory) -> bool:
        """Return the answer of the history."""
        return bool(history.last(count=1, events=EventFilter()))


def rule(code: int, event_type: str = "withdraw", minimum: str = "0") -> AlertRule:
    """Return a rule raising `code` for an `event_type` with amount above `minimum`."""
    return AlertRule(
        code=code,
        name=f"rule_{code}",
        event_type=event_type,
        condition=PropertyMatch(path="amount", op=Operator.GT, value=Decimal(minimum)),
    )


def evaluate(rules: list[AlertRule], event: EventRecord) -> tuple[int, ...]:
    """Return the codes `rules` raise for `event` alone."""
    history = InMemoryHistory(events=[event], anchor=event)
    return alert_codes_evaluate(rules=rules, event=event, history=history)


@pytest.mark.parametrize(
    ("event_type", "amount", "expected"),
    [("withdraw", "150", True), ("withdraw", "50", False), ("deposit", "150", False)],
)
def test_rule_matches_needs_the_trigger_type_and_the_condition(
    event_type: str, amount: str, expected: bool
) -> None:
    event = record(event_type, amount=amount)
    history = InMemoryHistory(events=[event], anchor=event)
    assert rule_matches(rule=rule(1, minimum="100"), event=event, history=history) is expected


def test_rule_matches_does_not_query_history_for_another_event_type() -> None:
    asking = AlertRule(code=1, name="asks", event_type="deposit", condition=AskingCondition())
    history = UnusableHistory()
    assert rule_matches(rule=asking, event=record("withdraw"), history=history) is False


def test_alert_codes_evaluate_returns_matching_codes_in_ascending_order() -> None:
    rules = [rule(1100), rule(30), rule(300, "deposit"), rule(5, minimum="1000")]
    assert evaluate(rules, record("withdraw", amount="200")) == (30, 1100)


def test_alert_codes_evaluate_returns_an_empty_tuple_when_nothing_matches() -> None:
    assert evaluate([rule(1100)], record("deposit", amount="200")) == ()
