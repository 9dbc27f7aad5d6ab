"""Tests of each condition kind on its own, evaluated against an in-memory history."""

from collections.abc import Sequence as Events
from dataclasses import replace
from decimal import Decimal
from typing import Any

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
    as_decimal,
    resolve_path,
)
from rules.history import EventFilter, EventRecord
from rules.memory import InMemoryHistory
from rules.schema import Window
from rules.tests.records import record

DEPOSITS = EventFilter(event_types=frozenset({"deposit"}))
EVERY_EVENT = EventFilter()
NESTED = record(
    "signup",
    amount="12.50",
    properties={"a": {"b": 3}, "plan": "pro", "flag": True, "price": "9.99", "gone": None},
    user_traits={"country": "GB"},
)


def passes(condition: Any, events: Events[EventRecord]) -> bool:
    """Return whether the last of `events` passes `condition` over all of them."""
    anchor = events[-1]
    history = InMemoryHistory(events=events, anchor=anchor)
    return bool(condition.passes(event=anchor, history=history))


def sequenced(*events: EventRecord) -> list[EventRecord]:
    """Return `events` with increasing sequence numbers, as a store would number them."""
    return [replace(event, sequence=index) for index, event in enumerate(events)]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("event_type", (True, "signup")),
        ("amount", (True, Decimal("12.50"))),
        ("properties.a.b", (True, 3)),
        ("properties.a", (True, {"b": 3})),
        ("user_traits.country", (True, "GB")),
        ("properties.missing", (False, None)),
        ("properties.plan.deeper", (False, None)),
        ("properties.gone", (False, None)),
        ("user_traits.country.code", (False, None)),
        ("occurred_at", (False, None)),
        ("properties", (False, None)),
        ("amount.cents", (False, None)),
    ],
)
def test_resolve_path_finds_fields_and_nested_keys_and_reports_missing(
    path: str, expected: tuple[bool, Any]
) -> None:
    assert resolve_path(NESTED, path) == expected


def test_resolve_path_treats_a_missing_amount_as_not_found() -> None:
    assert resolve_path(record("login"), "amount") == (False, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, Decimal(3)),
        (0.1, Decimal("0.1")),
        (Decimal("1.50"), Decimal("1.50")),
        (True, None),
        (False, None),
        ("3", None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        (Decimal("NaN"), None),
    ],
)
def test_as_decimal_accepts_numbers_but_not_bools_strings_or_non_finite(
    value: Any, expected: Decimal | None
) -> None:
    assert as_decimal(value) == expected


@pytest.mark.parametrize(
    ("path", "op", "value", "expected"),
    [
        ("amount", Operator.GT, Decimal("12.49"), True),
        ("amount", Operator.GT, Decimal("12.50"), False),
        ("amount", Operator.GTE, Decimal("12.5"), True),
        ("amount", Operator.LT, 13, True),
        ("amount", Operator.LTE, 12.5, True),
        ("amount", Operator.EQ, 12.5, True),
        ("amount", Operator.EQ, "12.5", True),
        ("amount", Operator.EQ, "12.50 ", False),
        ("amount", Operator.EQ, "1e1", False),
        ("amount", Operator.NEQ, Decimal("12.5"), False),
        ("properties.price", Operator.GT, Decimal("9.98"), True),
        ("properties.price", Operator.EQ, Decimal("9.990"), True),
        ("properties.price", Operator.LT, "10", False),
        ("properties.plan", Operator.GT, 1, False),
        ("properties.plan", Operator.EQ, "pro", True),
        ("properties.plan", Operator.EQ, "PRO", False),
        ("properties.plan", Operator.NEQ, "basic", True),
        ("properties.flag", Operator.EQ, True, True),
        ("properties.flag", Operator.EQ, 1, False),
        ("properties.flag", Operator.GT, 0, False),
        ("properties.a.b", Operator.IN, (1, 2, 3), True),
        ("properties.a.b", Operator.IN, ("3",), True),
        ("properties.a.b", Operator.NIN, (1, 2), True),
        ("properties.plan", Operator.IN, ("basic", "pro"), True),
        ("properties.plan", Operator.NIN, ("basic", "pro"), False),
        ("properties.flag", Operator.IN, (1,), False),
        ("properties.a", Operator.GT, 1, False),
        ("properties.a.b", Operator.EXISTS, True, True),
        ("properties.a.b", Operator.EXISTS, False, False),
    ],
)
def test_property_match_compares_numbers_as_decimal_and_never_bools_as_numbers(
    path: str, op: Operator, value: Any, expected: bool
) -> None:
    assert passes(PropertyMatch(path=path, op=op, value=value), [NESTED]) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (Operator.EQ, "x", False),
        (Operator.GT, 1, False),
        (Operator.GTE, 1, False),
        (Operator.LT, 1, False),
        (Operator.LTE, 1, False),
        (Operator.IN, ("x",), False),
        (Operator.NEQ, "x", True),
        (Operator.NIN, ("x",), True),
        (Operator.EXISTS, True, False),
        (Operator.EXISTS, False, True),
    ],
)
def test_property_match_on_a_missing_path_passes_only_neq_nin_and_not_exists(
    op: Operator, value: Any, expected: bool
) -> None:
    condition = PropertyMatch(path="properties.missing", op=op, value=value)
    assert passes(condition, [NESTED]) is expected


