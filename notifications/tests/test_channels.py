"""Delivery through each channel, against a real HTTP server on loopback and locmem email."""

import json
import logging
import pickle
import socket
import socketserver
import threading
from dataclasses import replace

import pytest

from notifications.channels import DeliveryFailed, OutgoingMessage, message_deliver

USER_EMAIL = "jane.doe@example.com"
USER_PHONE = "+447700900123"
BODY = "Your payment of 42.00 GBP failed"


def _message(**changes) -> OutgoingMessage:
    message = OutgoingMessage(
        idempotency_key="notification:17",
        notification_type="INSUFFICIENT_FUNDS_EMAIL",
        channel="email",
        private=False,
        user_id=7,
        user_external_id="u_12345",
        email=USER_EMAIL,
        phone=USER_PHONE,
        subject="Payment failed",
        body=BODY,
    )
    return replace(message, **changes)


@pytest.fixture
def sms_webhook(webhook, settings):
    settings.SMS_WEBHOOK_URL = webhook.url
    return webhook


@pytest.fixture(autouse=True)
def no_destinations(settings):
    """Start every test with nowhere configured, as the embedded defaults have it."""
    settings.SMS_WEBHOOK_URL = ""
    settings.INTERNAL_WEBHOOK_URL = ""
    settings.INTERNAL_ALERT_EMAIL = []
    settings.DEFAULT_FROM_EMAIL = "notifications@example.com"


def test_user_email_goes_to_the_user_from_the_default_sender(mailoutbox):
    destinations = message_deliver(_message())

    assert destinations == ("email:j***@example.com",)
    [email] = mailoutbox
    assert email.to == [USER_EMAIL]
    assert email.from_email == "notifications@example.com"
    assert email.subject == "Payment failed"
    assert email.body == BODY
    assert email.extra_headers["X-Idempotency-Key"] == "notification:17"


class SmtpRefusingRecipients(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept a sender and refuse every recipient with `code`."""

    code = 550

    def handle(self) -> None:
        self.wfile.write(b"220 stub ready\r\n")
        for line in self.rfile:
            verb = line[:4].upper()
            if verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            reply = f"{self.code} no such user" if verb == b"RCPT" else "250 ok"
            self.wfile.write(reply.encode() + b"\r\n")


@pytest.fixture
def smtp(settings):
    """Point Django's SMTP backend at a loopback port; the test decides who listens there."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return settings


def _smtp_serve(settings, handler: type[socketserver.BaseRequestHandler]):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    settings.EMAIL_PORT = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.mark.parametrize("code, retryable", [(550, False), (450, True)])
def test_smtp_recipient_refused_is_retryable_only_when_temporary(smtp, code, retryable):
    handler = type("Refusing", (SmtpRefusingRecipients,), {"code": code})
    server = _smtp_serve(smtp, handler)
    try:
        with pytest.raises(DeliveryFailed) as failure:
            message_deliver(_message())
    finally:
        server.shutdown()
        server.server_close()

    assert failure.value.retryable is retryable
    assert failure.value.error == f"the mail server refused the recipient ({code})"
    assert USER_EMAIL not in failure.value.error


def test_smtp_server_that_never_greets_is_a_retryable_timeout(smtp):
    smtp.EMAIL_TIMEOUT = 0.2
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        smtp.EMAIL_PORT = listener.getsockname()[1]

        with pytest.raises(DeliveryFailed) as failure:
            message_deliver(_message())

    assert failure.value.retryable is True
    assert failure.value.error.startswith("email not sent:")
    assert "timed out" in failure.value.error


def test_smtp_server_that_refuses_the_connection_is_retryable(smtp):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp.EMAIL_PORT = probe.getsockname()[1]

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message())

    assert failure.value.retryable is True
    assert failure.value.error.startswith("email not sent: ConnectionRefusedError")


def test_user_email_without_an_address_fails_for_good(mailoutbox):
    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(email=""))

    assert failure.value.retryable is False
    assert failure.value.error == "the user has no email address"
    assert mailoutbox == []


def test_sms_posts_json_with_the_idempotency_key(sms_webhook):
    destinations = message_deliver(_message(channel="sms"))

    assert destinations == ("sms:***23",)
    [request] = sms_webhook.received
    assert request.path == "/hook"
    assert request.headers["Idempotency-Key"] == "notification:17"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "idempotency_key": "notification:17",
        "notification_type": "INSUFFICIENT_FUNDS_EMAIL",
        "to": USER_PHONE,
        "text": BODY,
        "user_id": 7,
    }


