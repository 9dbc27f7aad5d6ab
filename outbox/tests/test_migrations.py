"""Migration 0003 turns message batch ids into batch ranges, and back, keeping every state."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from outbox.batches import batch_messages

BEFORE = [("outbox", "0002_drop_duplicate_batch_index")]
AFTER = [("outbox", "0003_claim_ranges")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_ranges():
    """The outbox schema of 0002, and the latest schema again afterwards."""
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_0003_keeps_shipped_messages_shipped_and_queues_the_others(before_ranges):
    Batch = before_ranges.get_model("outbox", "OutboxBatch")
    Message = before_ranges.get_model("outbox", "OutboxMessage")
    shipped = Batch.objects.create(consumer="analytics", shipped_at=timezone.now())
    failing = Batch.objects.create(consumer="analytics", attempts=2)
    states = ["shipped", "failing", "shipped", "dead", "unclaimed", "unclaimed"]
    batch_of = {"shipped": shipped, "failing": failing, "dead": None, "unclaimed": None}
    ids = {}
    for n, state in enumerate(states):
        message = Message.objects.create(
            consumer="analytics",
            topic="test",
            payload={"n": n},
            batch=batch_of[state],
            dead_lettered_at=timezone.now() if state == "dead" else None,
        )
        ids.setdefault(state, []).append(message.pk)

    after = _migrate(AFTER)

    Batch = after.get_model("outbox", "OutboxBatch")
    shipped_ids, queued_ids = set(), set()
    for batch in Batch.objects.all():
        found = set(batch_messages(batch).values_list("id", flat=True))
        (shipped_ids if batch.shipped_at else queued_ids).update(found)
    assert shipped_ids == set(ids["shipped"])
    assert queued_ids == set(ids["failing"] + ids["unclaimed"])
    cursor = after.get_model("outbox", "OutboxCursor").objects.get(consumer="analytics")
    assert (cursor.xid, cursor.id) == (0, max(ids["unclaimed"]))

    back = _migrate(BEFORE)

    Message = back.get_model("outbox", "OutboxMessage")
    shipped_again = Message.objects.filter(batch__shipped_at__isnull=False)
    assert set(shipped_again.values_list("id", flat=True)) == set(ids["shipped"])
    assert Message.objects.filter(batch__isnull=True).count() == 1  # the dead letter
