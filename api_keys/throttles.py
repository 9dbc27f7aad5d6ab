"""Per-key request rate limits."""

import structlog
from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

from api_keys.models import ApiKey

log = structlog.get_logger(__name__)

# Set in a request's WSGI environ by the fast path of POST /event (alerts.fast_path) once it
# has counted the request, so Django answering it after all does not count it twice. Not an
# HTTP_ key: no client can send it.
THROTTLE_COUNTED = "midnite.throttle_counted"


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE per API key, and per client IP address for requests without a key.

    The request history lives in Django's default cache: Redis when CACHE_URL is set, so every
    process shares one budget per key; else each process's memory. When Redis does not answer,
    requests are let through: a limiter outage must not take the API down.
    """

    scope = "api"

    def get_rate(self) -> str | None:
        # Read per request (DRF reads DEFAULT_THROTTLE_RATES once, at import).
        return settings.API_THROTTLE_RATE or None

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key:{request.auth.prefix}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if request.META.get(THROTTLE_COUNTED):
            return True
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            log.warning("api_keys.throttle_cache_unavailable", error=type(exc).__name__)
            return True
