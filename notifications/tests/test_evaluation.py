"""The default rules, decided by the evaluator against the real event store."""

import threading
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone as django_timezone

from notifications.evaluation import notification_events_evaluate
from notifications.models import Decision, Notification
from notifications.tests.conftest import decision, evaluate, product_event
from rule_sets.models import KIND_NOTIFICATIONS
from rule_sets.services import rule_set_version_activate

SIGNUP = datetime(2025, 10, 30, 12, 0, tzinfo=timezone.utc)
SCHEDULED = Notification.Status.SCHEDULED
SUPPRESSED = Notification.Status.SUPPRESSED
NOT_MATCHED = Notification.Status.NOT_MATCHED


def test_welcome_email_for_a_user_who_opted_in(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    welcome = decision(signup, "WELCOME_EMAIL")
    assert (welcome.status, welcome.channel, welcome.private) == (SCHEDULED, "email", False)
    assert "Welcome to our payment platform!" in welcome.body
    assert list(welcome.decisions.values_list("status", flat=True)) == [SCHEDULED]


def test_no_welcome_email_without_opt_in_and_the_decision_says_why(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP, traits={"marketing_opt_in": "no"})
    evaluate(signup)
    welcome = decision(signup, "WELCOME_EMAIL")
    assert welcome.status == NOT_MATCHED
    assert "user_traits.marketing_opt_in" in welcome.reason


def test_welcome_email_is_sent_once_ever(app_user):
    first = product_event(app_user, "signup_completed", SIGNUP)
    again = product_event(app_user, "signup_completed", SIGNUP + timedelta(days=30))
    evaluate(first, again)
    assert decision(first, "WELCOME_EMAIL").status == SCHEDULED
    repeat = decision(again, "WELCOME_EMAIL")
    assert repeat.status == SUPPRESSED
    assert repeat.reason == "skipped WELCOME_EMAIL: already scheduled or sent 1 of 1 ever"


@pytest.mark.parametrize(
    "after, status",
    [
        (timedelta(hours=23, minutes=59, seconds=59), SCHEDULED),
        (timedelta(hours=24), SCHEDULED),
        (timedelta(hours=24, seconds=1), NOT_MATCHED),
    ],
)
def test_bank_link_nudge_within_24h_of_signup(app_user, after, status):
    product_event(app_user, "signup_completed", SIGNUP, traits={"phone": "+447700900123"})
    link = product_event(app_user, "link_bank_success", SIGNUP + after)
    evaluate(link)
    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    assert nudge.status == status
    if status == NOT_MATCHED:
        assert nudge.reason == "no signup_completed in the 1d before this event"


def test_a_signup_after_the_link_does_not_count(app_user):
    link = product_event(app_user, "link_bank_success", SIGNUP)
    product_event(app_user, "signup_completed", SIGNUP + timedelta(minutes=5))
    evaluate(link)
    assert decision(link, "BANK_LINK_NUDGE_SMS").status == NOT_MATCHED


def _payment_failed(user, at, **properties):
    properties = {"failure_reason": "INSUFFICIENT_FUNDS", "amount": "42.00", **properties}
    return product_event(user, "payment_failed", at, properties)


def test_insufficient_funds_email_once_per_calendar_day(app_user):
    morning = _payment_failed(app_user, datetime(2025, 10, 31, 8, tzinfo=timezone.utc))
    evening = _payment_failed(app_user, datetime(2025, 10, 31, 19, 30, tzinfo=timezone.utc))
    next_day = _payment_failed(app_user, datetime(2025, 11, 1, 0, 0, 1, tzinfo=timezone.utc))
    evaluate(morning)
    evaluate(evening, next_day)
    assert decision(morning, "INSUFFICIENT_FUNDS_EMAIL").status == SCHEDULED
    repeat = decision(evening, "INSUFFICIENT_FUNDS_EMAIL")
    assert repeat.status == SUPPRESSED
    assert repeat.reason == (
        "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today (2025-10-31, UTC)"
    )
    assert decision(next_day, "INSUFFICIENT_FUNDS_EMAIL").status == SCHEDULED


def test_the_calendar_day_follows_the_users_timezone(app_user):
    app_user.traits = {**app_user.traits, "timezone": "Asia/Tokyo"}
    app_user.save()
    # 23:30 and 00:30 in Tokyo: two days there, one day in UTC.
    late = _payment_failed(app_user, datetime(2025, 10, 31, 14, 30, tzinfo=timezone.utc))
    early = _payment_failed(app_user, datetime(2025, 10, 31, 15, 30, tzinfo=timezone.utc))
    evaluate(late, early)
    assert decision(late, "INSUFFICIENT_FUNDS_EMAIL").status == SCHEDULED
    assert decision(early, "INSUFFICIENT_FUNDS_EMAIL").status == SCHEDULED


def test_an_invalid_timezone_counts_days_in_utc(app_user):
    app_user.traits = {**app_user.traits, "timezone": "Nowhere/Land"}
    app_user.save()
    late = _payment_failed(app_user, datetime(2025, 10, 31, 14, 30, tzinfo=timezone.utc))
    early = _payment_failed(app_user, datetime(2025, 10, 31, 15, 30, tzinfo=timezone.utc))
    evaluate(late, early)
    assert decision(early, "INSUFFICIENT_FUNDS_EMAIL").reason.endswith("(2025-10-31, UTC)")


def test_limits_count_only_notifications_sent_or_on_their_way(app_user):
    morning = _payment_failed(app_user, datetime(2025, 10, 31, 8, tzinfo=timezone.utc))
    evaluate(morning)
    Notification.objects.filter(trigger_event=morning).update(status=Notification.Status.FAILED)
    evening = _payment_failed(app_user, datetime(2025, 10, 31, 19, tzinfo=timezone.utc))
    evaluate(evening)
    assert decision(evening, "INSUFFICIENT_FUNDS_EMAIL").status == SCHEDULED


def test_a_missing_template_variable_renders_empty_and_is_recorded(app_user):
    failed = _payment_failed(app_user, datetime(2025, 10, 31, 8, tzinfo=timezone.utc))
    evaluate(failed)
    email = decision(failed, "INSUFFICIENT_FUNDS_EMAIL")
    assert "payment of 42.00 , but" in email.body
    assert "missing variables: currency" in email.reason


@pytest.mark.parametrize(
    "attempt, status", [(2, NOT_MATCHED), ("3", SCHEDULED), (3, SCHEDULED), (4.5, SCHEDULED)]
)
def test_high_risk_alert_from_the_third_attempt(app_user, attempt, status):
    failed = _payment_failed(
        app_user, SIGNUP, failure_reason="CARD_DECLINED", attempt_number=attempt
    )
    evaluate(failed)
    alert = decision(failed, "HIGH_RISK_ALERT")
    assert (alert.status, alert.private) == (status, True)
    assert decision(failed, "INSUFFICIENT_FUNDS_EMAIL").status == NOT_MATCHED


def test_unsubscribed_users_get_no_user_facing_notification_but_operations_still_hear(app_user):
    failed = _payment_failed(app_user, SIGNUP, attempt_number=5, **{})
    app_user.traits = {**app_user.traits, "unsubscribed": True}
    app_user.save()
    evaluate(failed)
    email = decision(failed, "INSUFFICIENT_FUNDS_EMAIL")
    assert (email.status, email.reason) == (
        SUPPRESSED,
        "skipped INSUFFICIENT_FUNDS_EMAIL: unsubscribed",
    )
    assert decision(failed, "HIGH_RISK_ALERT").status == SCHEDULED


def test_events_of_types_no_rule_triggers_on_get_no_decision(app_user):
    other = product_event(app_user, "page_viewed", SIGNUP)
    assert evaluate(other) == {}


def test_evaluating_an_event_twice_decides_once(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    evaluate(signup)
    assert Notification.objects.filter(trigger_event=signup).count() == 1
    assert Decision.objects.filter(notification__trigger_event=signup).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_on_one_user_never_send_past_a_limit(app_user):
    """Two workers evaluate two same-day failed payments of one user at the same moment."""
    day = datetime(2025, 10, 31, tzinfo=timezone.utc)
    events = [_payment_failed(app_user, day + timedelta(hours=hour)) for hour in (8, 9)]
    barrier = threading.Barrier(2)
    errors = []

    def worker(event):
        try:
            barrier.wait()
            with transaction.atomic():
                notification_events_evaluate(event_ids=[event.pk])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    statuses = sorted(
        Notification.objects.filter(rule="INSUFFICIENT_FUNDS_EMAIL").values_list(
            "status", flat=True
        )
    )
    assert statuses == [SCHEDULED, SUPPRESSED]


def test_an_immediate_notification_is_due_now(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    assert decision(signup, "WELCOME_EMAIL").reason == "due now"


QUIET_RULES = """
rules:
  - notification_type: WELCOME_EMAIL
    event_type: signup_completed
    quiet_hours: {start: "00:00", end: "23:59"}
    event_conditions: []
  - notification_type: HIGH_RISK_ALERT
    event_type: signup_completed
    quiet_hours: {start: "00:00", end: "23:59"}
    event_conditions: []
"""


def test_quiet_hours_defer_user_facing_sends_to_their_end_in_the_users_zone(app_user, active_rules):
    active_rules(KIND_NOTIFICATIONS, QUIET_RULES)
    app_user.traits = {**app_user.traits, "timezone": "America/New_York"}
    app_user.save()
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    welcome = decision(signup, "WELCOME_EMAIL")
    assert welcome.due_at.astimezone(ZoneInfo("America/New_York")).time() == time(23, 59)
    assert welcome.reason.startswith(
        f"due {welcome.due_at.isoformat()}; deferred by quiet hours from "
    )
    # An internal alert is not user-facing: quiet hours do not hold it back.
    assert decision(signup, "HIGH_RISK_ALERT").reason.startswith("due now; missing variables: ")


def test_a_user_with_no_email_address_is_skipped_at_evaluation_and_not_counted(app_user):
    app_user.email = ""
    app_user.save()
    first = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(first)
    skipped = decision(first, "WELCOME_EMAIL")
    assert (skipped.status, skipped.reason) == (
        SUPPRESSED,
        "skipped WELCOME_EMAIL: no email address",
    )
    assert skipped.due_at is None

    # Once ever: the skipped welcome did not use the user's one.
    again = product_event(
        app_user, "signup_completed", SIGNUP + timedelta(days=1), traits={"email": "u1@x.example"}
    )
    evaluate(again)
    assert decision(again, "WELCOME_EMAIL").status == SCHEDULED


def test_a_user_with_no_phone_number_gets_no_sms_and_the_decision_says_so(app_user):
    product_event(app_user, "signup_completed", SIGNUP)
    link = product_event(app_user, "link_bank_success", SIGNUP + timedelta(hours=1))
    evaluate(link)
    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    assert (nudge.status, nudge.reason) == (
        SUPPRESSED,
        "skipped BANK_LINK_NUDGE_SMS: no phone number",
    )


AGED_RULES = """
rules:
  - notification_type: WELCOME_EMAIL
    event_type: signup_completed
    max_event_age_seconds: 604800
    event_conditions: []
"""


def test_an_event_older_than_the_rules_maximum_age_is_skipped_and_the_decision_says_so(
    app_user, active_rules
):
    active_rules(KIND_NOTIFICATIONS, AGED_RULES)
    now = django_timezone.now()
    backfilled = product_event(app_user, "signup_completed", now - timedelta(days=21))
    recent = product_event(app_user, "signup_completed", now - timedelta(days=6))
    evaluate(backfilled, recent)
    old = decision(backfilled, "WELCOME_EMAIL")
    assert old.status == SUPPRESSED
    assert old.reason.startswith("skipped WELCOME_EMAIL: the event is 21d")
    assert old.reason.endswith(" old, more than the rule's max_event_age_seconds (7d)")
    assert decision(recent, "WELCOME_EMAIL").status == SCHEDULED


# A version that welcomes a user whose profile is updated, which version 1 ignores.
WELCOME_ON_PROFILE_UPDATE = """
rules:
  - notification_type: WELCOME_EMAIL
    event_type: profile_updated
    event_conditions: []
"""


def test_decisions_record_the_version_that_made_them_and_the_next_batch_sees_an_activation(
    app_user, active_rules
):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    ignored = product_event(app_user, "profile_updated", SIGNUP + timedelta(minutes=1))
    assert set(evaluate(signup, ignored)) == {f"WELCOME_EMAIL@{signup.event_id}"}
    welcome = decision(signup, "WELCOME_EMAIL")
    assert welcome.rules_version == 1
    assert list(welcome.decisions.values_list("rules_version", flat=True)) == [1]

    version = active_rules(KIND_NOTIFICATIONS, WELCOME_ON_PROFILE_UPDATE)
    updated = product_event(app_user, "profile_updated", SIGNUP + timedelta(minutes=2))
    evaluate(updated)

    welcome = decision(updated, "WELCOME_EMAIL")
    assert (welcome.status, welcome.rules_version) == (SCHEDULED, version)
    assert list(welcome.decisions.values_list("rules_version", flat=True)) == [version]


def test_activating_the_retired_version_brings_the_old_decisions_back(app_user, active_rules):
    active_rules(KIND_NOTIFICATIONS, WELCOME_ON_PROFILE_UPDATE)
    rule_set_version_activate(kind=KIND_NOTIFICATIONS, version=1, activated_by="tests")

    updated = product_event(app_user, "profile_updated", SIGNUP)
    signup = product_event(app_user, "signup_completed", SIGNUP + timedelta(minutes=1))

    assert set(evaluate(updated, signup)) == {f"WELCOME_EMAIL@{signup.event_id}"}
    assert decision(signup, "WELCOME_EMAIL").rules_version == 1


HOURLY_RULES = """
rules:
  - notification_type: WELCOME_EMAIL
    event_type: signup_completed
    debounce_limit: 1
    debounce_period_seconds: 3600
    event_conditions: []
"""


def test_a_rolling_limit_counts_sends_within_its_period_on_both_sides(app_user, active_rules):
    """The counted sends a batch reads reach a period either side of its events, no less."""
    active_rules(KIND_NOTIFICATIONS, HOURLY_RULES)
    sent = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(sent)
    around = {
        offset: product_event(app_user, "signup_completed", SIGNUP + timedelta(seconds=offset))
        for offset in (-3601, -3600, 3600, 3601)
    }
    statuses = {}
    for offset, event in around.items():
        evaluate(event)
        statuses[offset] = decision(event, "WELCOME_EMAIL").status
        # Failed: it counts against no later event, which sees the first send alone.
        Notification.objects.filter(trigger_event=event).update(status=Notification.Status.FAILED)
    assert statuses == {-3601: SCHEDULED, -3600: SUPPRESSED, 3600: SUPPRESSED, 3601: SCHEDULED}


def test_one_batch_over_many_days_counts_each_days_sends(app_user):
    app_user.traits = {**app_user.traits, "timezone": "Pacific/Kiritimati"}  # UTC+14
    app_user.save()
    # 00:30 in Kiritimati, then 23:00 the same day there, the next day in UTC.
    days = [datetime(2025, 10, day, 10, 30, tzinfo=timezone.utc) for day in (1, 15, 29)]
    evaluate(*[_payment_failed(app_user, day) for day in days])
    later = [_payment_failed(app_user, day + timedelta(hours=22, minutes=30)) for day in days]
    evaluate(*later)
    assert {decision(event, "INSUFFICIENT_FUNDS_EMAIL").status for event in later} == {SUPPRESSED}
