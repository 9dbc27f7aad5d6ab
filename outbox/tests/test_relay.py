"""The relay ships every message to ClickHouse exactly once, whatever fails on the way."""

import re
import threading
from collections import Counter
from concurrent.futures import wait
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from structlog.testing import capture_logs

from outbox.batches import batch_messages
from outbox.clickhouse.client import clickhouse_command
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxBatch, OutboxMessage
from outbox import relay
from outbox.relay import outbox_relay
from outbox.selectors import outbox_backlog
from outbox.tests.conftest import record

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_message_reaches_event_log_once_with_its_fields(event_log, publish, settings):
    settings.ENVIRONMENT = "test-env"
    publish(3)

    report = outbox_relay()

    assert (report.batches, report.messages, report.failed) == (1, 3, False)
    assert event_log.count() == 3
    assert event_log.count("environment = 'test-env' AND tenant_id = 'tenant_1'") == 3
    assert outbox_backlog()[0].unshipped == 0


def test_relaying_again_ships_nothing_more(event_log, publish):
    publish(5)
    outbox_relay()

    again = outbox_relay()

    assert again.messages == 0
    assert event_log.count() == 5


def test_messages_are_shipped_in_batches_of_the_configured_size(event_log, publish, settings):
    settings.OUTBOX_BATCH_SIZE = 4
    publish(10)

    report = outbox_relay()

    assert (report.batches, report.messages) == (3, 10)
    assert sorted(batch_messages(batch).count() for batch in OutboxBatch.objects.all()) == [2, 4, 4]
    assert event_log.count() == 10


def test_the_relay_marks_a_batch_shipped_without_waiting_for_the_disk(event_log, publish):
    """A mark lost in a crash only sends the same rows again under the same token."""
    publish(2)

    with CaptureQueriesContext(connection) as statements:
        report = outbox_relay()

    [batch] = OutboxBatch.objects.all()
    assert report.messages == 2 and batch.shipped_at is not None and batch.attempts == 1
    [mark] = [query["sql"] for query in statements if re.search(r'SET "?shipped_at', query["sql"])]
    assert "set_config('synchronous_commit', 'off', true)" in mark


def test_a_failing_insert_marks_nothing_shipped_and_is_retried(event_log, publish, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    publish(6)
    # A real ClickHouse failure: the table refuses every row until the constraint goes.
    clickhouse_command("ALTER TABLE event_log ADD CONSTRAINT refuse_all CHECK 0")
    try:
        failed = outbox_relay()
    finally:
        clickhouse_command("ALTER TABLE event_log DROP CONSTRAINT refuse_all")

    assert failed.failed and failed.messages == 0
    assert event_log.count() == 0
    [batch] = OutboxBatch.objects.all()
    assert batch.shipped_at is None and batch.attempts == 1
    assert "VIOLATED_CONSTRAINT" in batch.last_error
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}

    retried = outbox_relay()

    assert retried.messages == 6
    assert event_log.count() == 6


def test_an_unreachable_clickhouse_backs_off_and_never_dead_letters(publish, settings):
    settings.CLICKHOUSE_URL = "http://127.0.0.1:1"  # nothing listens on port 1
    settings.OUTBOX_MAX_ATTEMPTS = 1
    publish(3)

    for _ in range(3):
        assert outbox_relay().failed
        OutboxBatch.objects.update(next_attempt_at=timezone.now())  # the backoff has passed

    [batch] = OutboxBatch.objects.all()
    assert batch.attempts == 3 and batch.shipped_at is None
    assert OutboxMessage.objects.filter(dead_lettered_at__isnull=False).count() == 0
    assert batch_messages(batch).count() == 3


def test_failed_batches_wait_for_their_capped_exponential_backoff(publish, settings):
    settings.CLICKHOUSE_URL = "http://127.0.0.1:1"
    settings.OUTBOX_RETRY_BASE_SECONDS = 2
    settings.OUTBOX_RETRY_MAX_SECONDS = 5
    publish(1)
    delays = []
    for _ in range(3):
        before = timezone.now()
        outbox_relay()
        delays.append((OutboxBatch.objects.get().next_attempt_at - before).total_seconds())
        assert outbox_relay().messages == 0  # not due yet: nothing is attempted
        OutboxBatch.objects.update(next_attempt_at=timezone.now())

    assert [round(delay) for delay in delays] == [2, 4, 5]


