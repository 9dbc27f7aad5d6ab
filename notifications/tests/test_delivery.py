"""Backoff between delivery attempts: growth, cap, jitter bounds, and when to give up."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from notifications.channels import DeliveryFailed
from notifications.delivery import delivery_next_attempt_at, delivery_retry_delay

NOW = datetime(2025, 10, 31, 19, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def backoff(settings):
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 30.0
    settings.NOTIFICATION_RETRY_MAX_SECONDS = 3600.0
    settings.NOTIFICATION_MAX_ATTEMPTS = 5
    return settings


@pytest.mark.parametrize(
    "attempt, step",
    [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600), (50, 3600)],
)
def test_delay_lies_between_half_the_step_and_the_step(attempt, step):
    source = random.Random(attempt)

    delays = [delivery_retry_delay(attempt, random=source) for _ in range(200)]

    assert all(step / 2 <= delay <= step for delay in delays)
    # The jitter spreads over the whole range, not around one value.
    assert min(delays) < step * 0.55
    assert max(delays) > step * 0.95


def test_delay_doubles_with_each_attempt_until_the_cap():
    """With the jitter drawn at its top, the delay is the step itself."""
    source = _AlwaysTop()

    delays = [delivery_retry_delay(attempt, random=source) for attempt in range(1, 10)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_delay_never_exceeds_the_cap_even_for_huge_attempt_numbers():
    assert delivery_retry_delay(10_000, random=_AlwaysTop()) == 3600


def test_delay_follows_the_settings(backoff):
    backoff.NOTIFICATION_RETRY_BASE_SECONDS = 1.0
    backoff.NOTIFICATION_RETRY_MAX_SECONDS = 5.0

    delays = [delivery_retry_delay(attempt, random=_AlwaysTop()) for attempt in range(1, 6)]

    assert delays == [1, 2, 4, 5, 5]


def test_same_seed_gives_the_same_delays_and_other_seeds_differ():
    def delays(seed: int) -> list[float]:
        source = random.Random(seed)
        return [delivery_retry_delay(3, random=source) for _ in range(5)]

    assert delays(1) == delays(1)
    assert delays(1) != delays(2)


def test_delay_without_a_random_is_still_jittered_within_bounds():
    delays = {delivery_retry_delay(4) for _ in range(50)}

    assert all(120 <= delay <= 240 for delay in delays)
    assert len(delays) > 1


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempt_numbers_start_at_one(attempt):
    with pytest.raises(ValueError, match="attempt must be 1 or more"):
        delivery_retry_delay(attempt)


def test_retryable_failure_is_retried_after_the_delay():
    failure = DeliveryFailed("SMS webhook answered 503: down", retryable=True)

    retry_at = delivery_next_attempt_at(
        failure=failure, attempts=2, now=NOW, random=random.Random(7)
    )

    assert retry_at == NOW + timedelta(seconds=delivery_retry_delay(2, random=random.Random(7)))
    assert NOW + timedelta(seconds=30) <= retry_at <= NOW + timedelta(seconds=60)


def test_retryable_failure_on_the_last_attempt_gives_up():
    failure = DeliveryFailed("SMS webhook timeout after 5.0s", retryable=True)

    assert delivery_next_attempt_at(failure=failure, attempts=4, now=NOW) is not None
    assert delivery_next_attempt_at(failure=failure, attempts=5, now=NOW) is None


def test_permanent_failure_gives_up_at_once():
    failure = DeliveryFailed("the user has no phone number", retryable=False)

    assert delivery_next_attempt_at(failure=failure, attempts=1, now=NOW) is None


class _AlwaysTop(random.Random):
    """A Random whose uniform(a, b) is always b: the delay without jitter."""

    def uniform(self, a: float, b: float) -> float:
        return b
