"""condition_failure: None when a condition passes, else one sentence naming what failed."""

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from rules.conditions import (
    AllOf,
    AnyOf,
    Not,
    Operator,
    PropertyMatch,
    Proximity,
    Sequence,
    WindowAggregate,
)
from rules.explain import condition_describe, condition_failure, duration_text, shown
from rules.history import EventFilter, EventRecord
from rules.legacy import LegacyOperator, LegacyPropertyMatch, LegacyProximity
from rules.memory import InMemoryHistory
from rules.schema import Window
from rules.tests.records import record

DAY = 86_400
REASON_EQ = LegacyPropertyMatch(
    path="properties.failure_reason", operator=LegacyOperator.EQ, value="INSUFFICIENT_FUNDS"
)
ATTEMPT_GTE = LegacyPropertyMatch(
    path="properties.attempt_number", operator=LegacyOperator.GTE, value=Decimal("3")
)
SIGNUP_BEFORE = LegacyProximity(
    events=EventFilter(event_types=frozenset({"signup_completed"})), seconds=DAY, duration="1d"
)
DEPOSITS = EventFilter(event_types=frozenset({"deposit"}))


def failure(condition, events: list[EventRecord]) -> str | None:
    anchor = events[-1]
    history = InMemoryHistory(events=events, anchor=anchor)
    return condition_failure(condition, event=anchor, history=history)


def payment(**properties) -> EventRecord:
    return record("payment_failed", t=DAY * 2, sequence=50, properties=properties)


def test_a_passing_condition_has_no_failure():
    assert failure(REASON_EQ, [payment(failure_reason="insufficient_funds")]) is None


def test_a_text_match_names_the_value_it_found():
    assert (
        failure(REASON_EQ, [payment(failure_reason="CARD_EXPIRED")])
        == 'properties.failure_reason is "CARD_EXPIRED", not EQ "INSUFFICIENT_FUNDS"'
    )


def test_a_missing_value_is_named_missing():
    assert failure(ATTEMPT_GTE, [payment()]) == "properties.attempt_number is missing"


def test_a_number_comparison_names_both_numbers():
    assert failure(ATTEMPT_GTE, [payment(attempt_number=2)]) == (
        "properties.attempt_number is 2, not GTE 3"
    )
    assert failure(ATTEMPT_GTE, [payment(attempt_number="two")]) == (
        'properties.attempt_number is "two", not a number to compare GTE 3'
    )


def test_a_membership_match_names_the_list():
    nin = LegacyPropertyMatch(
        path="user_traits.country", operator=LegacyOperator.NIN, value=("GB", "FR")
    )
    event = record("x", user_traits={"country": "gb"})

    assert failure(nin, [event]) == 'user_traits.country is "gb", not NIN ["GB", "FR"]'


def test_a_proximity_names_the_event_and_the_window():
    late_link = [record("signup_completed", t=0, sequence=1), record("link", t=DAY + 1, sequence=2)]

    assert failure(SIGNUP_BEFORE, late_link) == "no signup_completed in the 1d before this event"


def test_a_proximity_with_nested_conditions_names_them():
    proximity = LegacyProximity(
        events=EventFilter(event_types=frozenset({"signup_completed"}), where=(REASON_EQ,)),
        seconds=3600,
        duration="1h",
    )

    assert failure(proximity, [record("link", t=DAY)]) == (
        'no signup_completed where properties.failure_reason EQ "INSUFFICIENT_FUNDS" '
        "in the 1h before this event"
    )


def test_a_conjunction_names_its_first_failing_condition():
    condition = AllOf(conditions=(ATTEMPT_GTE, REASON_EQ))

    assert failure(condition, [payment(attempt_number=4, failure_reason="OTHER")]) == (
        'properties.failure_reason is "OTHER", not EQ "INSUFFICIENT_FUNDS"'
    )


def test_a_disjunction_names_every_failure():
    condition = AnyOf(conditions=(ATTEMPT_GTE, REASON_EQ))

    assert failure(condition, [payment(attempt_number=1)]) == (
        "none of these holds: properties.attempt_number is 1, not GTE 3; "
        "properties.failure_reason is missing"
    )


def test_a_negation_names_what_held():
    condition = Not(condition=AllOf(conditions=(ATTEMPT_GTE, REASON_EQ)))
    event = payment(attempt_number=3, failure_reason="INSUFFICIENT_FUNDS")

    assert failure(condition, [event]) == (
        '(properties.attempt_number GTE 3) and (properties.failure_reason EQ "INSUFFICIENT_FUNDS")'
        " holds, and the rule requires it not to"
    )


