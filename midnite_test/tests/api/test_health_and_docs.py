"""Health probes and the OpenAPI schema."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from outbox.models import WorkerHeartbeat
from outbox.services import clickhouse_heartbeat_record
from outbox.tests.conftest import broker_unreachable

OPENAPI_FILE = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


@contextmanager
def database_unreachable() -> Iterator[None]:
    """Point the default connection at a database that cannot be opened, then back."""
    connection.close()
    saved = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent/folder/db.sqlite3"
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens on port 1
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def test_live_probe_answers_ok(api_client):
    for url in ("/healthz/live", "/health"):
        response = api_client.get(url)

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_ready_probe_answers_200_with_only_the_database(api_client, db):
    """No worker has reported on ClickHouse and the broker is down: the process still serves."""
    with broker_unreachable():
        answers = [api_client.get(url) for url in ("/healthz/ready", "/ready")]

    for response in answers:
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok"}, "failed": []}


@pytest.mark.django_db(transaction=True)
def test_ready_probe_answers_503_without_error_text_or_host_when_the_database_is_down():
    with database_unreachable():
        response = APIClient().get("/healthz/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "failed"},
        "failed": ["database"],
    }


def test_status_names_each_dependency_the_backlog_and_the_worker_heartbeat(api_client, db):
    clickhouse_heartbeat_record()

    response = api_client.get("/healthz/status")

    assert response.status_code == 200
    body = response.json()
    heartbeat = body.pop("worker_heartbeat")
    assert body == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "broker": "ok",
            "clickhouse": "ok",
            "worker": "ok",
            "outbox": "ok",
        },
        "failed": [],
        "outbox": [
            {
                "consumer": consumer,
                "unshipped": 0,
                "unshipped_at_least": False,
                "oldest_age_seconds": None,
                "dead_lettered": 0,
            }
            for consumer in ("analytics", "metrics", "notifications")
        ],
        "outbox_horizon_holder": None,
        "outbox_cursors_ahead": [],
    }
    assert heartbeat["clickhouse_ok"] is True and 0 <= heartbeat["age_seconds"] < 60


def test_status_without_a_worker_heartbeat_is_200_and_names_clickhouse_and_the_worker(
    api_client, db
):
    response = api_client.get("/healthz/status")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["failed"] == ["clickhouse", "worker"]
    assert response.json()["checks"]["clickhouse"] == (
        "failed: no worker has reported on the embedded store yet"
    )
    assert response.json()["worker_heartbeat"] is None


def test_status_shows_how_old_the_worker_heartbeat_is(api_client, db):
    clickhouse_heartbeat_record()
    WorkerHeartbeat.objects.update(checked_at=timezone.now() - timedelta(seconds=40))

    body = api_client.get("/healthz/status").json()

    assert body["worker_heartbeat"]["age_seconds"] >= 40
    assert body["checks"]["clickhouse"] == "failed: the worker last reported 40 s ago"


def test_status_names_a_broker_that_does_not_answer(api_client, db):
    clickhouse_heartbeat_record()
    with broker_unreachable():
        response = api_client.get("/healthz/status")

    assert response.status_code == 200
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("failed: ")


def test_status_reports_the_outbox_backlog(api_client, users):
    backlog = api_client.get("/healthz/status").json()["outbox"]

    assert backlog[0]["unshipped"] == 4  # the demo users' user_created messages
    assert backlog[0]["oldest_age_seconds"] >= 0


def test_status_needs_a_key_for_every_tenant_or_a_staff_session(db, settings):
    limited = APIClient()
    limited.credentials(
        HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='acme', tenants=['acme']).plaintext}"
    )
    staff = APIClient()
    staff.force_login(get_user_model().objects.create_user("oncall", is_staff=True))
    customer = APIClient()
    customer.force_login(get_user_model().objects.create_user("customer"))

    assert APIClient().get("/healthz/status").status_code == 401
    assert customer.get("/healthz/status").status_code == 401
    assert limited.get("/healthz/status").json()["error"] == "tenant_forbidden"
    assert staff.get("/healthz/status").status_code == 200
    settings.ALLOW_ANONYMOUS = True  # `make run`
    assert APIClient().get("/healthz/status").status_code == 200


def test_every_response_carries_a_request_id(api_client):
    made = api_client.get("/healthz/live")["X-Request-ID"]
    kept = api_client.get("/healthz/live", HTTP_X_REQUEST_ID="trace-42")["X-Request-ID"]
    replaced = api_client.get("/healthz/live", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"]

    assert len(made) == 32 and kept == "trace-42"
    assert replaced not in ("bad id\n", made) and len(replaced) == 32


def test_interactive_docs_are_served(api_client):
    response = api_client.get("/docs")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_committed_openapi_schema_matches_the_code(tmp_path):
    generated = tmp_path / "openapi.yaml"

    call_command("spectacular", "--file", str(generated), "--validate", "--fail-on-warn")

    assert generated.read_text() == OPENAPI_FILE.read_text(), "run `make openapi` and commit"


def test_the_schema_lists_the_refusals_of_a_body_on_every_operation_that_takes_one():
    """411 (a chunked body), 413 (too large) and 415 (not JSON) answer before any view runs."""
    schema = yaml.safe_load(OPENAPI_FILE.read_text())
    taking_a_body = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]

    assert len(taking_a_body) >= 7
    for path, method, operation in taking_a_body:
        assert {"411", "413", "415"} <= operation["responses"].keys(), (method, path)
