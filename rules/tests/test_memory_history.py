"""Tests of `InMemoryHistory`, the reference implementation of `History`."""

from decimal import Decimal

import pytest

from rules.conditions import Operator, PropertyMatch
from rules.history import AggregateFunction, EventFilter
from rules.memory import InMemoryHistory
from rules.tests.records import at, record

EVERY_EVENT = EventFilter()
DEPOSITS = EventFilter(event_types=frozenset({"deposit"}))

FIRST = record("deposit", t=10, amount="5", sequence=1)
SAME_SECOND_EARLIER = record("withdraw", t=20, amount="7", sequence=2)
ANCHOR = record("deposit", t=20, amount="30", sequence=3, properties={"channel": "app"})
SAME_SECOND_LATER = record("deposit", t=20, amount="1", sequence=4)
LATER = record("deposit", t=25, amount="100", sequence=5)
EVENTS = [LATER, ANCHOR, FIRST, SAME_SECOND_LATER, SAME_SECOND_EARLIER]


def history() -> InMemoryHistory:
    """Return the history of EVENTS (given out of order) as of ANCHOR."""
    return InMemoryHistory(events=EVENTS, anchor=ANCHOR)


def test_last_returns_events_at_or_before_the_anchor_newest_first() -> None:
    assert history().last(count=10, events=EVERY_EVENT) == (ANCHOR, SAME_SECOND_EARLIER, FIRST)


def test_last_orders_events_of_the_same_second_by_sequence() -> None:
    assert history().last(count=2, events=EVERY_EVENT) == (ANCHOR, SAME_SECOND_EARLIER)


def test_last_applies_event_types_and_where() -> None:
    by_app = PropertyMatch(path="properties.channel", op=Operator.EQ, value="app")
    assert history().last(count=5, events=DEPOSITS) == (ANCHOR, FIRST)
    filtered = EventFilter(event_types=frozenset({"deposit"}), where=(by_app,))
    assert history().last(count=5, events=filtered) == (ANCHOR,)


def test_last_excludes_the_anchor_when_it_does_not_match() -> None:
    withdraws = EventFilter(event_types=frozenset({"withdraw"}))
    assert history().last(count=5, events=withdraws) == (SAME_SECOND_EARLIER,)


def test_last_rejects_a_count_below_one() -> None:
    with pytest.raises(ValueError):
        history().last(count=0, events=EVERY_EVENT)


@pytest.mark.parametrize(
    ("function", "start", "end", "expected"),
    [
        ("count", 10, 25, Decimal(4)),
        ("sum", 10, 25, Decimal(136)),
        ("sum", 11, 24, Decimal(31)),
        ("sum", 20, 20, Decimal(31)),
        ("min", 10, 25, Decimal(1)),
        ("max", 10, 20, Decimal(30)),
        ("count", 26, 40, Decimal(0)),
        ("sum", 26, 40, None),
        ("max", 0, 9, None),
    ],
)
def test_aggregate_covers_both_bounds_and_ignores_the_anchor_order(
    function: AggregateFunction, start: int, end: int, expected: Decimal | None
) -> None:
    result = history().aggregate(
        function=function, path="amount", events=DEPOSITS, start=at(start), end=at(end)
    )
    assert result == expected


def test_aggregate_skips_events_without_a_number_at_path() -> None:
    events = [
        record("deposit", t=1, sequence=1, properties={"n": "5"}),
        record("deposit", t=2, sequence=2, properties={"n": True}),
        record("deposit", t=3, sequence=3),
        record("deposit", t=4, sequence=4, properties={"n": 2.5}),
    ]
    memory = InMemoryHistory(events=events, anchor=events[-1])
    total = memory.aggregate(
        function="sum", path="properties.n", events=EVERY_EVENT, start=at(0), end=at(9)
    )
    count = memory.aggregate(
        function="count", path="properties.n", events=EVERY_EVENT, start=at(0), end=at(9)
    )
    assert (total, count) == (Decimal("2.5"), Decimal(4))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(20, 20, True), (21, 30, True), (0, 10, True), (11, 19, False)],
)
def test_exists_finds_matching_events_other_than_the_anchor(
    start: int, end: int, expected: bool
) -> None:
    assert history().exists(events=EVERY_EVENT, start=at(start), end=at(end)) is expected


def test_exists_is_false_when_only_the_anchor_matches() -> None:
    by_app = EventFilter(
        where=(PropertyMatch(path="properties.channel", op=Operator.EXISTS, value=True),)
    )
    assert history().exists(events=by_app, start=at(0), end=at(100)) is False


def test_history_rejects_an_anchor_that_is_not_among_the_events() -> None:
    with pytest.raises(ValueError):
        InMemoryHistory(events=[FIRST], anchor=ANCHOR)


def test_history_rejects_two_events_with_the_same_time_and_sequence() -> None:
    twin = record("withdraw", t=10, sequence=1)
    with pytest.raises(ValueError):
        InMemoryHistory(events=[FIRST, twin], anchor=FIRST)
