"""System checks: API_THROTTLE_RATE must parse, at start-up and in `manage.py check`."""

import re

from django.conf import settings
from django.core.checks import Error

# What DRF's throttles parse: a count, then a period read from its first letter.
RATE = re.compile(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)")


def throttle_rate_check(app_configs, **kwargs) -> list[Error]:
    """Report an API_THROTTLE_RATE DRF could not parse, which would fail every request."""
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
