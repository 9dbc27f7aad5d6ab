"""The events' SQL row source gives the relay the records the events' loader gives."""

import json
from decimal import Decimal

import pytest
from django.db import connection, transaction

from events.analytics import EVENT_ROW_SOURCE, TOPIC_EVENT_STORED, event_records_load
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxMessage
from outbox.relay import outbox_relay
from outbox.services import outbox_publish_subjects


def _sourced(ids: list[int]) -> dict[int, dict]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM ({EVENT_ROW_SOURCE.sql}) s WHERE subject_id = ANY(%s)", [ids]
        )
        names = [column.name for column in cursor.description]
        return {row[0]: dict(zip(names, row)) for row in cursor.fetchall()}


@pytest.mark.django_db
def test_the_row_source_gives_every_event_the_record_of_the_loader(users, store_event):
    events = [
        store_event(
            event_id="txn:1:1",
            user=users[0],
            amount=Decimal("150.10"),
            properties={"b": [1, "ünï", None], "a": {"quote": 'say "hi"\n'}},
        ),
        store_event(tenant_id="tenant_2", event_id="signup:7", event_type="signup", source=""),
    ]
    ids = [event.pk for event in events]

    loaded, sourced = event_records_load(ids), _sourced(ids)

    for pk in ids:
        record, row = loaded[pk], sourced[pk]
        assert row["key"] == record.key
        assert (row["event_type"], row["tenant_id"], row["user_id"]) == (
            record.event_type,
            record.tenant_id,
            record.user_id,
        )
        assert row["occurred_at"] == record.occurred_at
        assert json.loads(row["context"]) == record.context


@pytest.mark.django_db(transaction=True)
def test_a_message_about_an_event_that_is_not_stored_is_dead_lettered(
    event_log, settings, store_event
):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    stored = store_event(event_id="txn:9:1", amount=Decimal("5.00"))
    missing = stored.pk + 1_000_000
    with transaction.atomic():
        outbox_publish_subjects(
            topic=TOPIC_EVENT_STORED,
            subject_ids=[stored.pk, missing],
            consumers=[CONSUMER_ANALYTICS],
        )

    for _ in range(10):
        if not outbox_relay().failed:
            break

    [dead] = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    assert dead.subject_id == missing
    assert "no row with its subject id" in dead.last_error
    # The stored event reaches ClickHouse through the event log too, under the same id.
    assert event_log.rows("SELECT uniqExact(event_id) FROM event_log") == [(1,)]
