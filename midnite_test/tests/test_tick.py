"""The consumers' tick: one task a tick runs every consumer of the event logs in turn."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from metrics.models import MetricBucket
from midnite_test.celery import app as celery_app
from outbox import relay, services
from outbox.exceptions import ClickHouseUnavailable
from outbox.models import OutboxBatch
from outbox.tasks import outbox_tick_task

pytestmark = pytest.mark.django_db(transaction=True)


def _counted() -> int:
    days = MetricBucket.objects.filter(bucket_size=MetricBucket.Size.DAY)
    return days.aggregate(total=Sum("count"))["total"] or 0


def test_the_worker_schedule_runs_one_task_a_tick_for_every_consumer():
    schedule = celery_app.conf.worker_schedule
    consumers_runs = [
        (name, entry["task"])
        for name, entry in schedule.items()
        if entry["task"] in ("outbox.outbox_relay", "outbox.outbox_tick")
    ]

    assert consumers_runs == [("outbox-tick", "outbox.outbox_tick")]
    assert schedule["outbox-tick"]["schedule"] == timedelta(
        seconds=settings.OUTBOX_RELAY_INTERVAL_SECONDS
    )


def test_one_tick_ships_counts_and_evaluates_a_stored_event(post_event, event_log):
    assert post_event("deposit", "42.00", 10).status_code == 200

    outbox_tick_task()

    assert event_log.count("event_type = 'deposit'") == 1
    assert _counted() == 1


def test_a_consumer_that_raises_leaves_the_next_to_run_then_fails_the_tick(
    post_event, event_log, monkeypatch
):
    def relay_down(**kwargs):
        raise RuntimeError("the relay fell over")

    monkeypatch.setattr(services, "outbox_relay", relay_down)
    assert post_event("deposit", "42.00", 10).status_code == 200

    with pytest.raises(RuntimeError, match="fell over"):
        outbox_tick_task()

    assert (event_log.count(), _counted()) == (0, 1)


def test_a_tick_with_nothing_to_do_sends_one_statement(post_event):
    """A quiet stream costs the tick nothing of its own: one look covers every stream (the
    worker's fixed cost, docs/BENCHMARKS.md, "Issue 20, stop 26: the worker as deployed")."""
    assert post_event("deposit", "42.00", 10).status_code == 200
    outbox_tick_task()

    with CaptureQueriesContext(connection) as sent:
        outbox_tick_task()

    assert len(sent) == 1, [query["sql"] for query in sent]


def test_a_batch_due_again_ships_on_a_tick_with_nothing_new(post_event, event_log, monkeypatch):
    def clickhouse_down(*args, **kwargs):
        raise ClickHouseUnavailable("down for the test")

    with monkeypatch.context() as patched:
        patched.setattr(relay, "event_log_insert", clickhouse_down)
        assert post_event("deposit", "42.00", 10).status_code == 200
        outbox_tick_task()
    assert event_log.count("event_type = 'deposit'") == 0
    assert OutboxBatch.objects.filter(consumer="analytics:events", shipped_at=None).count() == 1
    OutboxBatch.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    outbox_tick_task()

    assert event_log.count("event_type = 'deposit'") == 1
    assert _counted() == 1
