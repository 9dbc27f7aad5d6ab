"""Tests of `AppendedHistory`: it answers what `InMemoryHistory` answers as of its newest."""

import random

import pytest

from rules.conditions import Operator, PropertyMatch
from rules.history import EventFilter
from rules.memory import AppendedHistory, InMemoryHistory
from rules.tests.records import at, record

FILTERS = (
    EventFilter(),
    EventFilter(event_types=frozenset({"deposit"})),
    EventFilter(
        event_types=frozenset({"deposit", "withdraw"}),
        where=(PropertyMatch(path="amount", op=Operator.GT, value=50),),
    ),
)


@pytest.mark.parametrize("seed", range(5))
def test_every_answer_matches_in_memory_history_as_of_the_newest(seed: int) -> None:
    rng = random.Random(seed)
    appended = AppendedHistory()
    events = []
    t = 0
    for sequence in range(1, 60):
        t += rng.choice((0, 1, 3, 10, 40))
        event = record(
            rng.choice(("deposit", "withdraw")),
            t=t,
            amount=str(rng.randint(1, 100)),
            sequence=sequence,
        )
        events.append(event)
        appended.append(event)
        reference = InMemoryHistory(events=events, anchor=event)
        for events_filter in FILTERS:
            for count in (1, 3, 7):
                assert appended.last(count=count, events=events_filter) == reference.last(
                    count=count, events=events_filter
                )
            for before, after in ((0, 0), (30, 0), (40, 5)):
                window = {"start": at(t - before), "end": at(t + after)}
                assert appended.exists(events=events_filter, **window) == reference.exists(
                    events=events_filter, **window
                )
                for function in ("count", "sum", "min", "max"):
                    path = "" if function == "count" else "amount"
                    asked = {"function": function, "path": path, "events": events_filter}
                    assert appended.aggregate(**asked, **window) == reference.aggregate(
                        **asked, **window
                    )


def test_clear_forgets_the_previous_user() -> None:
    appended = AppendedHistory()
    appended.append(record("deposit", t=1, amount="5", sequence=1))
    appended.clear()
    appended.append(record("withdraw", t=2, amount="5", sequence=2))
    assert [item.event_type for item in appended.last(count=5, events=EventFilter())] == [
        "withdraw"
    ]
