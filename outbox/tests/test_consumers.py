"""Consumers that react inside the database (outbox.consumers)."""

import pytest
from django.db import transaction
from structlog.testing import capture_logs

from outbox.contracts import Message
from outbox.models import OutboxBatch, OutboxMessage
from outbox.consumers import FIRST_BATCH_SIZE, HANDLERS, _batch_size, _rates
from outbox.services import outbox_consumer_register, outbox_process, outbox_publish
from outbox.tasks import outbox_process_many_task, outbox_wakeup_task


@pytest.mark.django_db
def test_a_consumer_without_a_handler_leaves_its_messages_queued():
    """Messages may be published to a consumer before its app registers a handler."""
    outbox_publish(messages=[Message(topic="event_stored", subject_id=1)], consumers=["later"])

    with capture_logs() as logs:
        report = outbox_process(consumer="later")

    assert (report.batches, report.messages) == (0, 0)
    assert OutboxMessage.objects.filter(consumer="later").count() == 1
    assert not OutboxBatch.objects.filter(consumer="later").exists()  # nothing claimed
    assert [entry["event"] for entry in logs] == ["outbox.consumer_without_handler"]


@pytest.mark.django_db
def test_one_wake_up_message_becomes_one_task_per_consumer(monkeypatch):
    """The worker fans the web process's one message out, so consumers run side by side."""
    queued = []
    monkeypatch.setattr(
        outbox_wakeup_task, "apply_async", lambda args, **options: queued.append(args)
    )

    outbox_process_many_task(["analytics", "notifications"])

    assert queued == [("analytics",), ("notifications",)]


@pytest.fixture
def picky_consumer(settings):
    """A consumer whose handler refuses any batch holding a `poison` payload."""
    settings.OUTBOX_MAX_ATTEMPTS = 1
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    handled: list[int] = []

    def handler(messages) -> None:
        if any(payload == {"poison": True} for _, _, _, payload in messages):
            raise ValueError("cannot handle this")
        handled.extend(message_id for message_id, _, _, _ in messages)

    outbox_consumer_register(consumer="picky", handler=handler)
    yield handled
    HANDLERS.pop("picky")


@pytest.mark.django_db(transaction=True)
def test_a_handler_that_raises_retries_until_its_poison_message_is_dead_lettered(picky_consumer):
    payloads = [{"n": 1}, {"n": 2}, {"n": 3}, {"poison": True}]
    with transaction.atomic():
        outbox_publish(
            messages=[Message(topic="test", payload=payload) for payload in payloads],
            consumers=["picky"],
        )
    good, poison = OutboxMessage.objects.order_by("id")[:3], OutboxMessage.objects.last()

    reports = [outbox_process(consumer="picky") for _ in range(5)]

    assert [report.failed for report in reports[:3]] == [True, True, True]
    assert sorted(picky_consumer) == [message.pk for message in good]
    poison.refresh_from_db()
    assert poison.dead_lettered_at is not None
    assert poison.last_error == "ValueError: cannot handle this"
    assert reports[-1].messages == 0 and not reports[-1].failed


class _HandlerClock:
    """Stands in for the consumers' clock: time passes only as the handler says it works."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


@pytest.mark.django_db(transaction=True)
def test_batches_are_sized_to_take_the_configured_time_at_the_handler_s_rate(settings, monkeypatch):
    """A batch's transaction holds every claim back, so its duration is what is bounded."""
    settings.OUTBOX_HANDLER_BATCH_SECONDS = 0.2
    clock = _HandlerClock()
    monkeypatch.setattr("outbox.consumers.time", clock)
    sizes: list[int] = []

    def handler(messages) -> None:
        sizes.append(len(messages))
        clock.now += len(messages) / 2_000  # 2,000 messages a second

    outbox_consumer_register(consumer="timed", handler=handler)
    try:
        with transaction.atomic():
            outbox_publish(
                messages=[Message(topic="test", payload={"n": n}) for n in range(1_900)],
                consumers=["timed"],
            )
        outbox_process(consumer="timed")
    finally:
        HANDLERS.pop("timed")
        _rates.pop("timed", None)

    # The first batch, then 0.2 s at 2,000 a second, then what is left.
    assert sizes == [FIRST_BATCH_SIZE, 400, 400, 100]


@pytest.mark.parametrize("rate, expected", [(1.0, 100), (1e9, 10_000)])
def test_a_batch_size_stays_between_the_smallest_and_the_relay_s_batch_size(
    settings, monkeypatch, rate, expected
):
    settings.OUTBOX_HANDLER_BATCH_SECONDS = 1.0
    settings.OUTBOX_BATCH_SIZE = 10_000
    monkeypatch.setitem(_rates, "bounded", rate)

    assert _batch_size("bounded") == expected
