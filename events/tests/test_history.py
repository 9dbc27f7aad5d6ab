"""UserEventHistory answers the rule core's questions like the in-memory reference."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from events.history import UserEventHistory, event_record
from events.models import Event
from rules.conditions import Operator, PropertyMatch
from rules.history import EventFilter
from rules.memory import InMemoryHistory

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

FILTERS = [
    EventFilter(),
    EventFilter(event_types=frozenset({"deposit"})),
    EventFilter(event_types=frozenset({"deposit", "withdraw"})),
    EventFilter(where=(PropertyMatch(path="amount", op=Operator.GTE, value=Decimal("50")),)),
    EventFilter(where=(PropertyMatch(path="amount", op=Operator.NEQ, value=Decimal("50")),)),
    EventFilter(where=(PropertyMatch(path="properties.channel", op=Operator.EQ, value="card"),)),
    EventFilter(
        where=(PropertyMatch(path="properties.channel", op=Operator.NIN, value=("card",)),)
    ),
    EventFilter(where=(PropertyMatch(path="properties.channel", op=Operator.EXISTS, value=True),)),
    EventFilter(where=(PropertyMatch(path="amount", op=Operator.EXISTS, value=False),)),
]


@pytest.fixture
def stored(users):
    """A user's mixed history, some events sharing a second, stored and as records."""
    rng = random.Random(7)
    Event.objects.bulk_create(
        Event(
            event_id=f"e{i}",
            user_id=1,
            event_type=rng.choice(["deposit", "withdraw", "login"]),
            occurred_at=EPOCH + timedelta(seconds=i // 2),
            amount=rng.choice([None, Decimal("10"), Decimal("50"), Decimal("75.25")]),
            properties=rng.choice(
                [{}, {"channel": "card"}, {"channel": "bank"}, {"channel": None}]
            ),
        )
        for i in range(60)
    )
    Event.objects.create(event_id="other", user_id=2, event_type="deposit", occurred_at=EPOCH)
    return [event_record(event, user_traits={}) for event in Event.objects.filter(user_id=1)]


def _both(stored, anchor_index: int):
    records = sorted(stored, key=lambda r: (r.occurred_at, r.sequence))
    anchor = records[anchor_index]
    orm = UserEventHistory(user_id=1, anchor=Event.objects.get(pk=anchor.sequence), user_traits={})
    return orm, InMemoryHistory(events=records, anchor=anchor), anchor


@pytest.mark.parametrize("events", FILTERS)
@pytest.mark.parametrize("anchor_index", [0, 1, 30, 59])
def test_last_matches_the_reference(stored, events, anchor_index):
    orm, memory, _ = _both(stored, anchor_index)

    assert list(orm.last(count=5, events=events)) == list(memory.last(count=5, events=events))


@pytest.mark.parametrize("events", FILTERS)
@pytest.mark.parametrize("function", ["count", "sum", "min", "max"])
def test_aggregate_matches_the_reference(stored, events, function):
    orm, memory, anchor = _both(stored, 40)
    window = dict(start=anchor.occurred_at - timedelta(seconds=10), end=anchor.occurred_at)

    expected = memory.aggregate(function=function, path="amount", events=events, **window)

    assert orm.aggregate(function=function, path="amount", events=events, **window) == expected


@pytest.mark.parametrize("events", FILTERS)
@pytest.mark.parametrize("seconds", [(0, 0), (3, 0), (0, 3)])
def test_exists_matches_the_reference_and_excludes_the_anchor(stored, events, seconds):
    orm, memory, anchor = _both(stored, 20)
    window = dict(
        start=anchor.occurred_at - timedelta(seconds=seconds[0]),
        end=anchor.occurred_at + timedelta(seconds=seconds[1]),
    )

    assert orm.exists(events=events, **window) == memory.exists(events=events, **window)
