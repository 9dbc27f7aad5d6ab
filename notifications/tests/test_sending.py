"""Sending what is due: delivery, retries, rechecks, and the decisions they leave."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core import mail
from django.utils import timezone as django_timezone

from notifications.models import Notification
from notifications.selectors import user_audit
from users.models import User
from notifications.sending import notifications_send_due
from notifications.tests.conftest import decision, evaluate, product_event
from rule_sets.models import KIND_NOTIFICATIONS

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


@pytest.mark.parametrize(
    "emails, with_webhook, channel",
    [
        ([], False, "log"),  # make run: NOTIFICATION_CONSOLE_DELIVERY, nothing configured
        (["oncall@example.com"], False, "email"),
        ([], True, "webhook"),
        (["oncall@example.com"], True, "webhook+email"),
    ],
)
def test_a_sent_private_alert_records_the_channel_it_used(
    app_user, settings, webhook, emails, with_webhook, channel
):
    settings.NOTIFICATION_CONSOLE_DELIVERY = True
    settings.INTERNAL_ALERT_EMAIL = emails
    settings.INTERNAL_WEBHOOK_URL = webhook.url if with_webhook else ""
    webhook.answers = [(200, "ok")]
    failed = product_event(
        app_user, "payment_failed", SIGNUP, {"failure_reason": "X", "attempt_number": 3}
    )
    evaluate(failed)
    assert decision(failed, "HIGH_RISK_ALERT").channel == "email"  # the template's, until sent

    notifications_send_due()

    alert = decision(failed, "HIGH_RISK_ALERT")
    assert (alert.status, alert.channel) == (S.SENT, channel)
    history = user_audit(user=app_user.external_id, tenants=None).notification_history
    assert [n.channel for n in history if n.notification_type == "HIGH_RISK_ALERT"] == [channel]


def test_an_sms_with_no_webhook_under_console_delivery_records_the_log(app_user, settings):
    settings.NOTIFICATION_CONSOLE_DELIVERY = True
    settings.SMS_WEBHOOK_URL = ""
    app_user.traits = {**app_user.traits, "phone": "+447700900123"}
    app_user.save()
    product_event(app_user, "signup_completed", SIGNUP)
    link = product_event(app_user, "link_bank_success", SIGNUP + timedelta(hours=1))
    evaluate(link)

    notifications_send_due()

    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    assert (nudge.status, nudge.channel) == (S.SENT, "log")


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
def delayed_rules(active_rules):
    active_rules(KIND_NOTIFICATIONS, DELAYED_RULES)


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


def test_a_header_breaking_user_id_fails_that_alert_and_the_rest_of_the_claim_is_sent(
    app_user, settings
):
    settings.INTERNAL_ALERT_EMAIL = ["oncall@example.com"]
    # HIGH_RISK_ALERT's subject carries the user id; a newline in it would inject a header.
    breaking = User.objects.create(external_id="u_2\nBcc: x@example.com", email="u2@example.com")
    failed = product_event(
        breaking, "payment_failed", SIGNUP, {"failure_reason": "X", "attempt_number": 3}
    )
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(failed, signup)

    assert notifications_send_due() == 2

    alert = decision(failed, "HIGH_RISK_ALERT")
    assert (alert.status, alert.attempts) == (S.FAILED, 1)
    assert alert.last_error.startswith("email not sent: a header or an address cannot be")
    assert alert.reason.startswith("failed after 1 attempt(s): email not sent: ")
    assert decision(signup, "WELCOME_EMAIL").status == S.SENT
    assert [message.to for message in mail.outbox] == [["u1@example.com"]]


def test_a_notification_claimed_for_every_attempt_without_an_outcome_is_not_sent_again(
    app_user, settings
):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    # Three claims whose sender died (or outlived its lease) before recording what happened.
    Notification.objects.filter(trigger_event=signup).update(attempts=3)
    _make_due(decision(signup, "WELCOME_EMAIL"))

    notifications_send_due()

    welcome = decision(signup, "WELCOME_EMAIL")
    assert (welcome.status, welcome.attempts) == (S.FAILED, 3)
    assert welcome.reason == (
        "failed after 3 attempt(s): no outcome was recorded: "
        "the sender stopped or outlived its lease"
    )
    assert _statuses(welcome) == [S.SCHEDULED, S.FAILED]
    assert mail.outbox == []


def test_a_user_whose_address_is_gone_by_the_send_is_skipped_not_failed(app_user):
    signup = product_event(app_user, "signup_completed", SIGNUP)
    evaluate(signup)
    app_user.email = ""
    app_user.save()

    notifications_send_due()

    welcome = decision(signup, "WELCOME_EMAIL")
    assert (welcome.status, welcome.reason) == (
        S.SUPPRESSED,
        "skipped WELCOME_EMAIL: no email address",
    )
    assert welcome.last_error == ""
    assert mail.outbox == []


def _quiet_rules(active_rules, *, start: str, end: str) -> int:
    return active_rules(
        KIND_NOTIFICATIONS,
        f"""
