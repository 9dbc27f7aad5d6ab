"""The alerts replay (alerts.backtest): stored POST /event transactions judged again under two
rule versions, each on the history as it stood (docs/rules.md, "Backtests: alerts")."""

import random
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from alerts import backtest
from alerts.backtest import FETCH_ROWS, alerts_replay
from alerts.engine import AlertRuleEngine
from alerts.models import Alert
from alerts.services import transaction_ingest
from events.models import Event
from rule_sets.active import rule_set_active
from rule_sets.kinds import rule_set_kind
from rule_sets.models import KIND_ALERTS
from rule_sets.replay import ReplayTally
from users.models import User

# The replay reads on a connection of its own: the tests' rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT_SOURCE = settings.ALERT_RULES_PATH.read_text()
START = 1_700_000_000
LARGE_WITHDRAW = """
  - code: 1100
    name: large_withdraw
    description: A withdrawal of more than 100.
    event_type: withdraw
    condition:
      type: property_match
      path: amount
      op: gt
      value: 100
"""
LARGE_DEPOSIT = """
  - code: 7
    name: large_deposit
    event_type: deposit
    condition: {type: property_match, path: amount, op: gt, value: 100}
"""
VIP_IN_APP = """
  - code: 8
    name: vip_withdraw_in_app
    event_type: withdraw
    condition:
      all:
        - {type: property_match, path: user_traits.vip, op: eq, value: true}
        - {type: property_match, path: properties.channel, op: eq, value: app}
"""


def at(t: int) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def replay(active: AlertRuleEngine, candidate: AlertRuleEngine, *, start: int, end: int):
    """Run the replay and return its result and the progress it reported."""
    tally = ReplayTally()
    reported = []
    alerts_replay(
        active=active,
        candidate=candidate,
        start=at(start),
        end=at(end),
        tally=tally,
        progress=lambda done, total: reported.append((done, total)),
    )
    return tally.result(), reported


def by_rule(result) -> dict:
    return {rule.pop("rule"): rule for rule in result["rules"]}


def ingest(user_id: int, event_type: str, amount: str, t: int) -> tuple[int, ...]:
    return transaction_ingest(
        user_id=user_id, event_type=event_type, amount=Decimal(amount), t=t
    ).alert_codes


def test_the_alerts_kind_replays_with_alerts_replay():
    assert rule_set_kind(KIND_ALERTS).replay is alerts_replay


def test_lowering_the_withdraw_threshold_to_50_adds_exactly_the_withdrawals_over_50_up_to_100(
    users,
):
    amounts = ["30", "50", "50.01", "75", "100", "100.01", "150"]
    added = []
    for index, amount in enumerate(amounts):
        for offset, event_type in enumerate(("deposit", "withdraw")):
            t = START + index * 1000 + offset * 100
            ingest(1, event_type, amount, t)
            if event_type == "withdraw" and Decimal("50") < Decimal(amount) <= Decimal("100"):
                added.append(f"txn:1:{t}")
    active = AlertRuleEngine.from_source(DEFAULT_SOURCE)
    candidate = AlertRuleEngine.from_source(DEFAULT_SOURCE.replace("value: 100\n", "value: 50\n"))

    result, _ = replay(active, candidate, start=START, end=START + 10_000)

    rules = by_rule(result)
    assert rules["1100"] == {"active": 2, "candidate": 5, "added": 3, "removed": 0, "users": 1}
    for code in ("30", "123", "300"):
        assert (rules[code]["added"], rules[code]["removed"]) == (0, 0)
    assert [sample["event_id"] for sample in result["samples"]] == added
    assert result["events"] == 2 * len(amounts)


@pytest.mark.parametrize("fetch_rows,vendor", [(FETCH_ROWS, None), (7, None), (7, "sqlite")])
def test_the_active_version_counts_the_alerts_post_event_stored_in_the_window(
    users, monkeypatch, fetch_rows, vendor
):
    """The events before the window feed the history rules' questions and are not judged;
    fetches of 7 rows end inside a user's history; the ORM's rows (other databases than
    PostgreSQL) are judged the same."""
    monkeypatch.setattr(backtest, "FETCH_ROWS", fetch_rows)
    window_start = START + 1000
    # User 1: every history rule raised by the window's first events thanks to earlier ones.
    scripted = [
        ("withdraw", "5", START + 900),
        ("deposit", "10", START + 960),
        ("deposit", "150", START + 980),
        ("withdraw", "6", START + 990),
        ("withdraw", "7", window_start),  # 30: three withdrawals in a row
        ("deposit", "160", window_start + 5),  # 300: 10 < 150 < 160; 123: 150 + 160 > 200
    ]
    for event_type, amount, t in scripted:
        ingest(1, event_type, amount, t)
    assert ingest(1, "deposit", "1", window_start + 6000) == ()
    rng = random.Random(18)
    for user_id in (2, 3, 4):
        t = START + rng.randint(0, 50)
        for _ in range(120):
            t += rng.randint(1, 25)
            ingest(user_id, rng.choice(("deposit", "withdraw")), str(rng.randint(1, 250)), t)
    window_end = START + 2500
    stored = Counter(
        str(code)
        for code in Alert.objects.filter(
            event__occurred_at__gte=at(window_start), event__occurred_at__lt=at(window_end)
        ).values_list("code", flat=True)
    )
    active = rule_set_active(KIND_ALERTS).rules
    if vendor is not None:
        monkeypatch.setattr(connection, "vendor", vendor)

    result, reported = replay(active, active, start=window_start, end=window_end)

    rules = by_rule(result)
    assert {code: rule["active"] for code, rule in rules.items()} == {
        code: stored[code] for code in ("30", "123", "300", "1100")
    }
    assert all(stored[code] > 0 for code in ("30", "123", "300", "1100"))
    assert all(rule["candidate"] == rule["active"] for rule in rules.values())
    assert result["samples"] == []
    judged = Event.objects.filter(
        occurred_at__gte=at(window_start), occurred_at__lt=at(window_end)
    ).count()
    assert result["events"] == judged
    assert reported[-1] == (judged, judged)


