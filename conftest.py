"""Session-wide test setup: a private embedded ClickHouse store for this test run."""

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