def test_a_poison_message_is_dead_lettered_and_the_rest_of_its_batch_ships(
    event_log, publish, settings
):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_MAX_ATTEMPTS = 2
    publish(5)
    publish(1, user_id=2**70)  # no Int64 holds it: ClickHouse's driver refuses the row
    publish(4)

    for _ in range(50):
        if not outbox_relay().failed and outbox_backlog()[0].unshipped == 0:
            break

    [poison] = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    assert poison.payload["user_id"] == 2**70
    assert poison.attempts >= 2 and poison.last_error
    assert event_log.count() == 9
    assert event_log.keys_seen_more_than_once() == []
    assert outbox_backlog()[0].dead_lettered == 1


def test_a_message_whose_payload_cannot_become_a_row_is_dead_lettered(event_log, publish, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    settings.OUTBOX_MAX_ATTEMPTS = 1
    publish(2)
    OutboxMessage.objects.filter(pk=OutboxMessage.objects.order_by("id").first().pk).update(
        payload={"key": "broken"}
    )

    for _ in range(10):
        if not outbox_relay().failed:
            break

    [poison] = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    assert "PoisonMessage" in poison.last_error and "KeyError" in poison.last_error
    assert event_log.count() == 1


def test_a_batch_postgresql_would_not_render_ahead_is_not_rendered_again(
    event_log, publish, settings, monkeypatch
):
    settings.OUTBOX_BATCH_SIZE = 2  # the first claim comes back full: the second is claimed ahead
    settings.OUTBOX_MAX_ATTEMPTS = 10
    publish(3)
    OutboxMessage.objects.filter(pk=OutboxMessage.objects.order_by("-id").first().pk).update(
        payload={"key": "broken"}
    )
    renders = []
    render = relay.batch_render

    def counted(batch):
        renders.append(batch.pk)
        return render(batch)

    monkeypatch.setattr(relay, "batch_render", counted)

    report = outbox_relay()

    failed = OutboxBatch.objects.get(shipped_at__isnull=True)
    assert report.failed and report.messages == 2
    assert renders.count(failed.pk) == 1  # in the thread, ahead; its ship built it in Python
    assert "PoisonMessage" in failed.last_error


def test_a_run_claims_nothing_after_a_claim_ahead_found_the_end(
    event_log, publish, settings, monkeypatch
):
    """What commits after the claim that found nothing is the next run's, as after a claim that
    was not full. Before: a claim queued behind it in the thread, or one of the run's own, ran
    anyway, and the run waited for it at the end of every drain."""
    settings.OUTBOX_BATCH_SIZE = 2  # the first claim comes back full: the next are claimed ahead
    publish(4)
    claims = []

    def counted(claim):
        def run(consumer, **kwargs):
            claims.append(consumer)
            return claim(consumer, **kwargs)

        return run

    monkeypatch.setattr(relay, "batch_claim", counted(relay.batch_claim))  # the run's own
    monkeypatch.setattr(relay, "batch_take", counted(relay.batch_take))  # the thread's

    report = outbox_relay()

    assert (report.messages, report.failed) == (4, False)
    assert event_log.count() == 4
    # The first (full), then ahead the second (full) and the one that found nothing.
    assert claims.count(CONSUMER_ANALYTICS) == 3, claims


def test_a_backlog_is_rendered_once_a_batch_when_the_inserts_fall_behind(
    event_log, publish, settings, monkeypatch
):
    """Each insert here ends only once the thread has claimed and rendered all it was given.
    Before: a ship that found two renders done queued two more claims, so the thread ran ever
    further ahead of slow inserts; of its renders the relay kept the last two, dropped the next
    batch's, and the shipping thread rendered that batch again (most batches of a drain of
    200,000 events in the benchmark, docs/BENCHMARKS.md stop 30)."""
    settings.OUTBOX_BATCH_SIZE = 2  # the first claim comes back full: the next are claimed ahead
    publish(20)
    renders, runs = [], []
    render, ahead, insert = relay.batch_render, relay._Claims.ahead, relay.event_log_insert

    def counted(batch):
        renders.append(batch.pk)
        return render(batch)

    def recorded(claims):
        runs.append(claims)
        return ahead(claims)

    def behind_the_thread(block, **kwargs):
        wait(list(runs[-1].pending))
        return insert(block, **kwargs)

    monkeypatch.setattr(relay, "batch_render", counted)
    monkeypatch.setattr(relay._Claims, "ahead", recorded)
    monkeypatch.setattr(relay, "event_log_insert", behind_the_thread)

    report = outbox_relay()

    assert (report.messages, report.failed) == (20, False)
    assert event_log.count() == 20
    assert sorted(Counter(renders).values()) == [1] * 10, Counter(renders)


def test_two_relays_at_once_ship_50000_messages_without_loss_or_duplicates(
    event_log, publish, settings
):
    settings.OUTBOX_BATCH_SIZE = 2_000
    publish(50_000)
    reports, errors = [], []

    def relay() -> None:
        try:
            reports.append(outbox_relay())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert sum(report.messages for report in reports) == 50_000
    assert all(report.batches > 0 for report in reports), "both relays took part"
    assert event_log.count() == 50_000
    assert event_log.keys_seen_more_than_once() == []


def test_shipped_batches_are_purged_after_the_retention_period(publish, event_log, settings):
    from outbox.services import outbox_shipped_purge

    settings.OUTBOX_RETENTION_SECONDS = 3600
    settings.OUTBOX_BATCH_SIZE = 2
    publish(4)
    outbox_relay()
    publish(1)  # not shipped yet: never purged
    old = OutboxBatch.objects.filter(shipped_at__isnull=False).order_by("created_at").first()
    OutboxBatch.objects.filter(pk=old.pk).update(shipped_at=timezone.now() - timedelta(hours=2))

    deleted = outbox_shipped_purge()

    assert deleted == 2
    assert not OutboxBatch.objects.filter(pk=old.pk).exists()
    assert OutboxMessage.objects.count() == 3


def test_a_relay_run_stops_after_its_time_budget_between_batches(event_log, publish, settings):
    settings.OUTBOX_BATCH_SIZE = 1
    publish(3)

    report = outbox_relay(max_seconds=0.000001)

    assert report.batches <= 1
    assert outbox_relay().messages == 3 - report.messages
    assert event_log.count() == 3


@pytest.fixture
def open_transaction():
    """A second connection whose transaction publishes one message and stays open until told."""
    import psycopg

    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
    )
    message = record().as_message(topic="test")
    other.execute(
        "INSERT INTO outbox_outboxmessage (consumer, topic, payload, created_at, attempts,"
        " last_error) VALUES ('analytics', 'test', %s, now(), 0, '')",
        [psycopg.types.json.Jsonb(message.payload)],
    )
    yield other
    other.close()


def test_a_message_committed_after_later_ids_shipped_is_still_shipped_once(
    event_log, publish, open_transaction
):
    """Ids come before commits: the horizon keeps a range from skipping a late commit."""
    publish(2)  # later ids, committed first

    while_open = outbox_relay()
    open_transaction.commit()
    after = outbox_relay()

    assert while_open.messages == 0, "nothing ships past a transaction still open"
    assert after.messages == 3
    assert event_log.count() == 3
    assert event_log.keys_seen_more_than_once() == []


def test_a_claim_held_back_long_by_an_open_transaction_says_which(
    publish, open_transaction, monkeypatch
):
    monkeypatch.setattr("outbox.horizon.HELD_BACK_WARNING_SECONDS", 0.0)
    publish(1)

    with capture_logs() as logs:
        assert outbox_relay().messages == 0

    [held] = [entry for entry in logs if entry["event"] == "outbox.claim_held_back"]
    assert held["pid"] == open_transaction.info.backend_pid
    assert held["consumer"] == "analytics" and held["state"] == "idle in transaction"
