"""Consumers that react inside the database (outbox.consumers)."""

import pytest
from structlog.testing import capture_logs

from outbox.contracts import Message
from outbox.models import OutboxBatch, OutboxMessage
from outbox.services import outbox_process, outbox_publish
from outbox.tasks import outbox_process_many_task, outbox_relay_task


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
        outbox_relay_task, "apply_async", lambda args, **options: queued.append(args)
    )

    outbox_process_many_task(["analytics", "notifications"])

    assert queued == [("analytics",), ("notifications",)]