def test_property_match_matches_records_without_consulting_history() -> None:
    assert PropertyMatch(path="user_traits.country", op=Operator.EQ, value="GB").matches(NESTED)


@pytest.mark.parametrize(
    ("other_t", "expected"),
    [(70, True), (69, False), (100, True), (101, False), (130, False)],
)
def test_proximity_window_includes_exactly_t_minus_30_and_excludes_t_minus_31(
    other_t: int, expected: bool
) -> None:
    condition = Proximity(events=DEPOSITS, window=Window(before_seconds=30))
    other = record("deposit", t=other_t, sequence=1)
    assert passes(condition, [other, record("withdraw", t=100, sequence=2)]) is expected


@pytest.mark.parametrize(("other_t", "expected"), [(110, True), (111, False), (99, False)])
def test_proximity_window_after_the_event_is_inclusive(other_t: int, expected: bool) -> None:
    condition = Proximity(events=DEPOSITS, window=Window(after_seconds=10))
    anchor = record("withdraw", t=100, sequence=1)
    events = [anchor, record("deposit", t=other_t, sequence=2)]
    history = InMemoryHistory(events=events, anchor=anchor)
    assert condition.passes(event=anchor, history=history) is expected


def test_proximity_ignores_the_event_itself() -> None:
    condition = Proximity(events=DEPOSITS, window=Window(before_seconds=30))
    assert passes(condition, [record("deposit", t=100)]) is False


def test_proximity_applies_the_type_and_where_of_its_filter() -> None:
    big = PropertyMatch(path="amount", op=Operator.GT, value=Decimal(100))
    condition = Proximity(
        events=EventFilter(event_types=frozenset({"deposit"}), where=(big,)),
        window=Window(before_seconds=30),
    )
    small_deposit = record("deposit", t=90, amount="50")
    big_withdraw = record("withdraw", t=91, amount="500")
    assert (
        passes(condition, sequenced(small_deposit, big_withdraw, record("login", t=100))) is False
    )
    big_deposit = record("deposit", t=92, amount="500")
    assert passes(condition, sequenced(small_deposit, big_deposit, record("login", t=100))) is True


IS_WITHDRAW = PropertyMatch(path="event_type", op=Operator.EQ, value="withdraw")


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["withdraw", "withdraw", "withdraw"], True),
        (["deposit", "withdraw", "withdraw", "withdraw"], True),
        (["withdraw", "deposit", "withdraw", "withdraw"], False),
        (["withdraw", "withdraw"], False),
    ],
)
def test_sequence_passes_when_each_of_the_last_n_events_passes_match(
    types: list[str], expected: bool
) -> None:
    condition = Sequence(count=3, events=EVERY_EVENT, match=IS_WITHDRAW)
    events = sequenced(*(record(kind, t=t) for t, kind in enumerate(types)))
    assert passes(condition, events) is expected


def test_sequence_with_fewer_than_n_events_is_false_even_if_all_match() -> None:
    condition = Sequence(count=3, events=EVERY_EVENT, match=IS_WITHDRAW)
    assert passes(condition, sequenced(record("withdraw"), record("withdraw", t=1))) is False


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (["10", "20", "30"], True),
        (["10", "20", "20"], False),
        (["10", "10", "20"], False),
        (["30", "20", "10"], False),
        (["5", "10", "20", "30"], True),
        (["10", "20.00", "20.01"], True),
    ],
)
def test_sequence_increasing_needs_strictly_rising_values_oldest_to_newest(
    amounts: list[str], expected: bool
) -> None:
    condition = Sequence(count=3, events=DEPOSITS, increasing="amount")
    events = sequenced(*(record("deposit", t=t, amount=a) for t, a in enumerate(amounts)))
    assert passes(condition, events) is expected


