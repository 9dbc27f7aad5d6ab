"""The metrics consumer counts an event once, even when its transaction commits late.

Runs on PostgreSQL only (not in the SQLite API pass): SQLite has one writer at a time, so a
transaction cannot stay open while another commits.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.analytics import TOPIC_EVENT_STORED
from events.contracts import EventInput
from events.ingestion import events_ingest, events_insert_new
from events.models import Event
from metrics.consumer import metric_buckets_add
from metrics.models import MetricBucket
from outbox.contracts import CONSUMER_METRICS
from outbox.services import outbox_process

T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def _event(n: int) -> EventInput:
    return EventInput(
        tenant_id="tenant_1",
        event_id=f"evt_{n}",
        source="web",
        event_type="purchase",
        occurred_at=T0 + timedelta(seconds=n),
    )


def _counted() -> int:
    days = MetricBucket.objects.filter(bucket_size=MetricBucket.Size.DAY)
    return days.aggregate(total=Sum("count"))["total"] or 0


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_transaction_commits_late_is_counted_once():
    stored, commit = threading.Event(), threading.Event()

    def slow_transaction() -> None:
        try:
            with transaction.atomic():
                events_insert_new(events=[_event(0)], received_at=timezone.now())
                stored.set()
                commit.wait(timeout=30)
        finally:
            connection.close()

    slow = threading.Thread(target=slow_transaction)
    slow.start()
    assert stored.wait(timeout=30)
    events_ingest(events=[_event(n) for n in range(1, 5)])
    outbox_process(consumer=CONSUMER_METRICS)
    before = _counted()
    commit.set()
    slow.join(timeout=30)
    outbox_process(consumer=CONSUMER_METRICS)

    assert before == 0, "events committed after an open transaction wait for it (the horizon)"
    assert _counted() == 5
    assert outbox_process(consumer=CONSUMER_METRICS).messages == 0


@pytest.mark.django_db
def test_a_batch_is_counted_in_one_statement_whatever_its_size():
    """The worker runs the handler on every tick's batch: its cost is to be per batch, not per
    event (docs/BENCHMARKS.md, "Issue 20, stop 26: the worker as deployed")."""
    events_ingest(events=[_event(n) for n in range(51)])
    ids = list(Event.objects.order_by("id").values_list("id", flat=True))

    for batch in (ids[:1], ids[1:]):
        with CaptureQueriesContext(connection) as sent:
            metric_buckets_add([(id, TOPIC_EVENT_STORED, id, None) for id in batch])
        assert len(sent) == 1, [query["sql"] for query in sent]

    assert _counted() == 51
    minutes = MetricBucket.objects.filter(bucket_size=MetricBucket.Size.MINUTE)
    assert sorted(minutes.values_list("bucket_start", "count")) == [
        (T0, 51),
    ]
