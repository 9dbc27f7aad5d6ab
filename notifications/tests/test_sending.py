"""Sending what is due: delivery, retries, rechecks, and the decisions they leave."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core import mail
from django.utils import timezone as django_timezone

from notifications.models import Notification
from notifications.sending import notifications_send_due
from notifications.tests.conftest import decision, evaluate, product_event

SIGNUP = datetime(2025, 10, 30, 12, 0, tzinfo=timezone.utc)
S = Notification.Status


def _statuses(notification: Notification) -> list[str]:
    return list(notification.decisions.order_by("id").values_list("status", flat=True))


def _make_due(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(
        due_at=django_timezone.now() - timedelta(seconds=1)
    )


def test_a_due_email_is_sent_to_the_user(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    assert notifications_send_due() == 1
    welcome = decision(signup, "WELCOME_EMAIL")
    assert (welcome.status, welcome.attempts) == (S.SENT, 1)
    assert welcome.sent_at is not None
    assert _statuses(welcome) == [S.SCHEDULED, S.SENT]
    [message] = mail.outbox
    assert message.to == ["u1@example.com"]
    assert "Welcome to our payment platform!" in message.body
    assert notifications_send_due() == 0


def test_a_webhook_that_fails_then_succeeds(app_user, settings, webhook):
    app_user.traits = {**app_user.traits, "phone": "+447700900123"}
    app_user.save()
    product_event(app_user, "signup_completed", SIGNUP)
    link = product_event(app_user, "link_bank_success", SIGNUP + timedelta(hours=1))
    evaluate(link)
    webhook.answers = [(503, "down"), (200, "ok")]
    settings.SMS_WEBHOOK_URL = webhook.url
    notifications_send_due()
    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    assert (nudge.status, nudge.attempts) == (S.SCHEDULED, 1)
    assert "503" in nudge.last_error
    assert nudge.due_at > django_timezone.now()
    retry = nudge.decisions.order_by("id").last()
    assert retry.reason.startswith("attempt 1 failed: ")
    assert "retrying at" in retry.reason

    assert notifications_send_due() == 0  # not due before its backoff ends
    _make_due(nudge)
    notifications_send_due()
    nudge.refresh_from_db()
    assert (nudge.status, nudge.attempts) == (S.SENT, 2)
    assert _statuses(nudge) == [S.SCHEDULED, S.SCHEDULED, S.SENT]
    first, second = (request.body for request in webhook.received)
    assert first == second
    assert first["idempotency_key"] == f"notification-{nudge.pk}"
    assert first["to"] == "+447700900123"


def test_a_webhook_that_keeps_failing_ends_failed_with_its_last_error(app_user, settings, webhook):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    app_user.traits = {**app_user.traits, "phone": "+447700900123"}
    app_user.save()
    product_event(app_user, "signup_completed", SIGNUP)
    link = product_event(app_user, "link_bank_success", SIGNUP + timedelta(hours=1))
    evaluate(link)
    webhook.answers = [(503, "down")]
    settings.SMS_WEBHOOK_URL = webhook.url
    notifications_send_due()
    _make_due(decision(link, "BANK_LINK_NUDGE_SMS"))
    notifications_send_due()
    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    assert (nudge.status, nudge.attempts) == (S.FAILED, 2)
    assert "503" in nudge.last_error
    assert nudge.reason.startswith("failed after 2 attempt(s): ")
    assert len(webhook.received) == 2


def test_a_private_alert_goes_to_operations_never_to_the_user(app_user, settings):
    settings.INTERNAL_ALERT_EMAIL = ["oncall@example.com"]
    failed = product_event(
        app_user, "payment_failed", SIGNUP, {"failure_reason": "X", "attempt_number": 3}
    )
    evaluate(failed)
    notifications_send_due()
    assert decision(failed, "HIGH_RISK_ALERT").status == S.SENT
    [message] = mail.outbox
    assert message.to == ["oncall@example.com"]
    assert "User ID: u_1" in message.body


def test_a_user_who_unsubscribes_before_the_send_gets_nothing(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    app_user.traits = {**app_user.traits, "unsubscribed": True}
    app_user.save()
    notifications_send_due()
    welcome = decision(signup, "WELCOME_EMAIL")
    assert (welcome.status, welcome.reason) == (S.SUPPRESSED, "skipped WELCOME_EMAIL: unsubscribed")
    assert mail.outbox == []


DELAYED_RULES = """
rules:
  - notification_type: WELCOME_EMAIL
    event_type: signup_completed
    delay_seconds: 3600
    recheck: true
    debounce_period_seconds: null
    debounce_limit: null
    debounce_calendar_day: false
    event_conditions:
      - property_match:
          property_xpath: user_traits.marketing_opt_in
          value: "true"
          operator: EQ
        event_proximity: null
        event_logic: null
"""


@pytest.fixture
def delayed_rules(settings, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(DELAYED_RULES)
    settings.NOTIFICATION_RULES_PATH = rules


def test_a_delayed_notification_waits_then_a_recheck_cancels_it(app_user, delayed_rules):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    welcome = decision(signup, "WELCOME_EMAIL")
    assert welcome.due_at > django_timezone.now() + timedelta(minutes=59)
    assert notifications_send_due() == 0
    app_user.traits = {**app_user.traits, "marketing_opt_in": False}
    app_user.save()
    _make_due(welcome)
    notifications_send_due()
    welcome.refresh_from_db()
    assert welcome.status == S.CANCELLED
    assert welcome.reason.startswith("recheck failed: ")
    assert "marketing_opt_in" in welcome.reason
    assert mail.outbox == []


def test_a_delayed_notification_that_still_holds_is_sent(app_user, delayed_rules):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    _make_due(decision(signup, "WELCOME_EMAIL"))
    notifications_send_due()
    assert decision(signup, "WELCOME_EMAIL").status == S.SENT
    assert len(mail.outbox) == 1