def test_sms_webhook_503_is_retryable_and_the_retry_sends_the_same_request(sms_webhook):
    sms_webhook.answers = [(503, "provider overloaded"), (200, "queued")]
    message = _message(channel="sms")

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(message)
    assert failure.value.retryable is True
    assert "503" in failure.value.error
    assert "provider overloaded" in failure.value.error

    assert message_deliver(message) == ("sms:***23",)
    first, second = sms_webhook.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Idempotency-Key"] == "notification:17"
    assert first.body == second.body
    assert first.body["idempotency_key"] == "notification:17"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_sms_webhook_server_errors_and_throttling_are_retryable(sms_webhook, status):
    sms_webhook.answers = [(status, "try later")]

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms"))

    assert failure.value.retryable is True
    assert f"answered {status}" in failure.value.error


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_sms_webhook_client_errors_are_not_retryable(sms_webhook, status):
    sms_webhook.answers = [(status, '{"error": "invalid number"}')]

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms"))

    assert failure.value.retryable is False
    assert failure.value.error == f'SMS webhook answered {status}: {{"error": "invalid number"}}'


def test_webhook_error_body_is_cut_to_a_short_excerpt(sms_webhook):
    sms_webhook.answers = [(400, "x" * 5000)]

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms"))

    assert failure.value.error == "SMS webhook answered 400: " + "x" * 200 + "…"


def test_webhook_redirect_is_not_followed(sms_webhook):
    sms_webhook.answers = [(302, "moved")]

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms"))

    assert failure.value.retryable is False
    assert "answered 302" in failure.value.error
    assert len(sms_webhook.received) == 1


def test_sms_webhook_that_does_not_answer_in_time_is_a_retryable_timeout(sms_webhook, settings):
    settings.NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS = 0.2
    sms_webhook.answers = [(None, "")]

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms"))

    assert failure.value.retryable is True
    assert failure.value.error == "SMS webhook timeout after 0.2s"


def test_sms_webhook_that_refuses_the_connection_is_retryable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now.
    settings.SMS_WEBHOOK_URL = f"http://127.0.0.1:{port}/hook"

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms"))

    assert failure.value.retryable is True
    assert failure.value.error.startswith("SMS webhook unreachable:")
    assert "refused" in failure.value.error.lower()


def test_sms_without_a_phone_number_fails_for_good(sms_webhook):
    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="sms", phone=""))

    assert failure.value.retryable is False
    assert failure.value.error == "the user has no phone number"
    assert sms_webhook.received == []


def test_sms_without_a_webhook_is_logged_with_ids_only_where_chosen(caplog, mailoutbox, settings):
    settings.NOTIFICATION_CONSOLE_DELIVERY = True
    caplog.set_level(logging.INFO, logger="notifications.channels")

    assert message_deliver(_message(channel="sms")) == ("log",)

    [record] = [r for r in caplog.records if r.name == "notifications.channels"]
    assert record.msg["event"] == "notification.logged"
    assert record.msg["idempotency_key"] == "notification:17"
    assert record.msg["user_id"] == 7
    assert record.msg["channel"] == "sms"
    for secret in (USER_PHONE, USER_EMAIL, BODY, "Payment failed"):
        assert secret not in caplog.text
    assert mailoutbox == []


def test_private_email_goes_to_every_operator_and_never_to_the_user(settings, mailoutbox):
    settings.INTERNAL_ALERT_EMAIL = ["ops@example.com", "risk@example.com"]

    destinations = message_deliver(_message(private=True, notification_type="HIGH_RISK_ALERT"))

    assert destinations == ("email:ops@example.com", "email:risk@example.com")
    [email] = mailoutbox
    assert email.to == ["ops@example.com", "risk@example.com"]
    assert USER_EMAIL not in email.recipients()
    assert email.subject == "Payment failed"
    assert email.body == BODY


def test_private_sms_goes_to_the_operators_not_to_the_users_phone(settings, webhook, mailoutbox):
    settings.INTERNAL_ALERT_EMAIL = ["ops@example.com"]
    settings.INTERNAL_WEBHOOK_URL = webhook.url
    settings.SMS_WEBHOOK_URL = webhook.url

    destinations = message_deliver(_message(private=True, channel="sms"))

    assert destinations == ("webhook:internal", "email:ops@example.com")
    [request] = webhook.received
    assert "to" not in request.body
    assert USER_PHONE not in json.dumps(request.body)
    assert [email.to for email in mailoutbox] == [["ops@example.com"]]


