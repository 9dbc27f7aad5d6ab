"""`/healthz/status` names the worker when its heartbeat is stale, apart from ClickHouse.

Before, a dead worker showed only as a stale `worker_heartbeat` and, with the embedded store,
as `clickhouse` failed; with a ClickHouse server nothing failed at all. Now `worker` fails once
the heartbeat is older than CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS (or there is none). A server
is pinged, so it stays `ok` whatever the worker; an embedded store is judged by the
heartbeat, the only evidence of both.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import WorkerHeartbeat
from outbox.services import clickhouse_heartbeat_record
from outbox.tests.http_clickhouse import fake_clickhouse

pytestmark = pytest.mark.django_db


@pytest.fixture
def stale_heartbeat(settings):
    settings.CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS = 30
    clickhouse_heartbeat_record()
    WorkerHeartbeat.objects.update(checked_at=timezone.now() - timedelta(seconds=40))


@pytest.fixture
def clickhouse_server(settings):
    """A ClickHouse server that answers its ping, for the status of this test."""
    with fake_clickhouse() as clickhouse:
        embedded = settings.CLICKHOUSE_URL
        settings.CLICKHOUSE_URL = clickhouse.url
        yield clickhouse
        settings.CLICKHOUSE_URL = embedded


def _checks(api_client) -> tuple[list[str], dict[str, str]]:
    body = api_client.get("/healthz/status").json()
    return body["failed"], body["checks"]


def test_a_stale_heartbeat_with_the_embedded_store_fails_the_worker_and_clickhouse(
    api_client, stale_heartbeat
):
    failed, checks = _checks(api_client)

    assert failed == ["clickhouse", "worker"]
    assert checks["worker"] == "failed: the worker last reported 40 s ago"
    assert checks["clickhouse"] == "failed: the worker last reported 40 s ago"


def test_a_stale_heartbeat_with_a_clickhouse_server_fails_the_worker_alone(
    api_client, stale_heartbeat, clickhouse_server
):
    failed, checks = _checks(api_client)

    assert failed == ["worker"]
    assert (checks["clickhouse"], checks["worker"]) == (
        "ok",
        "failed: the worker last reported 40 s ago",
    )


def test_no_heartbeat_at_all_fails_the_worker_saying_none_reported(api_client, clickhouse_server):
    failed, checks = _checks(api_client)

    assert failed == ["worker"]
    assert checks["worker"] == "failed: no worker has reported yet"


def test_a_recent_heartbeat_with_a_clickhouse_server_fails_nothing(api_client, clickhouse_server):
    clickhouse_heartbeat_record()

    failed, checks = _checks(api_client)

    assert failed == []
    assert checks["worker"] == checks["clickhouse"] == "ok"
