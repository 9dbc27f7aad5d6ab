"""Test setup shared by every app: a private embedded ClickHouse store for this test run, and
the API client, demo users and stored events the apps' tests share."""

import shutil
import tempfile
from datetime import UTC, datetime

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


@pytest.fixture
def api_key(db) -> str:
    """A new API key that acts on every tenant and may change the rules, in clear."""
    from api_keys.services import api_key_create

    return api_key_create(name="events tests", scopes=["rules"]).plaintext


@pytest.fixture
def api_client(api_key):
    """A client sending `api_key` with every request."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def users(db):
    """The demo users 1 to 4."""
    from users.services import demo_users_ensure

    return demo_users_ensure()


@pytest.fixture
def post_event(api_client, users):
    """Post one transaction to /event and return the response."""

    def post(type: str, amount, t: int, user_id: int = 1):
        body = {"type": type, "amount": amount, "user_id": user_id, "t": t}
        return api_client.post("/event", body, format="json")

    return post


@pytest.fixture
def codes_for(post_event):
    """Post transactions in order and return the alert codes of each."""

    def run(transactions, user_id: int = 1) -> list[list[int]]:
        codes = []
        for type_, amount, t in transactions:
            response = post_event(type_, amount, t, user_id=user_id)
            assert response.status_code == 200, response.json()
            codes.append(response.json()["alert_codes"])
        return codes

    return run


@pytest.fixture
def store_event():
    """Store an event straight through the ORM: a deposit at a fixed time, unless told otherwise."""
    from events.models import Event

    def store(**fields):
        defaults = {
            "event_type": "deposit",
            "source": "transactions",
            "occurred_at": datetime(2025, 10, 31, 19, 30, 0, 123456, tzinfo=UTC),
        }
        return Event.objects.create(**{**defaults, **fields})

    return store


@pytest.fixture
def sentry_ingest():
    """Sentry started as settings start it, sending to a loopback ingest that keeps it all."""
    from midnite_test.tests.sentry_ingest import sentry_ingest_running

    yield from sentry_ingest_running()


@pytest.fixture
def active_rules(db):
    """Store YAML text as the next version of a kind's rules and activate it; return its number.

    The database is where the rules in force live once version 1 is imported, so a test
    installs its rules as an active version (the settings' files are only the defaults).
    """
    from rule_sets.services import rule_set_version_get_or_create, rule_set_version_activate

    def activate(kind: str, source: str) -> int:
        stored, _ = rule_set_version_get_or_create(kind=kind, source=source, created_by="tests")
        rule_set_version_activate(kind=kind, version=stored.version, activated_by="tests")
        return stored.version

    return activate


@pytest.fixture
def live_database_url(transactional_db) -> str:
    """The test database's URL, for a child process: what the test commits, the child sees."""
    from django.db import connection

    database = connection.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
