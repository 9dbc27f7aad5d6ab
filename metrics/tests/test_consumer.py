"""The metrics consumer counts an event once, even when its transaction commits late.

Runs on PostgreSQL only (not in the SQLite API pass): SQLite has one writer at a time, so a
transaction cannot stay open while another commits.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from events.contracts import EventInput
from events.ingestion import events_ingest, events_insert_new
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
