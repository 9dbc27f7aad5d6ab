"""POST /event's plain case, answered in front of Django's request cycle: the WSGI fast path.

Django's handler, its middleware and DRF cost about 0.6 ms of a worker's CPU on each
`POST /event`, a third of the request (docs/BENCHMARKS.md). The fast path answers the case
that is nearly all of the traffic, a plainly valid JSON body from an allowed caller within
its throttle, with the same checks, the same service and the same answer as
`EventCreateView`. Every other request goes to Django untouched (with the body read here), and
so does every request the service refuses or fails on: Django then answers it exactly as if
the fast path did not exist. That is safe because the endpoint is idempotent: a transaction
that raised wrote nothing, and one that committed is answered again as a replay.

Served only through the WSGI application (`midnite_test.wsgi`); Django's test client and
`manage.py runserver` never take it. `EVENT_FAST_PATH=false` switches it off, and so does a
MIDDLEWARE other than the one it mirrors (`MIRRORED_MIDDLEWARE`; system check alerts.W001):
a middleware it does not know of could refuse or change a request it would answer. A failure
that is not a refusal is logged with its traceback and sent to Sentry, then Django answers.
"""

import functools
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import sentry_sdk
import structlog
from django.conf import settings
from django.core.signals import request_finished, request_started, setting_changed
from django.dispatch import receiver
from django.http.request import HttpHeaders, split_domain_port, validate_host
from django.utils.functional import cached_property

from alerts.serializers import transaction_answer, transaction_input_plain
from alerts.services import transaction_ingest
from api_keys.selectors import api_key_authenticate
from api_keys.services import tenant_access_check
from api_keys.throttles import THROTTLE_COUNTED, ApiKeyRateThrottle
from midnite_test.errors import DomainError
from midnite_test.middleware import REQUEST_ID_HEADER, request_id_bind
from midnite_test.parsers import DEFAULT_MAX_BODY_BYTES, json_strict_loads
from midnite_test.prometheus import event_fast_path_observe
from users.models import DEFAULT_TENANT

log = structlog.get_logger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
_ACCEPTED = frozenset({"", "*/*", "application/json"})
_REQUEST_ID = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")
# The answer's JSON, compact as DRF's renderer writes it: made once, where json.dumps with
# separators makes an encoder for each call (about 1 % of the request's CPU).
_ANSWER_ENCODER = msgspec.json.Encoder()

# The middleware whose effect on a plain POST /event the fast path reproduces: the request id
# (`request_id_bind`), the security and frame headers (`_security_headers`), and the rest,
# which leave a key-authenticated, CSRF-exempt API request without a slash alone (one with a
# Content-Length, which LengthRequiredMiddleware lets through).
MIRRORED_MIDDLEWARE = (
    "midnite_test.prometheus.PrometheusMiddleware",
    "midnite_test.middleware.RequestIdMiddleware",
    "midnite_test.length_required.LengthRequiredMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)


def transaction_fast_path(django_application: WSGIApp) -> WSGIApp:
    """Return a WSGI application that answers plain `POST /event`s and hands Django the rest."""

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not _eligible(environ):
            return django_application(environ, start_response)
        started = time.perf_counter()
        length = int(environ["CONTENT_LENGTH"])
        body = environ["wsgi.input"].read(length)
        request_id = request_id_bind(offered=environ.get(_REQUEST_ID, ""))
        answered = _answer(environ, body, request_id)
        if answered is None:
            environ["wsgi.input"] = io.BytesIO(body)
            # Django's log lines and answer then carry the id this path logged under.
            environ[_REQUEST_ID] = request_id
            return django_application(environ, start_response)
        status, headers, content = answered
        event_fast_path_observe(started=started)
        start_response(status, headers)
        return [content]

    return application


def _eligible(environ: dict) -> bool:
    """Whether the request is a `POST /event` the fast path may try: the rest is Django's."""
    length = environ.get("CONTENT_LENGTH", "")
    return (
        environ.get("PATH_INFO") == "/event"
        and environ.get("REQUEST_METHOD") == "POST"
        and not environ.get("QUERY_STRING")
        and environ.get("CONTENT_TYPE") == "application/json"
        and environ.get("HTTP_ACCEPT", "") in _ACCEPTED
        and length.isdigit()
        and 0 < int(length) <= DEFAULT_MAX_BODY_BYTES
        and _served().on
        and (not _served().redirect or _secure(environ))
        and _host_allowed(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))
    )


def fast_path_mirrors_middleware() -> bool:
    """Whether MIDDLEWARE is exactly the list the fast path mirrors; if not, it stands aside."""
    return tuple(settings.MIDDLEWARE) == MIRRORED_MIDDLEWARE


@dataclass(frozen=True, kw_only=True)
class _Served:
    """What the settings say about the fast path, read once (again when a test changes one).

    Reading a setting costs a lookup through Django's lazy settings object: the fast path read
    about fifteen a request.
    """

    on: bool
    redirect: bool  # SECURE_SSL_REDIRECT: a plain HTTP request is Django's to redirect.
    hsts: tuple[tuple[str, str], ...]  # SecurityMiddleware's header on an HTTPS answer, if any.
    allow_anonymous: bool
    throttled: bool
    headers: tuple[tuple[str, str], ...]


