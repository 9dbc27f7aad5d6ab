import itertools
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.db import transaction

from midnite_test.celery import app as celery_app
from outbox.contracts import CONSUMER_ANALYTICS, AnalyticsRecord
from outbox.services import outbox_publish

T0 = datetime(2025, 10, 31, 19, 30, tzinfo=UTC)
_keys = itertools.count()


def record(n: int | None = None, **changes) -> AnalyticsRecord:
    n = next(_keys) if n is None else n
    fields = {
        "key": f"test:{n}",
        "event_type": "test_happened",
        "occurred_at": T0 + timedelta(seconds=n),
        "tenant_id": "tenant_1",
        "user_id": n,
        "context": {"n": n},
    }
    return AnalyticsRecord(**{**fields, **changes})


@pytest.fixture
def publish():
    """Publish payload messages in a committed transaction of their own."""

    def run(count: int = 1, **changes) -> None:
        with transaction.atomic():
            outbox_publish(
                messages=[record(**changes).as_message(topic="test") for _ in range(count)],
                consumers=[CONSUMER_ANALYTICS],
            )

    return run


@pytest.fixture
def broker_down():
    """The broker unreachable for the whole test (broker_unreachable)."""
    with broker_unreachable():
        yield


@contextmanager
def broker_unreachable():
    """Point the app's producers at a port nothing listens on, then back at the broker.

    The app's pools are only dropped, never closed: kombu keeps one pool per broker URL for the
    whole process, and a closed one would be handed back to every later test.
    """

    def write_to(url: str | None) -> None:
        celery_app.conf.broker_write_url = url
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    write_to("redis://127.0.0.1:1/0")
    try:
        yield
    finally:
        write_to(None)


@pytest.fixture
def broker():
    """The Redis broker's default queue emptied, and no wake-up marked pending."""
    queue = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue.delete("celery", *queue.keys("wakeup-pending:*"))
    return queue
