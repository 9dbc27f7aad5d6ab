"""Alerts reach analytics with their event: rows of the event log, rendered or built alike.

PostgreSQL only (not in the SQLite API pass): SQLite renders nothing.
"""

import json
from decimal import Decimal

import pytest
from django.db import transaction

from alerts.models import Alert
from events.log import EVENT_LOG
from midnite_test.tests.waiting import wait_until
from outbox.analytics import batch_columns_build
from outbox.analytics_copy import batch_render
from outbox.batches import batch_take
from outbox.clickhouse.client import clickhouse_command, clickhouse_insert, clickhouse_rows
from outbox.clickhouse.sql import EVENT_LOG as EVENT_LOG_TABLE
from outbox.clickhouse.sql import (
    EVENT_LOG_COLUMNS,
    EVENT_LOG_INSERT_COLUMNS,
    EVENT_LOG_INSERT_TYPES,
)
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxBatch
from outbox.relay import event_log_insert


def _claim_within(*, seconds: float) -> OutboxBatch | None:
    """Claim analytics' batch of the event log, as soon as the commit horizon lets it.

    The claim runs in the test's own transaction: another session's transaction in the test
    database, older than this one (a previous test's, ending), holds it back until it ends.
    """
    claimed = []

    def claim() -> bool:
        with transaction.atomic():
            claimed[:] = [batch_take(EVENT_LOG.stream(CONSUMER_ANALYTICS), size=1_000)]
        return claimed[0] is not None

    wait_until(claim, seconds=seconds)
    return claimed[0]


BUILT = "event_log_built_from_the_log"
AWKWARD = 'tab\there, newline\nthere, back\\slash, a literal \\N, "quotes", ünï 💸'


def _stored(table: str) -> list[tuple]:
    columns = ", ".join(EVENT_LOG_COLUMNS)
    _, stored = clickhouse_rows(f"SELECT {columns} FROM {table} ORDER BY event_id")
    return [(*row[:4], json.loads(row[4]), *row[5:]) for row in stored]


@pytest.mark.django_db
def test_the_rendered_rows_of_events_and_their_alerts_are_the_rows_built_in_python(
    event_log, users, store_event
):
    alerted = store_event(
        event_id="txn:1:1",
        user=users[0],
        amount=Decimal("150.10"),
        properties={"note": AWKWARD, "nested": {"list": [1, None, 2.5, True]}},
    )
    Alert.objects.bulk_create(
        [Alert(event=alerted, code=code, rules_version=1) for code in (1100, 300, 30)]
    )
    store_event(tenant_id="tenant_2", event_id=f"odd:{AWKWARD}", event_type="signup", source="")
    batch = _claim_within(seconds=10)

    rendered, built = batch_render(batch), batch_columns_build(batch)

    assert batch.size == 2 and rendered is not None and rendered.tsv is not None
    event_log_insert(rendered, token="rendered")
    clickhouse_command(f"CREATE TABLE IF NOT EXISTS {BUILT} AS {EVENT_LOG_TABLE}")
    clickhouse_command(f"TRUNCATE TABLE {BUILT}")
    clickhouse_insert(
        BUILT,
        built.columns,
        column_names=EVENT_LOG_INSERT_COLUMNS,
        column_types=EVENT_LOG_INSERT_TYPES,
        column_oriented=True,
        token="built",
    )
    stored = _stored(EVENT_LOG_TABLE)
    assert [row[1] for row in stored].count("alert_raised") == 3
    assert len(stored) == 5 and stored == _stored(BUILT)
