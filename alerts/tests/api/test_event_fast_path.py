"""POST /event's WSGI fast path: Django's answers, without Django's request cycle.

Each request goes through `transaction_fast_path` in front of Django's real WSGI handler, as
`midnite_test.wsgi` serves it; a spy on the handler tells which path answered. Where the fast
path should answer, `in_front` fails the test if it fell back to Django, which would otherwise
go unseen: Django's answer is the same, only the work is done twice.

The throttle is on, at its default rate, as under `make run` and in production; `caller` runs a
test under both: no key with ALLOW_ANONYMOUS (`make run`, throttled per client IP) and a key
(production, throttled per key).
"""

import itertools
import json
from contextlib import contextmanager

import pytest
import sentry_sdk
import structlog
from django.core import checks
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from structlog.testing import capture_logs

from alerts.checks import fast_path_middleware_check
from alerts.fast_path import MIRRORED_MIDDLEWARE, transaction_fast_path
from alerts.tests.wsgi_client import wsgi_post
from alerts.views import EventCreateView
from api_keys.authentication import ApiKeyAuthentication
from api_keys.permissions import HasApiKey
from api_keys.services import api_key_create
from api_keys.throttles import ApiKeyRateThrottle
from events.models import Event

# API_THROTTLE_RATE's default: `make run` and production serve with the throttle on.
SERVED_RATE = "6000/min"


class _Django:
    """Django's WSGI handler, counting the requests it answers."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.handler(environ, start_response)


@pytest.fixture
def django_app(settings, users):
    settings.ALLOW_ANONYMOUS = False
    settings.API_THROTTLE_RATE = SERVED_RATE
    cache.clear()
    # As Django's test client does: closing "old" connections would end the test transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield _Django()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fast(django_app):
    return transaction_fast_path(django_app)


@pytest.fixture(params=["make run", "production"])
def caller(request, django_app, settings, api_key):
    """The key a caller sends: none under `make run`'s settings (ALLOW_ANONYMOUS), or one."""
    if request.param == "make run":
        settings.ALLOW_ANONYMOUS = True
        return None
    return api_key


@pytest.fixture
def in_front(django_app):
    """A block each request of which the fast path must answer itself, not fall back to Django.

    Fails naming what the fast path logged as its failure, if it logged one.
    """

    @contextmanager
    def block():
        calls = django_app.calls
        with capture_logs() as logs:
            yield
        failures = [line for line in logs if line["event"] == "event.fast_path_failed"]
        assert failures == [], f"the fast path failed and fell back to Django: {failures}"
        assert django_app.calls == calls, "Django answered a request the fast path should answer"

    return block


def _transaction(t, *, type="deposit", amount="10.00", user_id=1):
    return {"type": type, "amount": amount, "user_id": user_id, "t": t}


def test_a_plain_transaction_is_answered_in_front_of_django(fast, caller, in_front):
    with in_front():
        status, _, content = wsgi_post(
            fast, _transaction(1, type="withdraw", amount="150.00"), key=caller
        )

    assert (status, json.loads(content)) == (
        200,
        {"alert": True, "alert_codes": [1100], "user_id": 1},
    )
    assert Event.objects.filter(user_id=1).count() == 1


def test_the_answer_has_django_s_body_and_headers(fast, django_app, caller, in_front):
    with in_front():
        fast_status, fast_headers, fast_content = wsgi_post(fast, _transaction(1), key=caller)
    django_status, django_headers, django_content = wsgi_post(
        django_app, _transaction(2), key=caller
    )

    assert django_app.calls == 1
    assert (fast_status, fast_content) == (django_status, django_content)
    assert fast_headers.keys() == django_headers.keys()
    assert {k: v for k, v in fast_headers.items() if k != "X-Request-ID"} == {
        k: v for k, v in django_headers.items() if k != "X-Request-ID"
    }


def test_an_acceptable_offered_request_id_is_echoed(fast, caller, in_front):
    with in_front():
        _, headers, _ = wsgi_post(fast, _transaction(1), key=caller, HTTP_X_REQUEST_ID="trace-42")

    assert headers["X-Request-ID"] == "trace-42"


