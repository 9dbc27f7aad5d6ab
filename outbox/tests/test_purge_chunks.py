"""The purge deletes in short transactions, bounded by messages, not by the backlog."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from outbox.models import OutboxBatch, OutboxMessage
from outbox.relay import outbox_relay
from outbox.services import outbox_shipped_purge

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def deletions():
    """The transaction id of every message the test deletes, read from a trigger."""
    statements = [
        "CREATE TABLE purge_log (xid bigint, id bigint)",
        "CREATE FUNCTION purge_log_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO purge_log VALUES (pg_current_xact_id()::text::bigint, OLD.id);"
        " RETURN OLD; END $$",
        "CREATE TRIGGER purge_log AFTER DELETE ON outbox_outboxmessage"
        " FOR EACH ROW EXECUTE FUNCTION purge_log_row()",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)

    def per_transaction() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM purge_log GROUP BY xid ORDER BY xid")
            return [count for (count,) in cursor.fetchall()]

    yield per_transaction
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER purge_log ON outbox_outboxmessage")
        cursor.execute("DROP FUNCTION purge_log_row()")
        cursor.execute("DROP TABLE purge_log")


def test_each_purge_transaction_deletes_a_bounded_number_of_messages(
    event_log, publish, settings, monkeypatch, deletions
):
    """Before: up to 50 batches a transaction, whatever their size."""
    monkeypatch.setattr("outbox.services.PURGE_MESSAGES", 5, raising=False)
    settings.OUTBOX_RETENTION_SECONDS = 3600
    settings.OUTBOX_BATCH_SIZE = 3
    publish(9)
    outbox_relay()
    OutboxBatch.objects.update(shipped_at=timezone.now() - timedelta(hours=2))

    assert outbox_shipped_purge() == 9

    assert deletions() == [3, 3, 3]
    assert OutboxMessage.objects.count() == 0