@functools.cache
def _served() -> _Served:
    return _Served(
        on=settings.EVENT_FAST_PATH and fast_path_mirrors_middleware() and not settings.DEBUG,
        redirect=settings.SECURE_SSL_REDIRECT,
        hsts=tuple(_hsts_header()),
        allow_anonymous=settings.ALLOW_ANONYMOUS,
        throttled=bool(settings.API_THROTTLE_RATE),
        headers=tuple(_security_headers()),
    )


@functools.lru_cache(maxsize=64)
def _host_allowed(host: str) -> bool:
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


@receiver(setting_changed)
def _settings_reread(**kwargs: Any) -> None:
    _served.cache_clear()
    _host_allowed.cache_clear()


def _answer(
    environ: dict, body: bytes, request_id: str
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """Run the request as EventCreateView would; None where Django must answer it."""
    request_started.send(sender=__name__, environ=environ)
    try:
        return _transaction(environ, body, request_id)
    except (DomainError, ValueError, RecursionError):  # refused: Django says why
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is Django's to answer, and report
        # A warning, not an error: the request is still answered. The traceback goes to the
        # log and the exception to Sentry (none of the request's body: observability.py).
        log.warning("event.fast_path_failed", error=type(exc).__name__, exc_info=True)
        sentry_sdk.capture_exception(exc)
        return None
    finally:
        request_finished.send(sender=__name__)


def _transaction(
    environ: dict, body: bytes, request_id: str
) -> tuple[str, list[tuple[str, str]], bytes] | None:
    key = _api_key(environ)
    served = _served()
    if key is None and not served.allow_anonymous:
        return None
    data = transaction_input_plain(json_strict_loads(body))
    if data is None:
        return None
    tenant_access_check(key=key, tenant_id=DEFAULT_TENANT)
    if served.throttled and not _throttle_allows(environ, key):
        return None
    outcome = transaction_ingest(
        user_id=data["user_id"], event_type=data["type"], amount=data["amount"], t=data["t"]
    )
    content = _ANSWER_ENCODER.encode(transaction_answer(outcome))
    headers = [
        ("Content-Type", "application/json"),
        ("Allow", "POST, OPTIONS"),
        ("Content-Length", str(len(content))),
        *served.headers,
        *(served.hsts if _secure(environ) else ()),
        (REQUEST_ID_HEADER, request_id),
    ]
    return "200 OK", headers, content


def _api_key(environ: dict) -> Any:
    """Return the request's API key, None without one; raise for a key that is not valid."""
    authorization = environ.get("HTTP_AUTHORIZATION")
    if authorization is None:
        return None
    scheme, _, plaintext = authorization.partition(" ")
    if scheme.lower() != "bearer" or not plaintext or " " in plaintext:
        raise ValueError("not a plain Bearer key")
    key = api_key_authenticate(plaintext=plaintext)
    if key is None:
        raise ValueError("unknown or revoked key")
    return key


class _ThrottledRequest:
    """What ApiKeyRateThrottle reads of a request, as DRF's Request in Django's path gives it.

    The key (`auth`, None without one), the WSGI environ (`META`, whose REMOTE_ADDR counts a
    request without a key) and the headers Django makes of it (`headers`, whose X-Forwarded-For
    DRF's `get_ident` reads): the same client gets the same throttle cache key on both paths.
    """

    def __init__(self, environ: dict, key: Any) -> None:
        self.META = environ
        self.auth = key

    @cached_property
    def headers(self) -> HttpHeaders:
        # As HttpRequest.headers; built only for a request without a key, the one case read.
        return HttpHeaders(self.META)


def _throttle_allows(environ: dict, key: Any) -> bool:
    """Count the request against its throttle, and tell Django it was counted."""
    if not ApiKeyRateThrottle().allow_request(_ThrottledRequest(environ, key), None):
        return False
    environ[THROTTLE_COUNTED] = True
    return True


def _secure(environ: dict) -> bool:
    """Whether Django takes the request for HTTPS (HttpRequest.scheme): by the TLS proxy's
    header when SECURE_PROXY_SSL_HEADER names one and the request has it, else by WSGI's scheme."""
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = environ.get(header)
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _hsts_header() -> list[tuple[str, str]]:
    """The Strict-Transport-Security header SecurityMiddleware adds to an HTTPS answer."""
    if not settings.SECURE_HSTS_SECONDS:
        return []
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return [("Strict-Transport-Security", value)]


def _security_headers() -> list[tuple[str, str]]:
    """The headers SecurityMiddleware and XFrameOptionsMiddleware add to this response."""
    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        policy = policy if isinstance(policy, str) else ",".join(policy)
        headers.append(("Referrer-Policy", policy))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return headers
