"""Channels: deliver one rendered notification by email, SMS webhook, or to the operators.

`message_deliver` is the one entry point. It either returns where the message went or raises
`DeliveryFailed`, which says whether trying again later can help; the caller owns attempts,
backoff (notifications.delivery) and the notification's status.

- User-facing email goes through Django's email backend (SMTP when `EMAIL_HOST` is set, the
  console where NOTIFICATION_CONSOLE_DELIVERY chose it, locmem in tests) to the user's address.
- SMS is a JSON POST to `SMS_WEBHOOK_URL`, with the idempotency key in the body and in an
  `Idempotency-Key` header, so a provider can drop a retried duplicate.
- Private messages (internal alerts) never reach the user: they go to `INTERNAL_WEBHOOK_URL`
  and/or `INTERNAL_ALERT_EMAIL`.
- A channel with nowhere configured to send fails (retryably: the operator may configure it),
  unless NOTIFICATION_CONSOLE_DELIVERY chose the console: then the message's ids are written to
  the log and it counts as delivered to `log`, so `make run` works with no provider. Nowhere
  else does a message vanish into a log.

Log lines and errors carry ids, never the text, a phone number or a full email address.
"""

import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

import structlog
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage

log = structlog.get_logger(__name__)

CHANNEL_EMAIL = "email"
CHANNEL_SMS = "sms"
DESTINATION_LOG = "log"
DESTINATION_INTERNAL_WEBHOOK = "webhook:internal"

# How much of a refusing webhook's answer goes into the error.
_ERROR_BODY_CHARS = 200
# Email backends that deliver nowhere: chosen only with NOTIFICATION_CONSOLE_DELIVERY.
_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
_NOWHERE_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
)


def user_email(email: str | None, traits: Mapping[str, Any]) -> str:
    """Return the user's email address: the user's own, else the `email` trait; "" if none."""
    return email or str(traits.get("email") or "")


def user_phone(traits: Mapping[str, Any]) -> str:
    """Return the user's phone number, the `phone` trait; "" if none."""
    return str(traits.get("phone") or "")


def address_missing(channel: str, *, email: str | None, traits: Mapping[str, Any]) -> str | None:
    """Return "no email address" or "no phone number" when the user has nowhere to receive a
    message of `channel`; None when they have."""
    if channel == CHANNEL_EMAIL and not user_email(email, traits):
        return "no email address"
    if channel == CHANNEL_SMS and not user_phone(traits):
        return "no phone number"
    return None


def delivery_seconds_max() -> float:
    """Return the longest one `message_deliver` should take, for leases to outlast.

    An internal alert waits on the webhook and then on the mail server; each waits up to its
    timeout to connect and again for the answer.
    """
    return 2 * (settings.NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS + settings.EMAIL_TIMEOUT)


def email_transport_configured() -> bool:
    """Return whether emails go somewhere real: SMTP to EMAIL_HOST, or another backend that
    is not the console, a file or nowhere (locmem counts: tests choose it)."""
    if settings.EMAIL_BACKEND == _SMTP_BACKEND:
        return bool(settings.EMAIL_HOST)
    return settings.EMAIL_BACKEND not in _NOWHERE_BACKENDS


@dataclass(frozen=True, kw_only=True)
class OutgoingMessage:
    """A rendered notification, with everything a channel needs to deliver it."""

    idempotency_key: str
    notification_type: str
    channel: str  # CHANNEL_EMAIL or CHANNEL_SMS
    private: bool
    user_id: int
    user_external_id: str | None
    email: str  # the user's address, "" if none
    phone: str  # the user's phone number, "" if none
    subject: str
    body: str


class DeliveryFailed(Exception):
    """The message was not delivered; `retryable` says whether a later attempt may succeed."""

    def __init__(self, error: str, retryable: bool) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable

    def __reduce__(self) -> tuple:
        # Keep `retryable` when pickled (Celery pickles exceptions it retries on).
        return (type(self), (self.error, self.retryable))