rules:
  - notification_type: BANK_LINK_NUDGE_SMS
    event_type: link_bank_success
    quiet_hours: {{start: "{start}", end: "{end}"}}
    event_conditions: []
""",
    )


def _clock(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%H:%M")


def test_a_retry_that_would_fall_in_quiet_hours_waits_for_their_end(
    app_user, settings, active_rules, webhook
):
    # Quiet from two minutes from now for two hours (UTC, the user's zone); the retry is due
    # 5 to 10 minutes from now.
    now = django_timezone.now()
    _quiet_rules(
        active_rules,
        start=_clock(now + timedelta(minutes=2)),
        end=_clock(now + timedelta(hours=2, minutes=2)),
    )
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 600
    settings.SMS_WEBHOOK_URL = webhook.url
    webhook.answers = [(503, "down")]
    link = product_event(app_user, "link_bank_success", now, traits={"phone": "+447700900123"})
    evaluate(link)

    notifications_send_due()

    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    quiet_end = (now + timedelta(hours=2, minutes=2)).replace(second=0, microsecond=0)
    assert (nudge.status, nudge.due_at) == (S.SCHEDULED, quiet_end)
    retry = nudge.decisions.order_by("id").last().reason
    assert retry.endswith(f"retrying at {quiet_end.isoformat()}, when the quiet hours end")


def test_a_send_due_in_quiet_hours_is_deferred_without_using_an_attempt(
    app_user, settings, active_rules, webhook
):
    now = django_timezone.now()
    product_event(app_user, "signup_completed", now - timedelta(minutes=5))
    link = product_event(app_user, "link_bank_success", now, traits={"phone": "+447700900123"})
    _quiet_rules(
        active_rules,
        start=_clock(now - timedelta(hours=1)),
        end=_clock(now + timedelta(hours=1)),
    )
    evaluate(link)
    # Due before the quiet hours end (as a notification scheduled before they began would be).
    _make_due(decision(link, "BANK_LINK_NUDGE_SMS"))
    settings.SMS_WEBHOOK_URL = webhook.url

    notifications_send_due()

    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    quiet_end = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert (nudge.status, nudge.attempts, nudge.due_at) == (S.SCHEDULED, 0, quiet_end)
    assert _statuses(nudge) == [S.SCHEDULED, S.SCHEDULED]
    assert nudge.decisions.order_by("id").last().reason == (
        f"deferred by quiet hours to {quiet_end.isoformat()}"
    )
    assert webhook.received == []


def test_a_send_follows_the_version_that_decided_it_not_one_activated_since(
    app_user, settings, active_rules, webhook
):
    now = django_timezone.now()
    product_event(app_user, "signup_completed", now - timedelta(minutes=5))
    link = product_event(app_user, "link_bank_success", now, traits={"phone": "+447700900123"})
    evaluate(link)  # version 1, the shipped rules, without quiet hours: due now
    quiet = _quiet_rules(
        active_rules,
        start=_clock(now - timedelta(hours=1)),
        end=_clock(now + timedelta(hours=1)),
    )
    settings.SMS_WEBHOOK_URL = webhook.url

    notifications_send_due()

    nudge = decision(link, "BANK_LINK_NUDGE_SMS")
    assert (nudge.status, nudge.rules_version) == (S.SENT, 1)
    assert list(nudge.decisions.order_by("id").values_list("rules_version", flat=True)) == [1, 1]
    assert len(webhook.received) == 1
    later = product_event(
        app_user, "link_bank_success", now + timedelta(seconds=1), traits={"phone": "+4477009"}
    )
    evaluate(later)
    assert decision(later, "BANK_LINK_NUDGE_SMS").rules_version == quiet


def test_a_late_retry_of_an_event_past_the_rules_maximum_age_is_skipped(app_user, active_rules):
    active_rules(
        KIND_NOTIFICATIONS,
        """
rules:
  - notification_type: WELCOME_EMAIL
    event_type: signup_completed
    max_event_age_seconds: 86400
    event_conditions: []
""",
    )
    signup = product_event(app_user, "signup_completed", django_timezone.now())
    evaluate(signup)
    # The first attempts failed; the retry comes two days after the event.
    Notification.objects.filter(trigger_event=signup).update(
        trigger_occurred_at=django_timezone.now() - timedelta(days=2)
    )

    notifications_send_due()

    welcome = decision(signup, "WELCOME_EMAIL")
    assert welcome.status == S.SUPPRESSED
    assert welcome.reason.startswith("skipped WELCOME_EMAIL: the event is 2d")
    assert welcome.reason.endswith("old, more than the rule's max_event_age_seconds (1d)")
    assert mail.outbox == []
