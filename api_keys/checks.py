"""System checks of API keys' settings, at start-up and in `manage.py check`."""

import re

from django.conf import settings
from django.core.checks import Error
from django.core.exceptions import ImproperlyConfigured

# What the throttle parses (throttle_rate_parse): a count, then a period read from its first letter.
RATE = re.compile(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)")


def throttle_rate_check(app_configs, **kwargs) -> list[Error]:
    """Report an API_THROTTLE_RATE the throttle could not parse, which would fail every request."""
    rate = settings.API_THROTTLE_RATE
    if rate and not RATE.fullmatch(rate):
        return [
            Error(
                f"API_THROTTLE_RATE={rate!r} is not a rate such as 6000/min "
                "(periods: s, min, hour, day; empty switches throttling off).",
                id="api_keys.E001",
            )
        ]
    return []


# The most API_KEY_CACHE_SECONDS may be: README promises every process refuses a revoked key
# within this many seconds, whatever the setting.
REVOCATION_WINDOW_SECONDS = 2.0


def key_cache_period_check(app_configs, **kwargs) -> list[Error]:
    """Report an API_KEY_CACHE_SECONDS that would let a revoked key work longer than promised."""
    period = settings.API_KEY_CACHE_SECONDS
    if not 0 <= period <= REVOCATION_WINDOW_SECONDS:
        return [
            Error(
                f"API_KEY_CACHE_SECONDS={period:g} must be between 0 and "
                f"{REVOCATION_WINDOW_SECONDS:g}: a revoked key works in each process for that "
                "long.",
                id="api_keys.E002",
            )
        ]
    return []


def secret_key_check(app_configs, **kwargs) -> list[Error]:
    """Report, in `check --deploy`, a production SECRET_KEY that is missing or published.

    The key signs the admin's sessions, the other way in besides API keys. Django only warns
    (security.W009); a deployment with DEBUG off fails here instead. With DEBUG on (a
    developer's machine) the published default is fine.
    """
    if settings.DEBUG:
        return []
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:  # set but empty
        key = ""
    if key and key not in settings.PUBLISHED_SECRET_KEYS and not key.startswith("django-insecure-"):
        return []
    return [
        Error(
            "SECRET_KEY is missing or a published default, and DEBUG is off: anyone could sign "
            "an admin session.",
            hint='Set SECRET_KEY to a long random value, e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(50))".',
            id="api_keys.E003",
        )
    ]
