"""The notifications backtest: stored product events replayed under two versions of the rules,
through matching and then through limits, quiet hours, delays and maximum event age."""

import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.models import Event
from notifications.backtest import notification_replay
from notifications.config import notification_rule_set_compile
from notifications.models import Decision, Notification
from notifications.tests.conftest import evaluate, product_event
from outbox.models import OutboxMessage
from rule_sets.kinds import rule_set_kind
from rule_sets.models import KIND_NOTIFICATIONS
from rule_sets.replay import ReplayTally
from users.models import User

DAY = datetime(2025, 10, 31, tzinfo=timezone.utc)
START = DAY - timedelta(days=7)
END = DAY + timedelta(days=7)
FUNDS = "INSUFFICIENT_FUNDS_EMAIL"


def funds_rules(debounce: str) -> str:
    """Rules sending the insufficient-funds email on every failed payment, limited by
    `debounce` (YAML keys)."""
    return f"""
rules:
  - notification_type: {FUNDS}
    event_type: payment_failed
    {debounce}
    event_conditions: []
"""


DAILY_LIMIT = (
    "debounce_limit: {limit}\n    debounce_period_seconds: 86400\n    debounce_calendar_day: true"
)


def replay(active: str, candidate: str, *, start=START, end=END) -> dict:
    """Replay [start, end) under the two rule sources; return the result and the progress."""
    tally = ReplayTally()
    reported = []
    notification_replay(
        active=notification_rule_set_compile(active),
        candidate=notification_rule_set_compile(candidate),
        start=start,
        end=end,
        tally=tally,
        progress=lambda done, total: reported.append((done, total)),
    )
    return {**tally.result(), "progress": reported}


def rule_of(result: dict, rule: str) -> dict:
    return next(item for item in result["rules"] if item["rule"] == rule)


def failed_payment(user: User, at: datetime, *, received_at: datetime | None = None) -> Event:
    """Store a failed payment; `received_at` when it was stored (default: now)."""
    event = product_event(user, "payment_failed", at, {"failure_reason": "INSUFFICIENT_FUNDS"})
    if received_at is not None:
        Event.objects.filter(pk=event.pk).update(received_at=received_at)
    return event


def test_a_daily_limit_raised_from_1_to_2_turns_exactly_the_second_same_day_sends_to_sent(
    app_user,
):
    for day in (DAY, DAY + timedelta(days=1)):
        for hour in (8, 12, 19):
            failed_payment(app_user, day + timedelta(hours=hour))
    result = replay(
        funds_rules(DAILY_LIMIT.format(limit=1)), funds_rules(DAILY_LIMIT.format(limit=2))
    )
    funds = rule_of(result, FUNDS)
    # Matching is the same: only the outcomes after the limit differ.
    assert (funds["active"], funds["candidate"], funds["added"], funds["removed"]) == (6, 6, 0, 0)
    assert funds["outcomes"] == {
        "active": {"sent": 2, "suppressed: already scheduled or sent 1 of 1 today": 4},
        "candidate": {"sent": 4, "suppressed: already scheduled or sent 2 of 2 today": 2},
    }
    assert result["events"] == 6


def test_a_tighter_limit_shows_as_more_suppressions(app_user):
    for minutes in (0, 10, 20, 90):
        failed_payment(app_user, DAY + timedelta(minutes=minutes))
    hourly = "debounce_limit: 1\n    debounce_period_seconds: 3600"
    result = replay(funds_rules("debounce_limit: null"), funds_rules(hourly))
    assert rule_of(result, FUNDS)["outcomes"] == {
        "active": {"sent": 4},
        # Within 1h of the first: the second and the third; the fourth is 70 minutes after it.
        "candidate": {
            "sent": 2,
            "suppressed: already scheduled or sent 1 of 1 within 1h of this event": 2,
        },
    }


def test_a_send_before_the_window_counts_against_a_limit_in_it(app_user):
    failed_payment(app_user, DAY - timedelta(hours=2))
    failed_payment(app_user, DAY + timedelta(hours=2))
    daily = "debounce_limit: 1\n    debounce_period_seconds: 86400"
    result = replay(funds_rules(daily), funds_rules(daily), start=DAY)
    funds = rule_of(result, FUNDS)
    assert result["events"] == 1
    assert funds["outcomes"]["active"] == {
        "suppressed: already scheduled or sent 1 of 1 within 1d of this event": 1
    }


def test_a_limit_of_ever_counts_every_send_before_the_window(app_user):
    failed_payment(app_user, DAY - timedelta(days=300))
    failed_payment(app_user, DAY)
    once = "debounce_limit: 1\n    debounce_period_seconds: null"
    result = replay(funds_rules(once), funds_rules("debounce_limit: null"), start=DAY)
    assert rule_of(result, FUNDS)["outcomes"] == {
        "active": {"suppressed: already scheduled or sent 1 of 1 ever": 1},
        "candidate": {"sent": 1},
    }


