"""The channel settings as a fresh process reads them from its environment."""

import pytest
from django.core import checks

from midnite_test.tests.manage_process import manage_run

CHANNEL_VARIABLES = (
    "EMAIL_HOST",
    "EMAIL_BACKEND",
    "SMS_WEBHOOK_URL",
    "INTERNAL_WEBHOOK_URL",
    "NOTIFICATION_CONSOLE_DELIVERY",
    "DEBUG",
)
PRINT_SETTINGS = (
    "from django.conf import settings; "
    "print(settings.EMAIL_BACKEND); print(settings.INTERNAL_ALERT_EMAIL)"
)


def _manage(*args: str, **variables: str):
    return manage_run(*args, unset=CHANNEL_VARIABLES, **variables)


def test_email_goes_to_the_console_only_where_chosen():
    chosen = _manage("shell", "-v", "0", "-c", PRINT_SETTINGS, NOTIFICATION_CONSOLE_DELIVERY="true")
    unchosen = _manage("shell", "-v", "0", "-c", PRINT_SETTINGS)

    assert chosen.returncode == 0, chosen.stderr
    backend, internal = chosen.stdout.splitlines()
    assert backend == "django.core.mail.backends.console.EmailBackend"
    assert internal == "[]"
    assert unchosen.stdout.splitlines()[0] == "django.core.mail.backends.smtp.EmailBackend"


def test_email_goes_over_smtp_when_a_host_is_set():
    result = _manage(
        "shell",
        "-v",
        "0",
        "-c",
        PRINT_SETTINGS,
        EMAIL_HOST="smtp.example.com",
        INTERNAL_ALERT_EMAIL="ops@example.com, risk@example.com",
    )

    assert result.returncode == 0, result.stderr
    backend, internal = result.stdout.splitlines()
    assert backend == "django.core.mail.backends.smtp.EmailBackend"
    assert internal == "['ops@example.com', 'risk@example.com']"


@pytest.mark.parametrize("url", ["ftp://sms.example.com/send", "sms.example.com/send", "http://"])
def test_start_up_fails_on_a_webhook_url_that_is_not_http(url):
    result = _manage("check", SMS_WEBHOOK_URL=url)

    assert result.returncode != 0
    assert "SMS_WEBHOOK_URL must be an http:// or https:// URL" in result.stderr


def test_a_deployment_with_nowhere_to_deliver_fails_its_deploy_check():
    result = _manage("check", "--deploy", DEBUG="false")

    assert result.returncode != 0
    assert "notifications.E003" in result.stderr
    assert "Notifications have nowhere to go" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [
        {"EMAIL_HOST": "smtp.example.com"},
        {"SMS_WEBHOOK_URL": "https://sms.example.com/send"},
        {"INTERNAL_WEBHOOK_URL": "https://ops.example.com/alerts"},
        {"NOTIFICATION_CONSOLE_DELIVERY": "true"},
        {"DEBUG": "true"},
    ],
    ids=lambda variables: next(iter(variables)),
)
def test_a_deployment_that_delivers_somewhere_or_chose_the_console_passes(variables):
    result = _manage("check", "--deploy", **{"DEBUG": "false", **variables})

    assert "notifications.E003" not in result.stderr


def test_the_plain_check_leaves_delivery_to_the_deploy_check():
    result = _manage("check", DEBUG="false")

    assert result.returncode == 0, result.stderr


def test_a_lease_shorter_than_one_send_is_a_system_check_error(settings):
    settings.NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS = 5
    settings.EMAIL_TIMEOUT = 10
    settings.NOTIFICATION_SEND_LEASE_SECONDS = 20

    errors = [e for e in checks.run_checks() if e.id.startswith("notifications")]

    assert [error.id for error in errors] == ["notifications.E002"]
    assert "NOTIFICATION_SEND_LEASE_SECONDS (20) is shorter than one delivery may take (30 s" in (
        errors[0].msg
    )
    settings.NOTIFICATION_SEND_LEASE_SECONDS = 30
    assert not [e for e in checks.run_checks() if e.id.startswith("notifications")]