def test_a_replay_is_answered_with_the_stored_codes_on_the_fast_path(fast, caller, in_front):
    with in_front():
        first = wsgi_post(fast, _transaction(1, type="withdraw", amount="150.00"), key=caller)
        again = wsgi_post(fast, _transaction(1, type="withdraw", amount="150.00"), key=caller)

    assert again[0] == 200 and json.loads(again[2]) == json.loads(first[2])
    assert Event.objects.filter(user_id=1).count() == 1


REFUSED = {
    "unknown user": (_transaction(1, user_id=999), {}),
    "not JSON": (b'{"type": "deposit",', {}),
    "a repeated key": (b'{"type":"deposit","type":"deposit","amount":"1","user_id":1,"t":1}', {}),
    "an extra field": ({**_transaction(1), "note": "x"}, {}),
    "an amount that is not money": ({**_transaction(1), "amount": "ten"}, {}),
    "a boolean t": ({**_transaction(1), "t": True}, {}),
    "another content type": (_transaction(1), {"CONTENT_TYPE": "text/plain"}),
    "a charset": (_transaction(1), {"CONTENT_TYPE": "application/json; charset=utf-8"}),
    "an unknown host": (_transaction(1), {"HTTP_HOST": "evil.example"}),
    "an Accept it cannot meet": (_transaction(1), {"HTTP_ACCEPT": "text/html"}),
    "an unknown key": (_transaction(1), {"HTTP_AUTHORIZATION": "Bearer nope"}),
    "no key": (_transaction(1), {"HTTP_AUTHORIZATION": ""}),
}


@pytest.mark.parametrize("body, environ", REFUSED.values(), ids=REFUSED.keys())
def test_a_request_it_does_not_answer_gets_django_s_answer(
    fast, django_app, api_key, body, environ
):
    via_fast = wsgi_post(fast, body, key=api_key, **environ)
    via_django = wsgi_post(django_app, body, key=api_key, **environ)

    assert django_app.calls == 2
    assert (via_fast[0], via_fast[2]) == (via_django[0], via_django[2])


@pytest.mark.parametrize("header", ["Token abc", "Basic dTpw", ""])
def test_another_scheme_under_make_run_is_django_s_401(fast, django_app, settings, header):
    """An empty header included: granian passes a value that is not ASCII as one."""
    settings.ALLOW_ANONYMOUS = True

    status, _, content = wsgi_post(fast, _transaction(1), HTTP_AUTHORIZATION=header)

    assert (status, json.loads(content)["error"]) == (401, "invalid_api_key")
    assert django_app.calls == 1
    assert not Event.objects.exists()


def test_a_conflicting_replay_gets_django_s_409(fast, django_app, caller, in_front):
    with in_front():
        wsgi_post(fast, _transaction(5), key=caller)

    status, _, content = wsgi_post(fast, _transaction(5, amount="11.00"), key=caller)

    assert (status, json.loads(content)["error"]) == (409, "duplicate_timestamp")
    assert django_app.calls == 1


def test_a_key_for_another_tenant_gets_django_s_403(fast, django_app):
    key = api_key_create(name="tenant 2 only", tenants=["tenant_2"]).plaintext

    status, _, content = wsgi_post(fast, _transaction(1), key=key)

    assert (status, json.loads(content)["error"]) == (403, "tenant_forbidden")
    assert django_app.calls == 1


def test_the_throttle_counts_each_request_once_whichever_path_answers(
    fast, caller, in_front, settings
):
    settings.API_THROTTLE_RATE = "3/min"

    with in_front():
        answers = [wsgi_post(fast, _transaction(1), key=caller)[0]]
    answers.append(wsgi_post(fast, _transaction(2, user_id=999), key=caller)[0])  # Django's 400
    with in_front():
        answers.append(wsgi_post(fast, _transaction(3), key=caller)[0])
    answers.append(wsgi_post(fast, _transaction(4), key=caller)[0])  # throttled: Django's 429

    assert answers == [200, 400, 200, 429]


