"""outbox_publish writes in the caller's transaction, or not at all."""

import json

import pytest
import redis
from django.db import transaction
from structlog.testing import capture_logs

from outbox.contracts import CONSUMER_ANALYTICS
from outbox.exceptions import NotInTransaction
from outbox.models import OutboxMessage
from outbox.services import outbox_publish, outbox_wake
from outbox.tests.conftest import record


@pytest.mark.django_db(transaction=True)
def test_publishing_outside_a_transaction_raises():
    with pytest.raises(NotInTransaction):
        outbox_publish(messages=[record().as_message(topic="test")], consumers=[CONSUMER_ANALYTICS])

    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_publishes_nothing():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            outbox_publish(
                messages=[record().as_message(topic="test")], consumers=[CONSUMER_ANALYTICS]
            )
            raise RuntimeError("the caller's write failed")

    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_committed_transaction_publishes_one_row_per_message_and_consumer():
    with transaction.atomic():
        added = outbox_publish(
            messages=[record().as_message(topic="test"), record().as_message(topic="test")],
            consumers=[CONSUMER_ANALYTICS, "metrics"],
        )

    assert added == 4
    assert sorted(OutboxMessage.objects.values_list("consumer", flat=True)) == [
        "analytics",
        "analytics",
        "metrics",
        "metrics",
    ]


def test_the_workers_are_woken_only_after_the_commit(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outbox_publish(messages=[record().as_message(topic="test")], consumers=[CONSUMER_ANALYTICS])

    assert len(callbacks) == 1


def test_a_wake_up_puts_a_relay_task_on_the_broker(settings):
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")

    outbox_wake(consumers=[CONSUMER_ANALYTICS])

    [message] = broker.lrange("celery", 0, -1)
    assert json.loads(message)["headers"]["task"] == "outbox.outbox_relay"


def test_wake_ups_are_throttled_per_consumer(settings):
    settings.OUTBOX_WAKEUP_INTERVAL = 60
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")

    for _ in range(5):
        outbox_wake(consumers=["throttled"])

    assert broker.llen("celery") == 1


def test_a_wake_up_never_fails_when_the_broker_is_down(settings, broker_down):
    settings.OUTBOX_WAKEUP_INTERVAL = 0

    with capture_logs() as logs:
        outbox_wake(consumers=[CONSUMER_ANALYTICS])

    assert [entry["event"] for entry in logs] == ["outbox.wakeup_failed"]