def test_private_webhook_gets_the_alert_with_the_user_ids(settings, webhook, mailoutbox):
    settings.INTERNAL_WEBHOOK_URL = webhook.url

    destinations = message_deliver(_message(private=True, notification_type="HIGH_RISK_ALERT"))

    assert destinations == ("webhook:internal",)
    [request] = webhook.received
    assert request.headers["Idempotency-Key"] == "notification:17"
    assert request.body == {
        "idempotency_key": "notification:17",
        "notification_type": "HIGH_RISK_ALERT",
        "subject": "Payment failed",
        "text": BODY,
        "user_id": 7,
        "user_external_id": "u_12345",
    }
    assert mailoutbox == []


def test_private_webhook_failure_sends_no_email_so_the_retry_sends_it_once(
    settings, webhook, mailoutbox
):
    settings.INTERNAL_ALERT_EMAIL = ["ops@example.com"]
    settings.INTERNAL_WEBHOOK_URL = webhook.url
    webhook.answers = [(503, "down"), (200, "ok")]
    message = _message(private=True)

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(message)
    assert failure.value.retryable is True
    assert failure.value.error == "internal webhook answered 503: down"
    assert mailoutbox == []

    assert message_deliver(message) == ("webhook:internal", "email:ops@example.com")
    assert len(mailoutbox) == 1


def test_private_message_with_no_operator_destination_is_logged_where_chosen(
    caplog, mailoutbox, settings
):
    settings.NOTIFICATION_CONSOLE_DELIVERY = True
    caplog.set_level(logging.INFO, logger="notifications.channels")

    assert message_deliver(_message(private=True)) == ("log",)

    [record] = [r for r in caplog.records if r.name == "notifications.channels"]
    assert record.msg["event"] == "notification.logged"
    assert record.msg["private"] is True
    assert BODY not in caplog.text
    assert USER_EMAIL not in caplog.text
    assert mailoutbox == []


def test_unknown_channel_fails_for_good():
    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(channel="pigeon"))

    assert failure.value.retryable is False
    assert failure.value.error == "unknown channel 'pigeon'"


def test_delivery_failure_survives_pickling_with_its_retryability():
    failure = pickle.loads(pickle.dumps(DeliveryFailed("SMS webhook answered 503: down", False)))

    assert (failure.error, failure.retryable) == ("SMS webhook answered 503: down", False)
    assert str(failure) == "SMS webhook answered 503: down"


@pytest.mark.parametrize(
    "message, unset",
    [
        (_message(channel="sms"), "SMS_WEBHOOK_URL is not set"),
        (_message(private=True), "INTERNAL_ALERT_EMAIL and INTERNAL_WEBHOOK_URL are not set"),
    ],
)
def test_a_message_with_nowhere_to_go_fails_unless_the_console_was_chosen(
    message, unset, caplog, mailoutbox
):
    caplog.set_level(logging.INFO, logger="notifications.channels")

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(message)

    assert failure.value.error == f"nowhere to deliver: {unset}"
    assert failure.value.retryable is True
    assert "notification.logged" not in caplog.text


@pytest.mark.parametrize(
    "backend", ["console", "smtp"], ids=["the console backend", "SMTP without a host"]
)
def test_email_with_no_transport_fails_unless_the_console_was_chosen(backend, settings, mailoutbox):
    settings.EMAIL_BACKEND = f"django.core.mail.backends.{backend}.EmailBackend"
    settings.EMAIL_HOST = ""

    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message())

    assert failure.value.error == "no email transport: EMAIL_HOST is not set"
    assert failure.value.retryable is True


def test_email_goes_to_the_console_where_chosen(settings, capsys):
    settings.NOTIFICATION_CONSOLE_DELIVERY = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    assert message_deliver(_message()) == ("email:j***@example.com",)
    assert "Subject: Payment failed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "changes",
    [{"subject": "Welcome u_1\nBcc: x@example.com"}, {"email": "jane\n@example.com"}],
    ids=["a newline in the subject", "a newline in the address"],
)
def test_an_email_that_cannot_be_encoded_fails_for_good_without_quoting_it(changes, mailoutbox):
    with pytest.raises(DeliveryFailed) as failure:
        message_deliver(_message(**changes))

    assert failure.value.retryable is False
    assert failure.value.error.startswith("email not sent: a header or an address cannot be")
    assert "example.com" not in failure.value.error
    assert mailoutbox == []