@pytest.mark.parametrize("odd_value", [None, True, "30"])
def test_sequence_increasing_fails_on_a_missing_or_non_number_value(odd_value: Any) -> None:
    condition = Sequence(count=3, events=EVERY_EVENT, increasing="properties.n")
    values = [1, 2, odd_value]
    events = sequenced(
        *(record("deposit", t=t, properties={"n": value}) for t, value in enumerate(values))
    )
    assert passes(condition, events) is False


def test_sequence_only_counts_events_of_its_filter() -> None:
    condition = Sequence(count=3, events=DEPOSITS, increasing="amount")
    events = sequenced(
        record("deposit", t=0, amount="10"),
        record("withdraw", t=1, amount="99"),
        record("deposit", t=2, amount="20"),
        record("withdraw", t=3, amount="1"),
        record("deposit", t=4, amount="30"),
    )
    assert passes(condition, events) is True


def test_sequence_with_match_and_increasing_needs_both() -> None:
    big = PropertyMatch(path="amount", op=Operator.GTE, value=Decimal(20))
    condition = Sequence(count=2, events=DEPOSITS, match=big, increasing="amount")
    rising = [record("deposit", t=0, amount="20"), record("deposit", t=1, amount="30")]
    assert passes(condition, sequenced(*rising)) is True
    small_first = [record("deposit", t=0, amount="10"), record("deposit", t=1, amount="30")]
    assert passes(condition, sequenced(*small_first)) is False


def deposits_sum(op: Operator, value: str, *, function: Any = "sum") -> WindowAggregate:
    """Return a window aggregate over deposits in the 30 seconds up to the event."""
    return WindowAggregate(
        function=function,
        path="" if function == "count" else "amount",
        events=DEPOSITS,
        window=Window(before_seconds=30),
        op=op,
        value=Decimal(value),
    )


@pytest.mark.parametrize(("first_t", "expected"), [(70, True), (69, False)])
def test_window_aggregate_includes_t_minus_30_and_excludes_t_minus_31(
    first_t: int, expected: bool
) -> None:
    events = [record("deposit", t=first_t, amount="150"), record("deposit", t=100, amount="60")]
    assert passes(deposits_sum(Operator.GT, "200"), sequenced(*events)) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (Operator.GT, "200", False),
        (Operator.GTE, "200", True),
        (Operator.EQ, "200", True),
        (Operator.NEQ, "200", False),
        (Operator.LT, "200.01", True),
        (Operator.LTE, "199.99", False),
    ],
)
def test_window_aggregate_compares_the_sum_with_its_threshold(
    op: Operator, value: str, expected: bool
) -> None:
    events = [record("deposit", t=90, amount="100.00"), record("deposit", t=100, amount="100")]
    assert passes(deposits_sum(op, value), sequenced(*events)) is expected


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [("count", "2", True), ("min", "10", True), ("max", "90", True), ("sum", "100", True)],
)
def test_window_aggregate_supports_count_min_max_and_sum(
    function: str, value: str, expected: bool
) -> None:
    events = [
        record("deposit", t=80, amount="10"),
        record("withdraw", t=90, amount="1000"),
        record("deposit", t=100, amount="90"),
    ]
    condition = deposits_sum(Operator.EQ, value, function=function)
    assert passes(condition, sequenced(*events)) is expected


@pytest.mark.parametrize("op", [Operator.NEQ, Operator.LT, Operator.GT, Operator.EQ])
def test_window_aggregate_without_any_value_fails_whatever_the_operator(op: Operator) -> None:
    condition = WindowAggregate(
        function="max",
        path="properties.score",
        events=EVERY_EVENT,
        window=Window(before_seconds=30),
        op=op,
        value=Decimal(0),
    )
    assert passes(condition, [record("deposit", t=100, amount="5")]) is False


TRUE = PropertyMatch(path="event_type", op=Operator.EQ, value="deposit")
FALSE = PropertyMatch(path="event_type", op=Operator.EQ, value="withdraw")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (AllOf(conditions=(TRUE, TRUE)), True),
        (AllOf(conditions=(TRUE, FALSE)), False),
        (AnyOf(conditions=(FALSE, TRUE)), True),
        (AnyOf(conditions=(FALSE, FALSE)), False),
        (Not(condition=FALSE), True),
        (Not(condition=AnyOf(conditions=(TRUE, FALSE))), False),
    ],
)
def test_combinators_combine_their_conditions(condition: Any, expected: bool) -> None:
    assert passes(condition, [record("deposit")]) is expected