# NUM_PROXIES; one client's requests (taken in turn); another client's request.
CLIENTS = {
    "by REMOTE_ADDR": (0, [{"REMOTE_ADDR": "10.0.0.1"}], {"REMOTE_ADDR": "10.0.0.2"}),
    "X-Forwarded-For not trusted": (
        0,
        [{"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": f"192.0.2.{n}"} for n in range(3)],
        {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "192.0.2.0"},
    ),
    "behind one trusted proxy": (
        1,
        [
            {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "192.0.2.1"},
            {"REMOTE_ADDR": "10.0.0.8", "HTTP_X_FORWARDED_FOR": "203.0.113.7, 192.0.2.1"},
        ],
        {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "192.0.2.2"},
    ),
}


@pytest.mark.parametrize(
    "num_proxies, same_client, other_client", CLIENTS.values(), ids=CLIENTS.keys()
)
def test_without_a_key_both_paths_spend_one_budget_per_client_ip(
    fast, django_app, in_front, settings, num_proxies, same_client, other_client
):
    """The fast path counts a client where Django does, so a client's limit spans both paths."""
    settings.ALLOW_ANONYMOUS = True
    settings.API_THROTTLE_RATE = "4/min"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    client = itertools.cycle(same_client)

    answers = []
    for t in (1, 3):
        with in_front():
            answers.append(wsgi_post(fast, _transaction(t), **next(client))[0])
        answers.append(wsgi_post(django_app, _transaction(t + 1), **next(client))[0])
    over = [
        wsgi_post(fast, _transaction(5), **next(client))[0],
        wsgi_post(django_app, _transaction(5), **next(client))[0],
    ]
    with in_front():
        other = wsgi_post(fast, _transaction(5), **other_client)[0]

    assert (answers, over, other) == ([200, 200, 200, 200], [429, 429], 200)


def test_django_s_view_checks_what_the_fast_path_checks_in_its_place():
    """The fast path repeats these three by hand: another would need repeating there too."""
    view = EventCreateView()

    assert [type(check) for check in view.get_authenticators()] == [ApiKeyAuthentication]
    assert [type(check) for check in view.get_permissions()] == [HasApiKey]
    assert [type(check) for check in view.get_throttles()] == [ApiKeyRateThrottle]


def test_switched_off_every_request_goes_to_django(fast, django_app, api_key, settings):
    settings.EVENT_FAST_PATH = False

    status, _, _ = wsgi_post(fast, _transaction(1), key=api_key)

    assert (status, django_app.calls) == (200, 1)


