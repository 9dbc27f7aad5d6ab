"""The relay's insert names the columns and types the ClickHouse migrations create."""

from uuid import uuid5

import pytest

from outbox.clickhouse.client import clickhouse_insert, clickhouse_rows
from outbox.clickhouse.sql import (
    EVENT_LOG,
    EVENT_LOG_COLUMNS,
    EVENT_LOG_INSERT_COLUMNS,
    EVENT_LOG_INSERT_TYPES,
)
from outbox.contracts import EVENT_LOG_NAMESPACE


def _columns() -> dict[str, tuple[str, str]]:
    _, rows = clickhouse_rows(
        "SELECT name, type, default_kind FROM system.columns"
        " WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
        parameters={"table": EVENT_LOG},
    )
    return {name: (type_, kind) for name, type_, kind in rows}


def test_the_stored_columns_are_event_log_columns_in_order(event_log):
    stored = [name for name, (_, kind) in _columns().items() if kind != "EPHEMERAL"]

    assert tuple(stored) == EVENT_LOG_COLUMNS


def test_the_insert_types_are_those_of_the_migrated_event_log(event_log):
    columns = _columns()

    assert tuple(columns[name][0] for name in EVENT_LOG_INSERT_COLUMNS) == EVENT_LOG_INSERT_TYPES
    assert columns["event_key"][1] == "EPHEMERAL"


@pytest.mark.parametrize(
    "key",
    ["event:default:txn:1:20", "user:7", "alert:tenant_2:txn:1:20:1100", "event:t:ünï 💸", ""],
)
def test_clickhouse_derives_the_uuid5_of_the_key_as_event_id(event_log, key):
    row = [key, "test_happened", 0, "test", "{}", 1, "tenant_1", None]

    clickhouse_insert(
        EVENT_LOG,
        [row],
        column_names=EVENT_LOG_INSERT_COLUMNS,
        column_types=EVENT_LOG_INSERT_TYPES,
        token=f"derive:{key}",
    )

    assert event_log.rows("SELECT event_id FROM event_log") == [(uuid5(EVENT_LOG_NAMESPACE, key),)]
