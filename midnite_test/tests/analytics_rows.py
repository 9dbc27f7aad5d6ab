"""The rows a batch puts in ClickHouse's event_log two ways, for tests that compare them:
rendered by PostgreSQL (outbox.analytics_copy) and built in Python (outbox.analytics)."""

import json

from django.db import transaction

from midnite_test.tests.waiting import wait_until
from outbox.analytics import batch_columns_build
from outbox.analytics_copy import batch_render
from outbox.batches import batch_take
from outbox.clickhouse.client import clickhouse_command, clickhouse_insert, clickhouse_rows
from outbox.clickhouse.sql import (
    EVENT_LOG,
    EVENT_LOG_COLUMNS,
    EVENT_LOG_INSERT_COLUMNS,
    EVENT_LOG_INSERT_TYPES,
)
from outbox.models import OutboxBatch
from outbox.relay import event_log_insert

# How long a claim may wait for the commit horizon.
CLAIM_SECONDS = 10
# Text every escaping layer between PostgreSQL and ClickHouse must carry unchanged.
AWKWARD = 'tab\there, newline\nthere, back\\slash, a literal \\N, "quotes", ünï 💸'


def batch_claimed(stream: str) -> OutboxBatch | None:
    """Claim `stream`'s next batch as soon as the commit horizon lets it (None after
    CLAIM_SECONDS).

    The claim runs in the test's own transaction: another session's transaction, older than
    this one (a previous test's, ending), holds the horizon back until it ends.
    """
    claimed = []

    def claim() -> bool:
        with transaction.atomic():
            claimed[:] = [batch_take(stream, size=1_000)]
        return claimed[0] is not None

    wait_until(claim, seconds=CLAIM_SECONDS)
    return claimed[0]


def rendered_and_built(batch: OutboxBatch, *, built_table: str) -> tuple[list, list]:
    """Insert `batch` rendered into event_log and built into `built_table` (a copy of it,
    emptied first); return the rows of each, in event id order."""
    rendered, built = batch_render(batch), batch_columns_build(batch)
    assert rendered is not None and rendered.tsv is not None, "PostgreSQL rendered nothing"
    event_log_insert(rendered, token="rendered")
    clickhouse_command(f"CREATE TABLE IF NOT EXISTS {built_table} AS {EVENT_LOG}")
    clickhouse_command(f"TRUNCATE TABLE {built_table}")
    clickhouse_insert(
        built_table,
        built.columns,
        column_names=EVENT_LOG_INSERT_COLUMNS,
        column_types=EVENT_LOG_INSERT_TYPES,
        column_oriented=True,
        token="built",
    )
    return _stored(EVENT_LOG), _stored(built_table)


def _stored(table: str) -> list[tuple]:
    columns = ", ".join(EVENT_LOG_COLUMNS)
    _, stored = clickhouse_rows(f"SELECT {columns} FROM {table} ORDER BY event_id")
    # The context is JSON: the same value, whatever the spacing and the order of keys.
    return [(*row[:4], json.loads(row[4]), *row[5:]) for row in stored]
