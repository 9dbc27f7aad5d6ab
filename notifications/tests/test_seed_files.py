"""The existing-format files load unchanged and mean what their comments say; so do ours.

The seed files are users' files, kept verbatim in `notifications/tests/fixtures/notification-seed/`
(see its SOURCE.md; never reformat them). The project's defaults in `config/` must behave the same.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings

from events.history import UserEventHistory, event_record
from events.models import Event
from notifications.config import NotificationConfig, notification_config_load
from notifications.templates import template_render, template_variables
from notifications.tests.seed import seed_dir
from rules.explain import condition_failure
from rules.history import EventRecord
from rules.memory import InMemoryHistory
from rules.schema import Debounce
from users.models import User

SIGNUP = datetime(2025, 10, 30, 12, 0, tzinfo=UTC)


def seed_config() -> NotificationConfig:
    folder = seed_dir()
    return notification_config_load(
        rules_path=folder / "notification_rules.yml", templates_path=folder / "notifications.yaml"
    )


def project_config() -> NotificationConfig:
    config = settings.BASE_DIR / "config"
    return notification_config_load(
        rules_path=config / "notification_rules.yml", templates_path=config / "notifications.yaml"
    )


@pytest.fixture(params=["seed", "project"])
def config(request) -> NotificationConfig:
    return seed_config() if request.param == "seed" else project_config()


def event(
    event_type: str, *, at: datetime = SIGNUP, sequence: int = 1, traits=None, **properties: Any
) -> EventRecord:
    return EventRecord(
        event_type=event_type,
        occurred_at=at,
        properties=properties,
        user_traits=traits or {},
        sequence=sequence,
    )


def outcome(config: NotificationConfig, name: str, events: list[EventRecord]) -> str | None:
    """Return None when the rule `name` matches the last of `events`, else why it does not."""
    (rule,) = [rule for rule in config.rules if rule.name == name]
    anchor = events[-1]
    assert rule in config.rules_for(anchor.event_type)
    history = InMemoryHistory(events=events, anchor=anchor)
    failure = condition_failure(rule.condition, event=anchor, history=history)
    assert (failure is None) == rule.condition.passes(event=anchor, history=history)
    return failure


# The users' files as copied, byte for byte: a reformatting (YAML formatter, editor) fails here.
SEED_SHA256 = {
    "notification_rules.yml": "709fc842a093b2fcf22c608a9fb135c980aa7b09d8e12d5e16581d631c847f09",
    "notifications.yaml": "3f5491c50e976c77bbc21aa69299081c5bf03908090585c4727774c0d072a438",
}


def test_the_seed_files_are_kept_verbatim():
    digests = {
        name: hashlib.sha256((seed_dir() / name).read_bytes()).hexdigest() for name in SEED_SHA256
    }
    assert digests == SEED_SHA256


def test_the_seed_files_are_the_four_rules_and_templates(config):
    assert [rule.name for rule in config.rules] == [
        "WELCOME_EMAIL",
        "BANK_LINK_NUDGE_SMS",
        "INSUFFICIENT_FUNDS_EMAIL",
        "HIGH_RISK_ALERT",
    ]
    assert set(config.templates) == {rule.notification_type for rule in config.rules}
    assert config.event_types == {"signup_completed", "link_bank_success", "payment_failed"}
    assert [rule.name for rule in config.rules_for("payment_failed")] == [
        "INSUFFICIENT_FUNDS_EMAIL",
        "HIGH_RISK_ALERT",
    ]
    assert config.rules_for("deposit") == ()


def test_debounce_policies_are_as_documented(config):
    policies = {rule.name: rule.debounce for rule in config.rules}

    assert policies == {
        "WELCOME_EMAIL": Debounce(limit=1, period_seconds=None, calendar_day=False),
        "BANK_LINK_NUDGE_SMS": Debounce(limit=None, period_seconds=None, calendar_day=False),
        "INSUFFICIENT_FUNDS_EMAIL": Debounce(limit=1, period_seconds=86400, calendar_day=True),
        "HIGH_RISK_ALERT": Debounce(limit=None, period_seconds=None, calendar_day=False),
    }
    assert all(rule.delay_seconds == 0 and not rule.recheck for rule in config.rules)


def test_channels_and_privacy_are_as_documented(config):
    channels = {t.type: (t.channel, t.private) for t in config.templates.values()}

    assert channels == {
        "WELCOME_EMAIL": ("email", False),
        "BANK_LINK_NUDGE_SMS": ("sms", False),
        "INSUFFICIENT_FUNDS_EMAIL": ("email", False),
        "HIGH_RISK_ALERT": ("email", True),
    }


@pytest.mark.parametrize("opt_in", [True, "true", "True", "TRUE"])
def test_welcome_email_goes_to_users_who_opted_in(config, opt_in):
    signup = event("signup_completed", traits={"marketing_opt_in": opt_in})

    assert outcome(config, "WELCOME_EMAIL", [signup]) is None


@pytest.mark.parametrize(
    "traits, reason",
    [
        ({"marketing_opt_in": False}, 'user_traits.marketing_opt_in is false, not EQ "true"'),
        ({"marketing_opt_in": "false"}, 'user_traits.marketing_opt_in is "false", not EQ "true"'),
        ({"marketing_opt_in": 1}, 'user_traits.marketing_opt_in is 1, not EQ "true"'),
        ({}, "user_traits.marketing_opt_in is missing"),
    ],
)
def test_welcome_email_skips_users_who_did_not_opt_in(config, traits, reason):
    assert outcome(config, "WELCOME_EMAIL", [event("signup_completed", traits=traits)]) == reason


@pytest.mark.parametrize(
    "after, matches",
    [
        (timedelta(hours=23), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), False),
        (timedelta(hours=25), False),
    ],
)
def test_bank_link_nudge_needs_a_signup_in_the_day_before(config, after, matches):
    signup = event("signup_completed", sequence=1)
    link = event("link_bank_success", at=SIGNUP + after, sequence=2)

    failure = outcome(config, "BANK_LINK_NUDGE_SMS", [signup, link])

    expected = None if matches else "no signup_completed in the 1d before this event"
    assert failure == expected


def test_bank_link_nudge_ignores_a_signup_after_the_link(config):
    link = event("link_bank_success", sequence=1)
    later_signup = event("signup_completed", at=SIGNUP + timedelta(minutes=5), sequence=2)

    failure = outcome(config, "BANK_LINK_NUDGE_SMS", [later_signup, link])

    assert failure == "no signup_completed in the 1d before this event"


@pytest.mark.parametrize(
    "reason, failure",
    [
        ("INSUFFICIENT_FUNDS", None),
        ("insufficient_funds", None),
        (
            "CARD_EXPIRED",
            'properties.failure_reason is "CARD_EXPIRED", not EQ "INSUFFICIENT_FUNDS"',
        ),
        (None, "properties.failure_reason is missing"),
    ],
)
def test_insufficient_funds_email_only_for_that_reason(config, reason, failure):
    payment = event("payment_failed", failure_reason=reason)

    assert outcome(config, "INSUFFICIENT_FUNDS_EMAIL", [payment]) == failure


@pytest.mark.parametrize(
    "attempt, failure",
    [
        (2, "properties.attempt_number is 2, not GTE 3"),
        ("2", 'properties.attempt_number is "2", not GTE 3'),
        (3, None),
        ("3", None),
        (4.5, None),
        ("many", 'properties.attempt_number is "many", not a number to compare GTE 3'),
        (None, "properties.attempt_number is missing"),
    ],
)
def test_high_risk_alert_from_the_third_attempt(config, attempt, failure):
    payment = event("payment_failed", attempt_number=attempt)

    assert outcome(config, "HIGH_RISK_ALERT", [payment]) == failure


def test_templates_render_from_the_event_and_report_what_is_missing(config):
    variables = template_variables(
        user_id="u_12345",
        event_type="payment_failed",
        event_timestamp="2025-10-31T19:30:00Z",
        properties={"amount": 42.5, "failure_reason": "INSUFFICIENT_FUNDS"},
        user_traits={"email": "ann@example.com", "country": "GB"},
    )

    funds, funds_missing = template_render(
        config.templates["INSUFFICIENT_FUNDS_EMAIL"].text, variables
    )
    alert, alert_missing = template_render(config.templates["HIGH_RISK_ALERT"].text, variables)

    assert "your payment of 42.5 , but it failed" in funds
    assert funds_missing == ("currency",)
    assert "User ID: u_12345" in alert and "Country: GB" in alert
    assert "Timestamp: 2025-10-31T19:30:00Z" in alert
    assert alert_missing == ("recent_events", "risk_segment")


@pytest.mark.parametrize(
    "after, matches", [(timedelta(hours=23), True), (timedelta(hours=25), False)]
)
def test_the_event_store_answers_the_seed_proximity_like_memory(db, after, matches):
    user = User.objects.create(external_id="u_1")
    Event.objects.bulk_create(
        [
            Event(event_id="s", user=user, event_type="signup_completed", occurred_at=SIGNUP),
            Event(
                event_id="l", user=user, event_type="link_bank_success", occurred_at=SIGNUP + after
            ),
        ]
    )
    link = Event.objects.get(event_id="l")
    (rule,) = seed_config().rules_for("link_bank_success")
    store = UserEventHistory(user_id=user.pk, anchor=link, user_traits={})
    anchor = event_record(link, user_traits={})

    failure = condition_failure(rule.condition, event=anchor, history=store)

    assert rule.condition.passes(event=anchor, history=store) is matches
    assert failure == (None if matches else "no signup_completed in the 1d before this event")
