"""The relay's insert names the columns and types the ClickHouse migrations create."""

from outbox.clickhouse.client import clickhouse_rows
from outbox.clickhouse.sql import EVENT_LOG, EVENT_LOG_COLUMN_TYPES, EVENT_LOG_COLUMNS


def test_the_insert_types_are_those_of_the_migrated_event_log(event_log):
    _, rows = clickhouse_rows(
        "SELECT name, type FROM system.columns"
        " WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
        parameters={"table": EVENT_LOG},
    )

    assert tuple(name for name, _ in rows) == EVENT_LOG_COLUMNS
    assert tuple(type_ for _, type_ in rows) == EVENT_LOG_COLUMN_TYPES