def test_a_removed_rule_shows_removed_and_an_added_one_added_with_samples_saying_why(users):
    ingest(1, "withdraw", "120", START)
    ingest(1, "deposit", "130", START + 100)
    ingest(1, "deposit", "20", START + 200)
    active = AlertRuleEngine.from_source(DEFAULT_SOURCE)
    without_1100 = DEFAULT_SOURCE.replace(LARGE_WITHDRAW, LARGE_DEPOSIT)
    assert without_1100 != DEFAULT_SOURCE
    candidate = AlertRuleEngine.from_source(without_1100)

    result, _ = replay(active, candidate, start=START, end=START + 300)

    rules = by_rule(result)
    assert rules["1100"] == {"active": 1, "candidate": 0, "added": 0, "removed": 1, "users": 1}
    assert rules["7"] == {"active": 0, "candidate": 1, "added": 1, "removed": 0, "users": 1}
    assert result["samples"] == [
        {
            "event_id": f"txn:1:{START}",
            "user_id": 1,
            "rule": "1100",
            "change": "removed",
            "why": "active: amount gt 100 holds; candidate: has no rule 1100",
        },
        {
            "event_id": f"txn:1:{START + 100}",
            "user_id": 1,
            "rule": "7",
            "change": "added",
            "why": "candidate: amount gt 100 holds; active: has no rule 7",
        },
    ]


def test_a_changed_threshold_sample_says_why_the_other_version_did_not_match(users):
    ingest(1, "withdraw", "75", START)
    active = AlertRuleEngine.from_source(DEFAULT_SOURCE)
    candidate = AlertRuleEngine.from_source(DEFAULT_SOURCE.replace("value: 100\n", "value: 50\n"))

    result, _ = replay(active, candidate, start=START, end=START + 1)

    [sample] = result["samples"]
    assert sample["why"] == "candidate: amount gt 50 holds; active: amount is 75.00, not gt 100"


def test_transactions_outside_the_window_or_the_stream_are_not_judged(users, store_event):
    ingest(1, "withdraw", "500", START - 10)
    ingest(1, "withdraw", "500", START + 10)
    store_event(
        user_id=1, source="web", event_type="withdraw", amount=Decimal("500"), occurred_at=at(START)
    )
    engine = AlertRuleEngine.from_source(DEFAULT_SOURCE)

    result, _ = replay(engine, engine, start=START, end=START + 10)

    assert result["events"] == 0
    assert by_rule(result)["1100"]["active"] == 0


def test_rules_read_the_users_traits_and_the_transactions_properties(users, store_event):
    User.objects.filter(pk=1).update(traits={"vip": True})
    store_event(
        user_id=1,
        event_id="withdraw-in-app",
        event_type="withdraw",
        amount=Decimal("5"),
        occurred_at=at(START),
        properties={"channel": "app"},
    )
    active = AlertRuleEngine.from_source(DEFAULT_SOURCE)
    candidate = AlertRuleEngine.from_source(DEFAULT_SOURCE + VIP_IN_APP)

    result, _ = replay(active, candidate, start=START, end=START + 1)

    assert by_rule(result)["8"]["added"] == 1
    assert result["samples"][0]["event_id"] == "withdraw-in-app"


def test_progress_is_reported_outside_any_transaction_of_djangos_connection(users, monkeypatch):
    """So a caller's progress writes are seen by others while the replay runs."""
    monkeypatch.setattr(backtest, "PROGRESS_EVERY", 2)
    for index in range(5):
        ingest(1, "deposit", "10", START + index)
    engine = AlertRuleEngine.from_source(DEFAULT_SOURCE)
    seen = []

    alerts_replay(
        active=engine,
        candidate=engine,
        start=at(START),
        end=at(START + 5),
        tally=ReplayTally(),
        progress=lambda done, total: seen.append((done, total, connection.in_atomic_block)),
    )

    assert seen == [(2, 5, False), (4, 5, False), (5, 5, False)]
