"""The store answers the existing notification format's text matches like the in-memory reference.

Those matches (EQ, IN, NIN as text in any case) filter the other event of an `event_proximity`.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from events.history import UnsupportedFilter, UserEventHistory, check_answerable, event_record
from events.models import Event
from rules.history import EventFilter
from rules.legacy import LegacyOperator, LegacyPropertyMatch, LegacyProximity
from rules.memory import InMemoryHistory

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
PLANS = ["pro", "PRO", True, False, "true", "TRUE", 1, "1", 3.0, "3.0", 3, None, {"a": 1}, [1]]


def text_match(operator: str, value) -> LegacyPropertyMatch:
    return LegacyPropertyMatch(
        path="properties.plan", operator=LegacyOperator(operator), value=value
    )


FILTERS = [
    text_match("EQ", "pro"),
    text_match("EQ", "true"),
    text_match("EQ", True),
    text_match("EQ", "false"),
    text_match("EQ", "1"),
    text_match("EQ", 1),
    text_match("EQ", "3.0"),
    text_match("EQ", 3),
    text_match("IN", ("Pro", "1")),
    text_match("IN", ("TRUE",)),
    text_match("NIN", ("pro", "true")),
    LegacyPropertyMatch(path="event_type", operator=LegacyOperator.EQ, value="SIGNUP"),
    LegacyPropertyMatch(path="event_type", operator=LegacyOperator.NIN, value=("signup",)),
]


@pytest.fixture
def stored(users):
    """One event per plan value, and one without a plan, stored and as records."""
    events = [
        Event(
            event_id=f"e{i}",
            user_id=1,
            event_type="signup" if i % 2 else "login",
            occurred_at=EPOCH + timedelta(seconds=i),
            properties={"plan": plan},
        )
        for i, plan in enumerate(PLANS)
    ]
    events.append(
        Event(event_id="bare", user_id=1, event_type="signup", occurred_at=EPOCH, properties={})
    )
    Event.objects.bulk_create(events)
    return sorted(
        (event_record(event, user_traits={}) for event in Event.objects.filter(user_id=1)),
        key=lambda record: (record.occurred_at, record.sequence),
    )


def _both(records, anchor):
    orm = UserEventHistory(user_id=1, anchor=Event.objects.get(pk=anchor.sequence), user_traits={})
    return orm, InMemoryHistory(events=records, anchor=anchor)


@pytest.mark.parametrize("match", FILTERS, ids=lambda match: f"{match.operator}-{match.value}")
def test_text_matches_select_the_same_events_in_both_stores(stored, match):
    orm, memory = _both(stored, stored[-1])
    events = EventFilter(where=(match,))

    expected = memory.last(count=100, events=events)

    assert list(orm.last(count=100, events=events)) == list(expected)
    assert expected, "each filter selects at least one event"


def test_true_matches_json_true_and_its_text_but_not_one(stored):
    memory = InMemoryHistory(events=stored, anchor=stored[-1])

    found = memory.last(count=100, events=EventFilter(where=(text_match("EQ", "true"),)))

    assert sorted(str(record.properties["plan"]) for record in found) == ["TRUE", "True", "true"]


@pytest.mark.parametrize("seconds_before, expected", [(0, True), (3600, True), (3601, False)])
def test_proximity_with_nested_conditions_agrees_in_both_stores(users, seconds_before, expected):
    Event.objects.create(
        event_id="signup",
        user_id=1,
        event_type="signup_completed",
        occurred_at=EPOCH,
        properties={"channel": "APP"},
    )
    Event.objects.create(
        event_id="other-signup",
        user_id=1,
        event_type="signup_completed",
        occurred_at=EPOCH + timedelta(seconds=1),
        properties={"channel": "web"},
    )
    link = Event.objects.create(
        event_id="link",
        user_id=1,
        event_type="link_bank_success",
        occurred_at=EPOCH + timedelta(seconds=seconds_before),
    )
    records = sorted(
        (event_record(event, user_traits={}) for event in Event.objects.filter(user_id=1)),
        key=lambda record: (record.occurred_at, record.sequence),
    )
    anchor = next(record for record in records if record.sequence == link.pk)
    proximity = LegacyProximity(
        events=EventFilter(
            event_types=frozenset({"signup_completed"}),
            where=(
                LegacyPropertyMatch(
                    path="properties.channel", operator=LegacyOperator.EQ, value="app"
                ),
            ),
        ),
        seconds=3600,
        duration="1h",
    )
    orm, memory = _both(records, anchor)

    assert proximity.passes(event=anchor, history=memory) is expected
    assert proximity.passes(event=anchor, history=orm) is expected


@pytest.mark.parametrize(
    "match, message",
    [
        (
            LegacyPropertyMatch(
                path="properties.n", operator=LegacyOperator.GTE, value=Decimal("3")
            ),
            "GTE on 'properties.n': only EQ, IN and NIN match other events",
        ),
        (
            LegacyPropertyMatch(path="amount", operator=LegacyOperator.EQ, value="3"),
            "amount is not matched as text",
        ),
        (
            LegacyPropertyMatch(path="user_traits.x", operator=LegacyOperator.EQ, value="3"),
            "'user_traits.x' is not a stored event field",
        ),
    ],
)
def test_matches_the_store_cannot_query_are_rejected_up_front(match, message):
    proximity = LegacyProximity(
        events=EventFilter(event_types=frozenset({"signup"}), where=(match,)),
        seconds=60,
        duration="1m",
    )

    with pytest.raises(UnsupportedFilter, match=message):
        check_answerable(proximity)