def message_deliver(message: OutgoingMessage) -> tuple[str, ...]:
    """Deliver `message` and return where it went, e.g. ("email:j***@example.com",).

    Side effects: sends an email, POSTs to a webhook, or writes a log line.
    Raises DeliveryFailed (retryable for timeouts, unreachable servers, 5xx, 429 and SMTP
    errors; not for a missing address or phone number, an unknown channel or another 4xx).
    """
    if message.private:
        return _internal_deliver(message)
    if message.channel == CHANNEL_EMAIL:
        return _email_deliver(message)
    if message.channel == CHANNEL_SMS:
        return _sms_deliver(message)
    raise DeliveryFailed(f"unknown channel {message.channel!r}", retryable=False)


def destinations_channel(destinations: tuple[str, ...]) -> str:
    """Return the channel `message_deliver`'s destinations went by, e.g. "log", "sms",
    "webhook+email": what a sent notification records, rather than its template's channel
    (an internal alert's "email" goes to the operators' webhook, their email or the log)."""
    kinds = dict.fromkeys(destination.split(":", 1)[0] for destination in destinations)
    return "+".join(kinds)


def _email_deliver(message: OutgoingMessage) -> tuple[str, ...]:
    if not message.email:
        raise DeliveryFailed("the user has no email address", retryable=False)
    _email_transport_require()
    _email_send(message, to=[message.email])
    return (f"email:{_email_masked(message.email)}",)


def _sms_deliver(message: OutgoingMessage) -> tuple[str, ...]:
    if not message.phone:
        raise DeliveryFailed("the user has no phone number", retryable=False)
    if not settings.SMS_WEBHOOK_URL:
        return _console_deliver(message, reason="SMS_WEBHOOK_URL is not set")
    payload = {
        "idempotency_key": message.idempotency_key,
        "notification_type": message.notification_type,
        "to": message.phone,
        "text": message.body,
        "user_id": message.user_id,
    }
    _webhook_post(
        "SMS webhook",
        url=settings.SMS_WEBHOOK_URL,
        payload=payload,
        idempotency_key=message.idempotency_key,
    )
    return (f"sms:{_phone_masked(message.phone)}",)


def _internal_deliver(message: OutgoingMessage) -> tuple[str, ...]:
    """Send a private message to the operators, never to the user.

    The webhook goes first: it is idempotent, so when the email then fails and the whole
    message is retried, the repeated POST is harmless, whereas a repeated email would not be.
    """
    destinations: list[str] = []
    if settings.INTERNAL_WEBHOOK_URL:
        payload = {
            "idempotency_key": message.idempotency_key,
            "notification_type": message.notification_type,
            "subject": message.subject,
            "text": message.body,
            "user_id": message.user_id,
            "user_external_id": message.user_external_id,
        }
        _webhook_post(
            "internal webhook",
            url=settings.INTERNAL_WEBHOOK_URL,
            payload=payload,
            idempotency_key=message.idempotency_key,
        )
        destinations.append(DESTINATION_INTERNAL_WEBHOOK)
    recipients = list(settings.INTERNAL_ALERT_EMAIL)
    if recipients:
        _email_transport_require()
        _email_send(message, to=recipients)
        destinations.extend(f"email:{address}" for address in recipients)
    if not destinations:
        return _console_deliver(
            message, reason="INTERNAL_ALERT_EMAIL and INTERNAL_WEBHOOK_URL are not set"
        )
    return tuple(destinations)


def _email_transport_require() -> None:
    """Raise DeliveryFailed (retryable) when emails would go nowhere and that was not chosen."""
    if not settings.NOTIFICATION_CONSOLE_DELIVERY and not email_transport_configured():
        raise DeliveryFailed("no email transport: EMAIL_HOST is not set", retryable=True)


