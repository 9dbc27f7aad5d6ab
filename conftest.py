"""Test setup shared by every app: a private embedded ClickHouse store for this test run."""

import shutil
import tempfile

import pytest
from django.conf import settings


@pytest.fixture(scope="session", autouse=True)
def clickhouse_store():
    """Point CLICKHOUSE_URL at a fresh chDB directory, removed when the run ends.

    Tests that run the relay in a child process give it a store of its own: chDB allows one
    process per path.
    """
    path = tempfile.mkdtemp(prefix="midnite-clickhouse-")
    settings.CLICKHOUSE_URL = f"chdb://{path}"
    yield path
    from outbox.clickhouse.client import clickhouse_close

    clickhouse_close()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def event_log():
    """The session's embedded event_log, migrated and emptied for this test."""
    from outbox.clickhouse.client import clickhouse_command
    from outbox.clickhouse.migrate import clickhouse_migrate

    clickhouse_migrate()
    clickhouse_command("TRUNCATE TABLE event_log")
    return EventLog()


class EventLog:
    """Read what reached ClickHouse, counting rows with count(), never FINAL."""

    def count(self, where: str = "1") -> int:
        return self.rows(f"SELECT count() FROM event_log WHERE {where}")[0][0]

    def rows(self, query: str) -> list[tuple]:
        from outbox.clickhouse.client import clickhouse_rows

        return clickhouse_rows(query)[1]

    def keys_seen_more_than_once(self) -> list:
        return self.rows("SELECT event_id FROM event_log GROUP BY event_id HAVING count() > 1")
