"""Health probes and the OpenAPI schema."""

from pathlib import Path

from django.core.management import call_command

from midnite_test.celery import app as celery_app
from outbox.services import clickhouse_heartbeat_record

OPENAPI_FILE = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


def test_live_probe_answers_ok(api_client):
    for url in ("/healthz/live", "/health"):
        response = api_client.get(url)

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_ready_probe_names_each_dependency_and_the_backlog(api_client, db):
    clickhouse_heartbeat_record()

    for url in ("/healthz/ready", "/ready"):
        response = api_client.get(url)

        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "broker": "ok", "clickhouse": "ok"},
            "failed": [],
            "outbox": [
                {
                    "consumer": consumer,
                    "unshipped": 0,
                    "oldest_age_seconds": None,
                    "dead_lettered": 0,
                }
                for consumer in ("analytics", "metrics")
            ],
            "outbox_horizon_holder": None,
        }


def test_ready_probe_answers_503_naming_clickhouse_without_a_worker_heartbeat(api_client, db):
    response = api_client.get("/healthz/ready")

    assert response.status_code == 503
    assert response.json()["failed"] == ["clickhouse"]
    assert response.json()["checks"]["clickhouse"] == (
        "failed: no worker has reported on the embedded store yet"
    )


def test_ready_probe_answers_503_naming_a_broker_that_does_not_answer(api_client, db):
    clickhouse_heartbeat_record()
    celery_app.conf.broker_write_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = api_client.get("/healthz/ready")
    finally:
        celery_app.conf.broker_write_url = None

    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("failed: ")


def test_ready_probe_reports_the_outbox_backlog(api_client, users):
    clickhouse_heartbeat_record()

    backlog = api_client.get("/healthz/ready").json()["outbox"]

    assert backlog[0]["unshipped"] == 4  # the demo users' user_created messages
    assert backlog[0]["oldest_age_seconds"] >= 0


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
