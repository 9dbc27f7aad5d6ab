"""When to try a failed delivery again: capped exponential backoff with equal jitter.

The sender calls `message_deliver` (notifications.channels); after a retryable
`DeliveryFailed` it schedules the next attempt at `delivery_next_attempt_at(...)`, or marks
the notification failed with the last error when that returns None.
"""

import random
from datetime import datetime, timedelta

from django.conf import settings

from notifications.channels import DeliveryFailed

# Jitter for callers that bring no Random of their own (tests pass a seeded one).
_JITTER = random.Random()


def delivery_retry_delay(attempt: int, *, random: random.Random | None = None) -> float:
    """Return the seconds to wait after failed attempt number `attempt` (1 for the first).

    The step doubles from NOTIFICATION_RETRY_BASE_SECONDS with each attempt, capped at
    NOTIFICATION_RETRY_MAX_SECONDS, and the delay is drawn uniformly from [step / 2, step]
    ("equal jitter"). Half the step is always waited, so a provider that is down gets real
    breathing room (full jitter may retry at once); the other half is random, so the many
    messages that failed in the same outage do not all come back in the same second.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, not {attempt}")
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    cap = settings.NOTIFICATION_RETRY_MAX_SECONDS
    # The exponent is bounded so that a very large attempt number cannot overflow a float.
    step = min(cap, base * 2 ** min(attempt - 1, 64))
    source = random if random is not None else _JITTER
    return source.uniform(step / 2, step)


def delivery_next_attempt_at(
    *,
    failure: DeliveryFailed,
    attempts: int,
    now: datetime,
    random: random.Random | None = None,
) -> datetime | None:
    """Return when to try again after `failure` on attempt `attempts`, or None to give up.

    Gives up when the failure is not retryable or NOTIFICATION_MAX_ATTEMPTS attempts have
    been made.
    """
    if not failure.retryable or attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=delivery_retry_delay(attempts, random=random))
