"""Health probes and the OpenAPI schema."""

from pathlib import Path

from django.core.management import call_command

OPENAPI_FILE = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


def test_live_probe_answers_ok(api_client):
    for url in ("/healthz/live", "/health"):
        response = api_client.get(url)

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_ready_probe_checks_the_database(api_client, db):
    for url in ("/healthz/ready", "/ready"):
        response = api_client.get(url)

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_interactive_docs_are_served(api_client):
    response = api_client.get("/docs")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_committed_openapi_schema_matches_the_code(tmp_path):
    generated = tmp_path / "openapi.yaml"

    call_command("spectacular", "--file", str(generated), "--validate", "--fail-on-warn")

    assert generated.read_text() == OPENAPI_FILE.read_text(), "run `make openapi` and commit"
