"""notification_admit: what a matched rule's notification meets before it is scheduled, with
the decision's reason and the backtest's outcome for each suppression."""

from datetime import datetime, time, timezone

import pytest

from notifications.admission import LimitCounts, Scheduled, Suppressed, notification_admit
from notifications.templates import NotificationTemplate
from rules.conditions import AllOf
from rules.schema import Debounce, NotificationRule, QuietHours

AT = datetime(2025, 10, 31, 19, 30, tzinfo=timezone.utc)
EMAIL = NotificationTemplate(type="T", channel="email", private=False, subject="s", text="t")
SMS = NotificationTemplate(type="T", channel="sms", private=False, subject="", text="t")
INTERNAL = NotificationTemplate(type="T", channel="email", private=True, subject="s", text="t")


def rule(**policies) -> NotificationRule:
    return NotificationRule(
        name="T", notification_type="T", event_type="e", condition=AllOf(conditions=()), **policies
    )


def admit(rule, template=EMAIL, *, traits=None, email="a@example.com", now=AT, limits=None):
    return notification_admit(
        rule=rule,
        template=template,
        user_id=1,
        email=email,
        account_traits=traits or {},
        traits=traits or {},
        occurred_at=AT,
        now=now,
        limits=limits if limits is not None else LimitCounts(),
    )


@pytest.mark.parametrize(
    "template, traits, email, reason",
    [
        (EMAIL, {"unsubscribed": True}, "a@example.com", "unsubscribed"),
        (EMAIL, {}, "", "no email address"),
        (SMS, {}, "a@example.com", "no phone number"),
    ],
)
def test_an_opt_out_or_no_address_suppresses_with_the_same_reason_and_outcome(
    template, traits, email, reason
):
    assert admit(rule(), template, traits=traits, email=email) == Suppressed(reason, reason)


def test_an_internal_alert_goes_out_without_an_address_or_despite_an_opt_out():
    admitted = admit(rule(), INTERNAL, traits={"unsubscribed": True}, email="")
    assert admitted == Scheduled(AT, ())


@pytest.mark.parametrize(
    "debounce, outcome",
    [
        (Debounce(limit=1), "already scheduled or sent 1 of 1 ever"),
        (
            Debounce(limit=1, period_seconds=86400, calendar_day=True),
            "already scheduled or sent 1 of 1 today",
        ),
        (
            Debounce(limit=1, period_seconds=3600),
            "already scheduled or sent 1 of 1 within 1h of this event",
        ),
    ],
)
def test_a_limit_reached_is_suppressed_and_its_outcome_leaves_out_the_day(debounce, outcome):
    limits = LimitCounts()
    assert isinstance(admit(rule(debounce=debounce), limits=limits), Scheduled)
    suppressed = admit(rule(debounce=debounce), limits=limits)
    assert suppressed.outcome == outcome
    if debounce.calendar_day:
        assert suppressed.reason == "already scheduled or sent 1 of 1 today (2025-10-31, UTC)"
    else:
        assert suppressed.reason == outcome


def test_a_suppressed_notification_does_not_count_against_the_limit():
    limits = LimitCounts()
    limited = rule(debounce=Debounce(limit=1))
    assert isinstance(admit(limited, email="", limits=limits), Suppressed)
    assert isinstance(admit(limited, limits=limits), Scheduled)


def test_quiet_hours_defer_and_make_the_event_too_old():
    quiet = QuietHours(start=time(19), end=time(23))
    # Due a minute after 19:30, inside 19:00-23:00: at 23:00, and then 3h30m old.
    assert admit(rule(quiet_hours=quiet, delay_seconds=60)) == Scheduled(
        datetime(2025, 10, 31, 23, tzinfo=timezone.utc),
        # The reason says "due <deferred>; ..." already: the note names when it was due before.
        ("deferred by quiet hours from 2025-10-31T19:31:00+00:00",),
    )
    suppressed = admit(rule(quiet_hours=quiet, max_event_age_seconds=3600))
    assert suppressed == Suppressed(
        "the event is 3h30m old, more than the rule's max_event_age_seconds (1h)",
        "the event is older than the rule's max_event_age_seconds (1h)",
    )
