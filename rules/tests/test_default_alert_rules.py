"""Tests of the default alert rules in `config/alert_rules.yml`, one user's events at a time."""

from decimal import Decimal
from pathlib import Path

import pytest

from rules.evaluator import alert_codes_evaluate
from rules.history import EventRecord
from rules.memory import InMemoryHistory
from rules.parser import alert_rules_parse
from rules.schema import AlertRule
from rules.tests.records import at

RULES_PATH = Path(__file__).resolve().parents[2] / "config" / "alert_rules.yml"
DEFAULT_RULES = alert_rules_parse(RULES_PATH.read_text(encoding="utf-8"))

Step = tuple[str, str, int]


def codes_per_step(
    steps: list[Step], rules: tuple[AlertRule, ...] = DEFAULT_RULES
) -> list[tuple[int, ...]]:
    """Return the codes each (type, amount, t) step raises, each appended then evaluated."""
    stored: list[EventRecord] = []
    raised: list[tuple[int, ...]] = []
    for sequence, (event_type, amount, t) in enumerate(steps, start=1):
        event = EventRecord(
            event_type=event_type, occurred_at=at(t), amount=Decimal(amount), sequence=sequence
        )
        stored.append(event)
        history = InMemoryHistory(events=stored, anchor=event)
        raised.append(alert_codes_evaluate(rules=rules, event=event, history=history))
    return raised


def last_codes(steps: list[Step]) -> tuple[int, ...]:
    """Return the codes the last of `steps` raises."""
    return codes_per_step(steps)[-1]


def test_default_rules_file_defines_the_four_alert_codes() -> None:
    assert sorted(rule.code for rule in DEFAULT_RULES) == [30, 123, 300, 1100]


@pytest.mark.parametrize(
    ("event_type", "amount", "expected"),
    [("withdraw", "100.01", True), ("withdraw", "100.00", False), ("deposit", "150", False)],
)
def test_1100_is_raised_for_a_withdraw_over_100_only(
    event_type: str, amount: str, expected: bool
) -> None:
    assert (1100 in last_codes([(event_type, amount, 10)])) is expected


def test_30_is_raised_by_the_third_withdraw_in_a_row() -> None:
    codes = codes_per_step([("withdraw", "1", 1), ("withdraw", "1", 2), ("withdraw", "1", 3)])
    assert [30 in step for step in codes] == [False, False, True]


def test_a_deposit_between_withdraws_breaks_the_run_for_30() -> None:
    steps = [("withdraw", "1", 1), ("deposit", "1", 2), ("withdraw", "1", 3), ("withdraw", "1", 4)]
    assert 30 not in last_codes(steps)


def test_fourth_withdraw_in_a_row_raises_30_again() -> None:
    steps = [("withdraw", "1", t) for t in range(1, 5)]
    assert [30 in step for step in codes_per_step(steps)] == [False, False, True, True]


def test_30_is_raised_together_with_1100_for_a_large_third_withdraw() -> None:
    steps = [("withdraw", "1", 1), ("withdraw", "1", 2), ("withdraw", "500", 3)]
    assert last_codes(steps) == (30, 1100)


def test_300_is_raised_for_three_increasing_deposits_ignoring_withdraws_between() -> None:
    steps = [
        ("deposit", "10", 1),
        ("withdraw", "50", 2),
        ("deposit", "20", 3),
        ("withdraw", "5", 4),
        ("deposit", "30", 5),
    ]
    assert last_codes(steps) == (300,)


@pytest.mark.parametrize(
    "amounts", [("10", "20", "20"), ("10", "10.00", "20"), ("30", "20", "10"), ("10", "20")]
)
def test_300_is_not_raised_without_three_strictly_increasing_deposits(
    amounts: tuple[str, ...],
) -> None:
    steps = [("deposit", amount, t) for t, amount in enumerate(amounts, start=1)]
    assert 300 not in last_codes(steps)


@pytest.mark.parametrize(("first_t", "expected"), [(70, True), (69, False)])
def test_123_sums_deposits_from_t_minus_30_inclusive_and_not_t_minus_31(
    first_t: int, expected: bool
) -> None:
    steps = [("deposit", "150", first_t), ("deposit", "60", 100)]
    assert (123 in last_codes(steps)) is expected


def test_123_is_not_raised_for_deposits_summing_to_exactly_200() -> None:
    assert 123 not in last_codes([("deposit", "100.00", 90), ("deposit", "100", 100)])


def test_123_ignores_withdraws_in_the_window() -> None:
    steps = [("deposit", "150", 90), ("withdraw", "500", 95), ("deposit", "50", 100)]
    assert 123 not in last_codes(steps)


def test_123_is_raised_by_a_single_deposit_over_200() -> None:
    assert last_codes([("deposit", "200.01", 10)]) == (123,)


def test_a_different_rules_text_gives_different_codes() -> None:
    text = RULES_PATH.read_text(encoding="utf-8")
    lower = text.replace("      op: gt\n      value: 100\n", "      op: gt\n      value: 50\n")
    assert lower != text
    withdraw = [("withdraw", "60", 10)]
    assert codes_per_step(withdraw) == [()]
    assert codes_per_step(withdraw, alert_rules_parse(lower)) == [(1100,)]
