"""Per-key request rate limits."""

import math
import time

import structlog
from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from api_keys.models import ApiKey
from api_keys.rate_counter import window_counter_incr

log = structlog.get_logger(__name__)

# Set in a request's WSGI environ by the fast path of POST /event (alerts.fast_path) once it
# has counted the request, so Django answering it after all does not count it twice. Not an
# HTTP_ key: no client can send it.
THROTTLE_COUNTED = "midnite.throttle_counted"

# Seconds per period, read from the period's first letter as DRF does (api_keys.checks).
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def throttle_rate_parse(rate: str) -> tuple[int, int]:
    """Return (requests, seconds) of a rate such as `6000/min`."""
    count, period = rate.split("/")
    return int(count), _PERIOD_SECONDS[period[0]]


class ApiKeyRateThrottle(BaseThrottle):
    """API_THROTTLE_RATE per API key, and per client IP address for requests without a key.

    Each key (or IP) has a counter per window of the rate's period (a calendar minute for
    `6000/min`): a request adds one, and one over the rate is refused until the window ends,
    which `Retry-After` says. One round trip to Redis per request (api_keys.rate_counter),
    where DRF's throttle reads and writes back a list of every request's time.

    The counters live in Django's default cache: Redis when CACHE_URL is set, so every process
    shares one budget per key; else each process's memory. When Redis does not answer,
    requests are let through: a limiter outage must not take the API down.
    """

    scope = "api"

    def __init__(self) -> None:
        self.seconds_left: float | None = None

    def allow_request(self, request, view) -> bool:
        rate = settings.API_THROTTLE_RATE  # read per request, so tests and checks see changes
        if not rate or request.META.get(THROTTLE_COUNTED):
            return True
        limit, seconds = throttle_rate_parse(rate)
        now = time.time()
        window = int(now // seconds)
        window_end = (window + 1) * seconds
        key = f"throttle:{self.scope}:{self.ident(request)}:{window}"
        try:
            count = window_counter_incr(key=key, expires_in=math.ceil(window_end - now) + 1)
        except RedisError as exc:
            log.warning("api_keys.throttle_cache_unavailable", error=type(exc).__name__)
            return True
        if count <= limit:
            return True
        self.seconds_left = window_end - now
        return False

    def ident(self, request) -> str:
        """Who the request counts against: its key, else its client's IP address."""
        if isinstance(request.auth, ApiKey):
            return f"key:{request.auth.prefix}"
        return f"ip:{self.get_ident(request)}"

    def wait(self) -> float | None:
        return self.seconds_left