QUIET_AND_FRESH = """
    quiet_hours: {start: "22:00", end: "07:00"}
    max_event_age_seconds: 14400"""


def test_quiet_hours_and_maximum_age_are_decided_when_the_event_was_stored_in_the_users_zone(
    app_user,
):
    """Live, an event stored at 23:30 in Tokyo waits for 07:00 there, 7h30m later, and is then
    older than a 4h maximum age: suppressed. The replay decides it at the time it was stored,
    not at the time of the backtest, and in the user's zone."""
    app_user.traits = {**app_user.traits, "timezone": "Asia/Tokyo"}
    app_user.save()
    at_night = DAY + timedelta(hours=14, minutes=30)  # 23:30 in Tokyo
    failed_payment(app_user, at_night, received_at=at_night)
    midday = DAY + timedelta(days=1, hours=3)  # 12:00 in Tokyo
    failed_payment(app_user, midday, received_at=midday)
    # Stored at 23:30 UTC, 08:30 the next morning in Tokyo: no quiet hours there.
    morning = DAY + timedelta(days=1, hours=23, minutes=30)
    failed_payment(app_user, morning, received_at=morning)
    no_limit = "debounce_limit: null"
    result = replay(funds_rules(no_limit), funds_rules(no_limit + QUIET_AND_FRESH))
    assert rule_of(result, FUNDS)["outcomes"] == {
        "active": {"sent": 3},
        "candidate": {
            "sent": 2,
            "suppressed: the event is older than the rule's max_event_age_seconds (4h)": 1,
        },
    }


def test_a_long_delay_makes_an_event_too_old_as_live_evaluation_would(app_user):
    stored = DAY + timedelta(hours=12)
    failed_payment(app_user, stored - timedelta(hours=1), received_at=stored)
    delayed = "delay_seconds: 7200\n    max_event_age_seconds: 10800"
    result = replay(funds_rules(""), funds_rules(delayed))
    assert rule_of(result, FUNDS)["outcomes"]["candidate"] == {
        # Due 2h after it was stored, 3h after it occurred: at most 3h old.
        "sent": 1
    }
    result = replay(funds_rules(""), funds_rules(delayed.replace("10800", "10799")))
    assert rule_of(result, FUNDS)["outcomes"]["candidate"] == {
        "suppressed: the event is older than the rule's max_event_age_seconds (2h59m59s)": 1
    }


def _users_with_history() -> list[Event]:
    """Store the default rules' cases for three users: welcome (once ever), opt-out, the bank
    link nudge with and without a phone, failed payments over two days, the third attempt."""
    opted_in = User.objects.create(
        external_id="b_1", email="b1@example.com", traits={"marketing_opt_in": True}
    )
    opted_out = User.objects.create(external_id="b_2", email="b2@example.com", traits={})
    no_email = User.objects.create(external_id="b_3", traits={"marketing_opt_in": True})
    events = [
        product_event(opted_in, "signup_completed", DAY, traits={"phone": "+447700900123"}),
        product_event(opted_in, "signup_completed", DAY + timedelta(days=2)),
        product_event(opted_in, "link_bank_success", DAY + timedelta(hours=3)),
        product_event(opted_in, "link_bank_success", DAY + timedelta(days=4)),
        product_event(opted_out, "signup_completed", DAY),
        product_event(opted_out, "link_bank_success", DAY + timedelta(hours=1)),
        product_event(no_email, "signup_completed", DAY),
    ]
    for user in (opted_in, opted_out, no_email):
        for offset, attempt in ((8, 1), (9, 2), (10, 3), (30, 1)):
            events.append(
                product_event(
                    user,
                    "payment_failed",
                    DAY + timedelta(hours=offset),
                    {"failure_reason": "INSUFFICIENT_FUNDS", "attempt_number": attempt},
                )
            )
    return events


def _live_outcome(notification: Notification) -> str:
    """Return a live decision as the backtest counts it: its reason without the calendar day."""
    if notification.status == Notification.Status.SCHEDULED:
        return "sent"
    reason = notification.reason.removeprefix(f"skipped {notification.notification_type}: ")
    return "suppressed: " + re.sub(r" \(\d{4}-\d{2}-\d{2}, [^)]+\)$", "", reason)


