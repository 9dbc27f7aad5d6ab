"""outbox_publish writes in the caller's transaction, or not at all."""

import base64
import json

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from structlog.testing import capture_logs

from midnite_test.celery import app as celery_app
from outbox.contracts import CONSUMER_ANALYTICS, CONSUMER_METRICS, CONSUMER_NOTIFICATIONS
from outbox.exceptions import NotInTransaction
from outbox.models import OutboxMessage
from outbox.consumers import HANDLERS
from outbox.services import outbox_consumer_register, outbox_publish, outbox_wake
from outbox.tasks import outbox_process_many_task, outbox_wakeup_task
from outbox.tests.conftest import broker_unreachable, record
from outbox.worker_channel import WAKEUP_DELAY_SECONDS


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


@pytest.fixture
def broker(broker, settings):
    """The emptied broker (outbox.tests.conftest), with no wake-up owed in this process."""
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    outbox_wake(consumers=[])  # sends what earlier tests left owed
    broker.delete("celery", *broker.keys("wakeup-pending:*"))
    return broker


def sent(broker) -> list[tuple[str, list]]:
    """Each queued Celery message's task name and positional arguments, oldest first."""
    messages = [json.loads(raw) for raw in reversed(broker.lrange("celery", 0, -1))]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


@pytest.mark.django_db(transaction=True)
def test_one_commit_to_three_consumers_sends_one_message_for_them_all(broker, settings):
    settings.OUTBOX_WAKEUP_INTERVAL = 0

    with transaction.atomic():
        outbox_publish(
            messages=[record().as_message(topic="test")],
            consumers=[CONSUMER_NOTIFICATIONS, CONSUMER_ANALYTICS, CONSUMER_METRICS],
        )

    assert sent(broker) == [
        ("outbox.outbox_process_many", [["analytics", "metrics", "notifications"]])
    ]


def test_a_wake_up_runs_after_a_delay_that_coalesces_the_commits_meanwhile(broker):
    before = datetime.now(tz=UTC)
    outbox_wake(consumers=[CONSUMER_ANALYTICS])
    after = datetime.now(tz=UTC)
    outbox_wake(consumers=[CONSUMER_ANALYTICS])  # while it waits: no second message

    (message,) = [json.loads(raw) for raw in broker.lrange("celery", 0, -1)]
    eta = datetime.fromisoformat(message["headers"]["eta"])
    delay = timedelta(seconds=WAKEUP_DELAY_SECONDS)
    assert before + delay <= eta <= after + delay


def test_consumers_asked_for_within_the_interval_go_with_the_next_message(broker, settings):
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    outbox_wake(consumers=[CONSUMER_ANALYTICS])
    settings.OUTBOX_WAKEUP_INTERVAL = 60

    for consumer in (CONSUMER_METRICS, CONSUMER_NOTIFICATIONS, CONSUMER_METRICS):
        outbox_wake(consumers=[consumer])
    throttled = sent(broker)
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    outbox_wake(consumers=[CONSUMER_ANALYTICS])

    assert throttled == [("outbox.outbox_process_many", [["analytics"]])]
    # The analytics wake-up sent first is still pending: it is not sent twice.
    assert sent(broker)[1:] == [("outbox.outbox_process_many", [["metrics", "notifications"]])]


def test_a_wake_up_with_nothing_owed_sends_nothing(broker, settings):
    settings.OUTBOX_WAKEUP_INTERVAL = 0

    outbox_wake(consumers=[])

    assert sent(broker) == []


def test_a_broker_that_is_down_costs_one_failed_send_for_all_consumers(
    broker, settings, broker_down
):
    settings.OUTBOX_WAKEUP_INTERVAL = 0

    with capture_logs() as logs:
        outbox_wake(consumers=[CONSUMER_ANALYTICS, CONSUMER_METRICS, CONSUMER_NOTIFICATIONS])

    assert [(entry["event"], entry["consumers"]) for entry in logs] == [
        ("outbox.wakeup_failed", ["analytics", "metrics", "notifications"])
    ]


def test_consumers_a_failed_wake_up_asked_for_are_left_to_the_sweep(broker, settings):
    """The next wake-up after a failed one carries only what was asked for since."""
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    with broker_unreachable():
        outbox_wake(consumers=[CONSUMER_ANALYTICS])

    outbox_wake(consumers=[CONSUMER_METRICS])

    assert sent(broker) == [("outbox.outbox_process_many", [["metrics"]])]


def test_the_relay_task_queued_before_the_wake_up_changed_still_runs():
    """Beat sent `outbox.outbox_relay` per consumer before `outbox.outbox_tick`; messages with
    that name may be queued."""
    assert {"outbox.outbox_relay", "outbox.outbox_process_many"} <= set(celery_app.tasks)


def _commit(consumers: list[str]) -> None:
    with transaction.atomic():
        outbox_publish(messages=[record().as_message(topic="test")], consumers=consumers)


@pytest.mark.django_db(transaction=True)
def test_many_commits_queue_at_most_one_wake_up_per_consumer(broker):
    every = [CONSUMER_ANALYTICS, CONSUMER_METRICS, CONSUMER_NOTIFICATIONS]
    for _ in range(50):
        _commit(every)
    before_the_worker = sent(broker)

    # The worker takes the message and fans it out; the commits meanwhile add nothing.
    broker.delete("celery")
    outbox_process_many_task(every)
    for _ in range(50):
        _commit(every)

    assert before_the_worker == [("outbox.outbox_process_many", [every])]
    assert sent(broker) == [("outbox.outbox_wakeup", [consumer]) for consumer in every]


@pytest.fixture
def committing_consumer():
    """A consumer whose handler waits for another request to commit a message to it."""
    handled: list[int] = []

    def handler(messages) -> None:
        handled.extend(message_id for message_id, _, _, _ in messages)
        if len(handled) == 1:  # the first run: a request commits while it works
            request = threading.Thread(target=_commit_and_close, args=(["committing"],))
            request.start()
            request.join()

    outbox_consumer_register(consumer="committing", handler=handler)
    yield handled
    HANDLERS.pop("committing")


def _commit_and_close(consumers: list[str]) -> None:
    try:
        _commit(consumers)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_commit_while_the_wake_up_runs_sends_one_more_and_is_handled(broker, committing_consumer):
    _commit(["committing"])
    first = sent(broker)
    broker.delete("celery")
    outbox_process_many_task(["committing"])  # the worker fans the message out
    fanned_out = sent(broker)
    broker.delete("celery")

    outbox_wakeup_task("committing")  # the worker runs the wake-up; a request commits meanwhile
    after_the_run = sent(broker)
    outbox_wakeup_task("committing")

    assert first == [("outbox.outbox_process_many", [["committing"]])]
    assert fanned_out == [("outbox.outbox_wakeup", ["committing"])]
    assert after_the_run == [("outbox.outbox_process_many", [["committing"]])]
    committed = OutboxMessage.objects.filter(consumer="committing")
    assert sorted(committing_consumer) == sorted(committed.values_list("id", flat=True))
    assert len(committing_consumer) == 2