@pytest.mark.parametrize(
    "match, message",
    [
        (
            PropertyMatch(path="amount", op=Operator.GT, value=Decimal("100")),
            "amount is 50, not gt 100",
        ),
        (
            PropertyMatch(path="properties.plan", op=Operator.EQ, value="pro"),
            "properties.plan is missing",
        ),
        (
            PropertyMatch(path="amount", op=Operator.EXISTS, value=False),
            "amount is 50, not missing",
        ),
        (
            PropertyMatch(path="amount", op=Operator.IN, value=("1", "2")),
            'amount is 50, not in ["1", "2"]',
        ),
    ],
)
def test_a_rule_language_property_match_names_the_value(match, message):
    assert failure(match, [record("deposit", amount="50")]) == message


def test_a_rule_language_proximity_names_its_window():
    proximity = Proximity(events=DEPOSITS, window=Window(before_seconds=600, after_seconds=60))

    assert failure(proximity, [record("withdraw")]) == (
        "no deposit from 10m before to 1m after this event"
    )


def test_a_short_sequence_says_how_many_events_there_are():
    sequence = Sequence(count=3, events=DEPOSITS, increasing="amount")
    events = [
        record("deposit", t=1, amount="1", sequence=1),
        record("deposit", t=2, amount="2", sequence=2),
    ]

    assert failure(sequence, events) == "only 2 deposit events so far, fewer than the 3 needed"


def test_a_sequence_that_does_not_increase_lists_the_values():
    sequence = Sequence(count=2, events=DEPOSITS, increasing="amount")
    events = [
        record("deposit", t=1, amount="5", sequence=1),
        record("deposit", t=2, amount="2", sequence=2),
    ]

    assert failure(sequence, events) == (
        "amount does not strictly increase over the last 2 deposit events (newest first: 2, 5)"
    )


def test_a_sequence_names_the_event_that_does_not_match():
    sequence = Sequence(
        count=2,
        events=EventFilter(),
        match=PropertyMatch(path="event_type", op=Operator.EQ, value="withdraw"),
    )
    events = [record("deposit", t=1, sequence=1), record("withdraw", t=2, sequence=2)]

    assert failure(sequence, events) == (
        'of the last 2 events, the 2nd newest: event_type is "deposit", not eq "withdraw"'
    )


def test_a_window_aggregate_names_its_result():
    aggregate = WindowAggregate(
        function="sum",
        path="amount",
        events=DEPOSITS,
        window=Window(before_seconds=30),
        op=Operator.GT,
        value=Decimal("200"),
    )
    events = [
        record("deposit", t=0, amount="150", sequence=1),
        record("deposit", t=30, amount="50", sequence=2),
    ]

    assert failure(aggregate, events) == (
        "the sum of amount over deposit events in the 30s before this event is 200, not gt 200"
    )


def test_a_window_aggregate_with_no_numbers_says_so():
    aggregate = WindowAggregate(
        function="max",
        path="amount",
        events=DEPOSITS,
        window=Window(before_seconds=30),
        op=Operator.GT,
        value=Decimal("1"),
    )

    assert failure(aggregate, [record("withdraw")]) == (
        "no deposit events in the 30s before this event has a number at amount"
    )


def test_a_count_names_the_count():
    aggregate = WindowAggregate(
        function="count",
        events=DEPOSITS,
        window=Window(before_seconds=60),
        op=Operator.GTE,
        value=Decimal("2"),
    )

    assert failure(aggregate, [record("deposit")]) == (
        "the count of deposit events in the 1m before this event is 1, not gte 2"
    )


def test_every_condition_kind_has_a_description():
    assert condition_describe(AllOf(conditions=())) == "always"
    assert condition_describe(Not(condition=SIGNUP_BEFORE)) == (
        "not (a signup_completed in the 1d before this event)"
    )
    assert condition_describe(AnyOf(conditions=(REASON_EQ, ATTEMPT_GTE))) == (
        '(properties.failure_reason EQ "INSUFFICIENT_FUNDS") or (properties.attempt_number GTE 3)'
    )


@pytest.mark.parametrize(
    "seconds, text", [(0, "0s"), (90, "1m30s"), (86_400, "1d"), (5_400, "1h30m"), (86_401, "1d1s")]
)
def test_durations_are_written_in_the_largest_units(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    "value",
    [
        0,
        -3,
        10**20,
        1.5,
        float("inf"),
        "x",
        'a "quoted" \\ é',
        None,
        {"a": [1, "b"]},
        datetime(2025, 1, 2, tzinfo=timezone.utc),
    ],
)
def test_a_value_is_shown_as_json_writes_it(value):
    assert shown(value) == json.dumps(value, default=str, separators=(", ", ": "))


@pytest.mark.parametrize(
    "value, text",
    [
        (True, "true"),
        (False, "false"),
        (Decimal("1.50"), "1.50"),
        ([1, "a", (True,)], '[1, "a", [true]]'),
    ],
)
def test_booleans_decimals_and_lists_are_shown_plainly(value, text):
    assert shown(value) == text
