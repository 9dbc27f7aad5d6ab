"""ClickHouse's bad days: an outage backs off and never dead-letters, only refused rows bisect.

Real failures: chDB refusing an insert for too many parts or for a constraint, and a local
HTTP endpoint answering the insert as a proxy in front of ClickHouse does (http_clickhouse).
"""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from outbox.batches import batch_claim
from outbox.clickhouse.client import clickhouse_command
from outbox.contracts import CONSUMER_METRICS, Message
from outbox.models import OutboxBatch, OutboxMessage
from outbox.relay import outbox_relay
from outbox.selectors import outbox_horizon_holder
from outbox.services import outbox_publish
from outbox.tests.http_clickhouse import fake_clickhouse

pytestmark = pytest.mark.django_db(transaction=True)


def _due_now() -> None:
    """The backoff has passed."""
    OutboxBatch.objects.update(next_attempt_at=timezone.now())


def _dead_letters() -> int:
    return OutboxMessage.objects.filter(dead_lettered_at__isnull=False).count()


def test_a_proxys_502_on_the_insert_backs_off_and_never_dead_letters(publish, settings):
    """Before: a 502 was a rejection, and the batch was bisected down to dead letters."""
    settings.OUTBOX_MAX_ATTEMPTS = 1
    publish(3)
    with fake_clickhouse("502") as clickhouse:
        settings.CLICKHOUSE_URL = clickhouse.url
        for _ in range(3):
            assert outbox_relay().failed
            _due_now()

    [batch] = OutboxBatch.objects.all()
    assert (batch.attempts, batch.rejections, batch.size) == (3, 0, 3)
    assert "502" in batch.last_error
    assert _dead_letters() == 0
    assert len(clickhouse.inserts) == 3


@pytest.fixture
def too_many_parts(event_log):
    """event_log refuses any insert with TOO_MANY_PARTS (code 252) until the fixture ends."""
    clickhouse_command("ALTER TABLE event_log MODIFY SETTING parts_to_throw_insert = 1")
    clickhouse_command("INSERT INTO event_log (event_key, event_type) VALUES ('k', 'one part')")
    yield
    clickhouse_command("ALTER TABLE event_log RESET SETTING parts_to_throw_insert")


def test_too_many_parts_backs_off_and_never_dead_letters(publish, settings, too_many_parts):
    """Before: TOO_MANY_PARTS was a rejection, so a busy ClickHouse dead-lettered good rows."""
    settings.OUTBOX_MAX_ATTEMPTS = 1
    publish(4)

    for _ in range(3):
        assert outbox_relay().failed
        _due_now()

    [batch] = OutboxBatch.objects.all()
    assert (batch.attempts, batch.rejections, batch.size) == (3, 0, 4)
    assert "TOO_MANY_PARTS" in batch.last_error
    assert _dead_letters() == 0


def test_rejections_are_counted_apart_from_outages(event_log, publish, settings):
    """Before: two outages and one rejection made three attempts, and the batch was bisected."""
    settings.OUTBOX_MAX_ATTEMPTS = 2
    publish(4)
    embedded = settings.CLICKHOUSE_URL
    with fake_clickhouse("502") as clickhouse:
        settings.CLICKHOUSE_URL = clickhouse.url
        for _ in range(2):
            outbox_relay()
            _due_now()
    settings.CLICKHOUSE_URL = embedded
    clickhouse_command("ALTER TABLE event_log ADD CONSTRAINT refuse_all CHECK 0")
    try:
        assert outbox_relay().failed
    finally:
        clickhouse_command("ALTER TABLE event_log DROP CONSTRAINT refuse_all")

    [batch] = OutboxBatch.objects.all()
    assert (batch.attempts, batch.rejections, batch.size) == (3, 1, 4)
    _due_now()
    assert outbox_relay().messages == 4
    assert event_log.count() == 4


def test_a_slow_insert_holds_no_transaction_back(publish, settings):
    """Before: the relay held the batch's row lock, and so a transaction id, across the insert.

    Meanwhile no claim of any consumer could take a message committed after it.
    """
    publish(2)
    with fake_clickhouse("ok") as clickhouse:
        settings.CLICKHOUSE_URL = clickhouse.url
        reports = []

        def relay() -> None:
            try:
                reports.append(outbox_relay())
            finally:
                connection.close()

        thread = threading.Thread(target=relay)
        thread.start()
        try:
            assert clickhouse.insert_arrived.wait(timeout=60)
            holder = outbox_horizon_holder()
            with transaction.atomic():
                outbox_publish(
                    messages=[Message(topic="event_stored", subject_id=1)],
                    consumers=[CONSUMER_METRICS],
                )
            claimed = batch_claim(CONSUMER_METRICS, size=10)
        finally:
            clickhouse.release.set()
            thread.join(timeout=60)

    assert holder is None, f"session {holder} held the horizon during the insert"
    assert claimed is not None and claimed.size == 1
    assert reports[0].messages == 2
    assert OutboxBatch.objects.get(consumer="analytics").shipped_at is not None
