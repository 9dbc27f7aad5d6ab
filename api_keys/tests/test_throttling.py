"""API_THROTTLE_RATE per key, per client IP without a key; 429 `throttled` with Retry-After."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import cache
from rest_framework.test import APIClient
from structlog.testing import capture_logs

from api_keys.checks import throttle_rate_check
from api_keys.throttles import ApiKeyRateThrottle


@pytest.fixture
def three_per_minute(settings):
    """A rate of 3 a minute, counted from an empty local-memory history."""
    settings.API_THROTTLE_RATE = "3/min"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_cache(settings):
    """The default cache in the tests' Redis, under a prefix of its own, removed afterwards."""
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.CELERY_BROKER_URL,
            "KEY_PREFIX": prefix,
        }
    }
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield server, prefix
    for key in server.scan_iter(f"{prefix}*"):
        server.delete(key)
    server.close()


def _register_nobody(client: APIClient, **extra):
    return client.post("/users", {}, format="json", **extra)


def test_the_request_over_the_rate_is_429_throttled_with_retry_after(
    issue, client_for, three_per_minute
):
    client = client_for(issue().plaintext)
    answered = [_register_nobody(client).status_code for _ in range(3)]

    response = _register_nobody(client)

    assert answered == [400, 400, 400]
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert set(response.json()) == {"error", "message", "details"}
    assert 0 < int(response["Retry-After"]) <= 60


def test_each_key_has_its_own_budget(issue, client_for, three_per_minute):
    spent = client_for(issue().plaintext)
    for _ in range(4):
        _register_nobody(spent)

    response = _register_nobody(client_for(issue().plaintext))

    assert response.status_code == 400


def test_requests_without_a_key_are_counted_per_client_ip(db, settings, three_per_minute):
    settings.ALLOW_ANONYMOUS = True
    client = APIClient()
    for _ in range(3):
        _register_nobody(client, REMOTE_ADDR="10.0.0.1")

    over = _register_nobody(client, REMOTE_ADDR="10.0.0.1")
    other_ip = _register_nobody(client, REMOTE_ADDR="10.0.0.2")

    assert over.status_code == 429
    assert other_ip.status_code == 400


def test_a_client_cannot_buy_a_new_budget_with_x_forwarded_for(db, settings, three_per_minute):
    settings.ALLOW_ANONYMOUS = True
    client = APIClient()
    for n in range(3):
        _register_nobody(client, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    response = _register_nobody(client, HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_its_x_forwarded_for_names_the_client(
    db, settings, three_per_minute
):
    settings.ALLOW_ANONYMOUS = True
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    for _ in range(3):
        _register_nobody(client, HTTP_X_FORWARDED_FOR="192.0.2.1")

    over = _register_nobody(client, HTTP_X_FORWARDED_FOR="192.0.2.1")
    other_client = _register_nobody(client, HTTP_X_FORWARDED_FOR="192.0.2.2")

    assert over.status_code == 429
    assert other_client.status_code == 400


def test_an_empty_rate_switches_throttling_off(issue, client_for, settings, three_per_minute):
    settings.API_THROTTLE_RATE = ""
    client = client_for(issue().plaintext)

    statuses = {_register_nobody(client).status_code for _ in range(5)}

    assert statuses == {400}


def test_with_redis_the_count_is_kept_in_redis(issue, client_for, settings, redis_cache):
    server, prefix = redis_cache
    settings.API_THROTTLE_RATE = "1/min"
    issued = issue()
    client = client_for(issued.plaintext)

    answered = [_register_nobody(client).status_code for _ in range(2)]

    assert answered == [400, 429]
    [key] = server.keys(f"{prefix}:1:throttle:api:key:{issued.api_key.prefix}:*")
    assert int(server.get(key)) == 2
    assert 0 < server.ttl(key) <= 61


@pytest.fixture
def redis_round_trips(monkeypatch):
    """Count the requests written to any Redis connection: a pipeline is written as one."""
    sent = []
    send = redis.connection.Connection.send_packed_command

    def counted(connection, command, *args, **kwargs):
        sent.append(command)
        return send(connection, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    return sent


def test_with_redis_n_plus_one_requests_give_one_429_each_in_one_round_trip(
    issue, client_for, settings, redis_cache, redis_round_trips
):
    settings.API_THROTTLE_RATE = "5/min"
    client = client_for(issue().plaintext)
    _register_nobody(client)  # the first request on a fresh connection pool
    answered, round_trips = [], []

    for _ in range(5):
        redis_round_trips.clear()
        answered.append(_register_nobody(client))
        round_trips.append(len(redis_round_trips))

    assert [response.status_code for response in answered] == [400] * 4 + [429]
    assert 0 < int(answered[-1]["Retry-After"]) <= 60
    assert round_trips == [1] * 5


def test_with_redis_concurrent_requests_never_pass_more_than_the_rate(issue, settings, redis_cache):
    settings.API_THROTTLE_RATE = "20/min"
    request = _KeyedRequest(issue().api_key)
    start = threading.Barrier(8)

    def spend() -> list[bool]:
        start.wait()
        return [ApiKeyRateThrottle().allow_request(request, None) for _ in range(6)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = [
            answer for answers in pool.map(lambda _: spend(), range(8)) for answer in answers
        ]

    assert (allowed.count(True), allowed.count(False)) == (20, 28)


class _KeyedRequest:
    """What the throttle reads of a request made with `key`, as the fast path hands it over."""

    def __init__(self, key) -> None:
        self.auth = key
        self.META = {"REMOTE_ADDR": "127.0.0.1"}


def test_a_cache_that_does_not_answer_lets_requests_through(issue, client_for, settings):
    settings.API_THROTTLE_RATE = "1/min"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        }
    }
    client = client_for(issue().plaintext)

    with capture_logs() as logs:
        answered = [_register_nobody(client).status_code for _ in range(3)]

    assert answered == [400, 400, 400]
    assert "api_keys.throttle_cache_unavailable" in {entry["event"] for entry in logs}


def test_a_rate_drf_cannot_parse_fails_the_system_check(settings):
    settings.API_THROTTLE_RATE = "lots"

    [error] = throttle_rate_check(None)

    assert error.id == "api_keys.E001"
    assert "'lots'" in error.msg


@pytest.mark.parametrize("rate", ["6000/min", "10/s", "100/hour", "1/day", ""])
def test_a_rate_drf_can_parse_passes_the_system_check(settings, rate):
    settings.API_THROTTLE_RATE = rate

    assert throttle_rate_check(None) == []