def test_under_the_active_version_the_outcomes_equal_what_live_evaluation_decided(db):
    events = _users_with_history()
    # Live: the consumer's batches, a few events at a time.
    for first in range(0, len(events), 5):
        evaluate(*events[first : first + 5])
    default = settings.NOTIFICATION_RULES_PATH.read_text()
    result = replay(default, default)
    live: dict[str, Counter] = defaultdict(Counter)
    for notification in Notification.objects.exclude(status=Notification.Status.NOT_MATCHED):
        live[notification.notification_type][_live_outcome(notification)] += 1
    replayed = {rule["rule"]: rule["outcomes"]["active"] for rule in result["rules"]}
    assert replayed == live
    for rule in result["rules"]:
        assert rule["candidate"] == rule["active"] == sum(rule["outcomes"]["active"].values())
        assert rule["outcomes"]["candidate"] == rule["outcomes"]["active"]
    # Every case is there: sends, and suppressions by a limit, an opt-out and no address.
    assert live["WELCOME_EMAIL"] == {
        "sent": 1,
        "suppressed: already scheduled or sent 1 of 1 ever": 1,
        "suppressed: no email address": 1,
    }
    assert live["BANK_LINK_NUDGE_SMS"] == {"sent": 1, "suppressed: no phone number": 1}
    assert live["INSUFFICIENT_FUNDS_EMAIL"] == {
        "sent": 4,
        "suppressed: already scheduled or sent 1 of 1 today": 4,
        "suppressed: no email address": 4,
    }
    assert result["events"] == len(events)


def test_a_changed_condition_is_a_sample_that_says_why(app_user):
    second = product_event(app_user, "payment_failed", DAY, {"attempt_number": 2})
    product_event(app_user, "payment_failed", DAY + timedelta(hours=1), {"attempt_number": 3})
    default = settings.NOTIFICATION_RULES_PATH.read_text()
    lowered = default.replace(
        "value: 3\n          operator: GTE", "value: 2\n          operator: GTE"
    )
    assert lowered != default
    result = replay(default, lowered)
    alert = rule_of(result, "HIGH_RISK_ALERT")
    assert (alert["active"], alert["candidate"], alert["added"], alert["removed"]) == (1, 2, 1, 0)
    assert alert["users"] == 1
    assert result["samples"] == [
        {
            "event_id": second.event_id,
            "user_id": app_user.pk,
            "rule": "HIGH_RISK_ALERT",
            "change": "added",
            "why": "the candidate rule HIGH_RISK_ALERT matches (properties.attempt_number GTE 2); "
            "the active rule does not: HIGH_RISK_ALERT: properties.attempt_number is 2, not GTE 3",
        }
    ]


def test_a_rule_only_one_version_has_is_listed_and_its_matches_are_changes(app_user):
    failed_payment(app_user, DAY)
    result = replay("rules: []", funds_rules(""))
    funds = rule_of(result, FUNDS)
    assert (funds["active"], funds["candidate"], funds["added"]) == (0, 1, 1)
    assert result["samples"][0]["why"] == (
        f"the candidate rule {FUNDS} matches (always); "
        f"the active rules send no {FUNDS} on payment_failed events"
    )


def test_progress_is_reported_up_to_every_event_of_the_window(app_user):
    for hour in range(3):
        failed_payment(app_user, DAY + timedelta(hours=hour))
    failed_payment(app_user, END + timedelta(hours=1))
    result = replay(funds_rules(""), funds_rules(""))
    assert result["progress"][0] == (0, 3)
    assert result["progress"][-1] == (3, 3)
    assert result["events"] == 3


def test_a_backtest_writes_nothing_and_sends_nothing(db, django_capture_on_commit_callbacks):
    events = _users_with_history()
    evaluate(*events[:4])
    before = (Notification.objects.count(), Decision.objects.count(), OutboxMessage.objects.count())
    default = settings.NOTIFICATION_RULES_PATH.read_text()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        result = replay(default, funds_rules(DAILY_LIMIT.format(limit=2)))
    assert result["events"] == len(events)
    assert callbacks == []
    assert [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")] == []
    after = (Notification.objects.count(), Decision.objects.count(), OutboxMessage.objects.count())
    assert after == before


def test_a_rule_the_event_store_answers_sees_the_history_as_of_each_event(app_user):
    for minutes in (0, 10, 120):
        failed_payment(app_user, DAY + timedelta(minutes=minutes))
    counted = funds_rules("").replace(
        "event_conditions: []",
        "condition: {type: window_aggregate, function: count, event_type: payment_failed, "
        "window: {before_seconds: 3600}, op: gte, value: 2}",
    )
    result = replay(funds_rules(""), counted)
    funds = rule_of(result, FUNDS)
    # The second has the first within the hour before it; the third has none.
    assert (funds["active"], funds["candidate"], funds["removed"]) == (3, 1, 2)
    assert result["samples"][0]["why"] == (
        f"the active rule {FUNDS} matches (always); the candidate rule does not: "
        f"{FUNDS}: the count of payment_failed events in the 1h before this event is 1, not gte 2"
    )


def test_the_notifications_kind_backtests_with_this_replay():
    assert rule_set_kind(KIND_NOTIFICATIONS).replay is notification_replay
