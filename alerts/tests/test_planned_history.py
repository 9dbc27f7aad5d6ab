"""The batch's SQL answers each history question like the in-memory reference (PostgreSQL),
from the alert stream alone, about an anchor that is the newest of its user's stream, as
POST /event's is."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from alerts.planned_history import Anchor, question_answer, question_statement
from events.history import event_record
from events.models import TRANSACTION_SOURCE, Event
from events.tests.test_history import EPOCH, FILTERS
from rules.memory import InMemoryHistory
from rules.plan import AggregateQuestion, ExistsQuestion, LastQuestion


@pytest.fixture
def stored(users):
    """A user's stream, some transactions sharing a second, as records; and, interleaved, the
    same user's events of other tenants and sources, which no answer may count."""
    rng = random.Random(7)

    def event(i: int, **fields) -> Event:
        return Event(
            event_id=f"e{i}",
            user_id=1,
            event_type=rng.choice(["deposit", "withdraw"]),
            occurred_at=EPOCH + timedelta(seconds=i // 2),
            amount=rng.choice([None, Decimal("10"), Decimal("50"), Decimal("75.25")]),
            properties=rng.choice(
                [{}, {"channel": "card"}, {"channel": "bank"}, {"channel": None}]
            ),
            **fields,
        )

    stream = Event.objects.bulk_create(event(i, source=TRANSACTION_SOURCE) for i in range(60))
    Event.objects.bulk_create(
        [event(i, tenant_id="acme", source=TRANSACTION_SOURCE) for i in range(60)]
        + [event(1000 + i, source="web") for i in range(60)]
    )
    return [event_record(event, user_traits={}) for event in stream]


def _answer(question, anchor: Anchor, record):
    sql, params = question_statement(question, anchor=anchor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return question_answer(question, rows, anchor_pk=record.sequence, user_traits={})


def _both(stored, anchor_index: int):  # noqa: F811 - the fixture's value
    """The anchor at `anchor_index` made the newest of the stream: the events after it are
    deleted, and the reference holds the events up to it."""
    records = sorted(stored, key=lambda r: (r.occurred_at, r.sequence))
    record = records[anchor_index]
    newer = [later.sequence for later in records[anchor_index + 1 :]]
    Event.objects.filter(pk__in=newer).delete()
    anchor = Anchor(user_id=1, occurred_at=record.occurred_at)
    return anchor, InMemoryHistory(events=records[: anchor_index + 1], anchor=record), record


@pytest.mark.parametrize("events", FILTERS)
@pytest.mark.parametrize("anchor_index", [0, 1, 30, 59])
def test_last_matches_the_reference(stored, events, anchor_index):  # noqa: F811
    anchor, memory, record = _both(stored, anchor_index)

    answer = _answer(LastQuestion(count=5, events=events), anchor, record)

    assert list(answer) == list(memory.last(count=5, events=events))


@pytest.mark.parametrize("events", FILTERS)
@pytest.mark.parametrize("function", ["count", "sum", "min", "max"])
def test_aggregate_matches_the_reference(stored, events, function):  # noqa: F811
    anchor, memory, record = _both(stored, 40)
    window = dict(start=record.occurred_at - timedelta(seconds=10), end=record.occurred_at)
    question = AggregateQuestion(function=function, path="amount", events=events, **window)

    expected = memory.aggregate(function=function, path="amount", events=events, **window)

    assert _answer(question, anchor, record) == expected


@pytest.mark.parametrize("events", FILTERS)
@pytest.mark.parametrize("seconds", [(0, 0), (3, 0), (0, 3)])
def test_exists_matches_the_reference_and_excludes_the_anchor(
    stored, events, seconds  # noqa: F811
):
    anchor, memory, record = _both(stored, 20)
    window = dict(
        start=record.occurred_at - timedelta(seconds=seconds[0]),
        end=record.occurred_at + timedelta(seconds=seconds[1]),
    )

    answer = _answer(ExistsQuestion(events=events, **window), anchor, record)

    assert answer == memory.exists(events=events, **window)