def test_a_failure_of_its_own_is_logged_and_django_answers(fast, django_app, api_key, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("alerts.fast_path.transaction_ingest", broken)

    with capture_logs() as logs:
        status, _, _ = wsgi_post(fast, _transaction(1), key=api_key)

    assert (status, django_app.calls) == (200, 1)
    assert {"event": "event.fast_path_failed", "error": "RuntimeError"}.items() <= logs[0].items()


def test_in_front_fails_a_test_whose_request_fell_back(fast, caller, in_front, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("alerts.fast_path.transaction_ingest", broken)

    with pytest.raises(AssertionError, match="RuntimeError"):
        with in_front():
            wsgi_post(fast, _transaction(1), key=caller)


def test_django_answers_a_failed_request_under_the_id_the_failure_was_logged_with(
    fast, django_app, api_key, monkeypatch
):
    logged_under = []

    def broken(**kwargs):
        logged_under.append(structlog.contextvars.get_contextvars()["request_id"])
        raise RuntimeError("a bug")

    monkeypatch.setattr("alerts.fast_path.transaction_ingest", broken)

    _, headers, _ = wsgi_post(fast, _transaction(1), key=api_key)

    assert headers["X-Request-ID"] == logged_under[0]


# Failing closed: a middleware it does not mirror switches it off, and a failure of its own is
# reported in full.


@pytest.mark.parametrize(
    "change",
    [
        lambda middleware: [*middleware, "django.middleware.gzip.GZipMiddleware"],
        lambda middleware: [m for m in middleware if "XFrameOptions" not in m],
        lambda middleware: list(reversed(middleware)),
    ],
    ids=["added", "removed", "reordered"],
)
def test_with_other_middleware_every_request_goes_to_django(
    fast, django_app, api_key, settings, change
):
    settings.MIDDLEWARE = change(settings.MIDDLEWARE)

    status, _, _ = wsgi_post(fast, _transaction(1), key=api_key)

    assert (status, django_app.calls) == (200, 1)


def test_the_settings_middleware_is_the_list_the_fast_path_mirrors(settings):
    assert tuple(settings.MIDDLEWARE) == MIRRORED_MIDDLEWARE
    assert fast_path_middleware_check(None) == []


def test_other_middleware_fails_the_system_check_with_a_warning(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]

    [warning] = fast_path_middleware_check(None)

    assert (warning.id, warning.level) == ("alerts.W001", checks.WARNING)


def test_switched_off_other_middleware_raises_no_warning(settings):
    settings.EVENT_FAST_PATH = False
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]

    assert fast_path_middleware_check(None) == []


@pytest.fixture
def events_table_gone(transactional_db):
    """Storing an event fails with a database error until the test ends: a real failure."""
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO gone_for_this_test")
    yield
    # What the server does after a request that failed in the database (close_old_connections,
    # which django_app disconnects).
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE gone_for_this_test RENAME TO {table}")


def test_a_failure_of_its_own_is_logged_with_its_traceback_and_sent_to_sentry(
    sentry_ingest, django_app, fast, events_table_gone, api_key
):
    with capture_logs() as logs:
        status, _, _ = wsgi_post(fast, _transaction(1, amount="987654.32"), key=api_key)
    sentry_sdk.flush(timeout=10)

    [failed] = [line for line in logs if line["event"] == "event.fast_path_failed"]
    assert failed["exc_info"] is True  # rendered as the traceback (structured_logging.py)
    assert (status, django_app.calls) == (500, 1), "Django answered, and failed too"
    reported = [
        error
        for error in sentry_ingest.events("event")
        if any(
            frame.get("module") == "alerts.fast_path" and frame["function"] == "_answer"
            for value in error["exception"]["values"]
            for frame in value["stacktrace"]["frames"]
        )
    ]
    assert len(reported) == 1
    assert Event._meta.db_table in reported[0]["exception"]["values"][-1]["value"]
    assert b"987654.32" not in b"".join(sentry_ingest.envelopes), "the body reached Sentry"


def test_a_setting_changed_after_a_request_applies_to_the_next(
    fast, django_app, api_key, in_front, settings
):
    """The fast path keeps what its settings say between requests, until a setting changes."""
    with in_front():
        wsgi_post(fast, _transaction(1), key=api_key)
    settings.SECURE_REFERRER_POLICY = "no-referrer"
    with in_front():
        _, headers, _ = wsgi_post(fast, _transaction(2), key=api_key)
    settings.ALLOWED_HOSTS = ["elsewhere.example"]
    wsgi_post(fast, _transaction(3), key=api_key)
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.EVENT_FAST_PATH = False
    wsgi_post(fast, _transaction(4), key=api_key)

    assert headers["Referrer-Policy"] == "no-referrer"
    assert django_app.calls == 2


HTTPS_DEPLOYMENT = {
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}


def test_a_deployment_that_is_https_only_keeps_the_fast_path_with_its_hsts_header(
    fast, caller, in_front, settings
):
    """HTTPS only is the deployed default (midnite_test/settings.py): over the TLS proxy, the
    fast path answers, with the HSTS header SecurityMiddleware would add."""
    for name, value in HTTPS_DEPLOYMENT.items():
        setattr(settings, name, value)

    with in_front():
        status, headers, _ = wsgi_post(
            fast, _transaction(1), key=caller, HTTP_X_FORWARDED_PROTO="https"
        )

    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_a_plain_http_request_to_an_https_only_deployment_is_left_to_django(
    fast, django_app, caller, settings
):
    """Django's SecurityMiddleware redirects it: the fast path stores nothing."""
    for name, value in HTTPS_DEPLOYMENT.items():
        setattr(settings, name, value)

    with capture_logs():
        wsgi_post(fast, _transaction(1), key=caller, HTTP_X_FORWARDED_PROTO="http")

    assert django_app.calls == 1