def _console_deliver(message: OutgoingMessage, *, reason: str) -> tuple[str, ...]:
    """Write the message's ids (never its text or the user's contact details) to the log,
    where NOTIFICATION_CONSOLE_DELIVERY chose it; else fail, retryably, naming what is unset."""
    if not settings.NOTIFICATION_CONSOLE_DELIVERY:
        raise DeliveryFailed(f"nowhere to deliver: {reason}", retryable=True)
    log.info(
        "notification.logged",
        idempotency_key=message.idempotency_key,
        notification_type=message.notification_type,
        channel=message.channel,
        private=message.private,
        user_id=message.user_id,
        user_external_id=message.user_external_id,
        reason=reason,
    )
    return (DESTINATION_LOG,)


def _email_send(message: OutgoingMessage, *, to: list[str]) -> None:
    """Send `message` by email to `to` through the configured email backend.

    SMTP errors and timeouts are retryable, except a recipient refused with a permanent
    (5xx) code: that address will not start working by itself.
    """
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"X-Idempotency-Key": message.idempotency_key},
    )
    try:
        email.send(fail_silently=False)
    except (BadHeaderError, ValueError) as error:
        # A newline in a header (the subject, an address) or an address that cannot be
        # encoded: sending again cannot help. The error's text would quote the header.
        raise DeliveryFailed(
            f"email not sent: a header or an address cannot be encoded ({type(error).__name__})",
            retryable=False,
        ) from error
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _ in error.recipients.values()})
        permanent = all(code >= 500 for code in codes)
        raise DeliveryFailed(
            f"the mail server refused the recipient ({', '.join(map(str, codes))})",
            retryable=not permanent,
        ) from error
    except (smtplib.SMTPException, OSError) as error:
        # socket timeouts and refused connections are OSErrors.
        raise DeliveryFailed(f"email not sent: {_error_describe(error)}", retryable=True) from error


def _webhook_post(name: str, *, url: str, payload: dict, idempotency_key: str) -> None:
    """POST `payload` as JSON to `url`; raise DeliveryFailed unless it answers 2xx.

    `name` says which webhook in errors (the URL may hold a token). The timeout
    (NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS) applies to the connection and to each read.
    Redirects are not followed: urllib would turn a redirected POST into a GET.
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "User-Agent": "midnite-notifications",
        },
    )
    timeout = settings.NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(request, timeout=timeout).close()
    except urllib.error.HTTPError as error:
        retryable = error.code >= 500 or error.code == 429
        raise DeliveryFailed(
            f"{name} answered {error.code}: {_body_excerpt(error)}", retryable=retryable
        ) from error
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise DeliveryFailed(f"{name} timeout after {timeout}s", retryable=True) from error
        raise DeliveryFailed(f"{name} unreachable: {reason}", retryable=True) from error
    except TimeoutError as error:
        # Raised while waiting for the answer, after the request was sent.
        raise DeliveryFailed(f"{name} timeout after {timeout}s", retryable=True) from error
    except (HTTPException, OSError) as error:
        # The server closed the connection or answered something that is not HTTP.
        raise DeliveryFailed(f"{name} failed: {_error_describe(error)}", retryable=True) from error


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Treat a redirect as the webhook's answer (an HTTPError) instead of following it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl) -> None:
        return None


def _body_excerpt(error: urllib.error.HTTPError) -> str:
    try:
        raw = error.read(_ERROR_BODY_CHARS * 4)
    except (HTTPException, OSError):
        return "(no body)"
    finally:
        error.close()
    text = " ".join(raw.decode("utf-8", errors="replace").split())
    if len(text) > _ERROR_BODY_CHARS:
        text = text[:_ERROR_BODY_CHARS] + "…"
    return text or "(empty body)"


def _error_describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _email_masked(address: str) -> str:
    """Return `address` with all but the first character of the local part hidden."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _phone_masked(phone: str) -> str:
    """Return `phone` with all but its last two characters hidden."""
    return f"***{phone[-2:]}"
