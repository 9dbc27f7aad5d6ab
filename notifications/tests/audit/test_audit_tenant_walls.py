"""What a key limited to one tenant reads in the audit trail: what its own tenant sent.

The events go in through the real API (`POST /api/v1/events`, one key per tenant), the
evaluation the notifications consumer runs and the sender, so the rows are those a deployment
has; each leak is checked in the JSON and in the page a browser gets.
"""

import json
import re

import pytest
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from events.models import Event
from notifications.evaluation import notification_events_evaluate
from notifications.sending import notifications_send_due

OPERATIONS = "risk-ops@fintech.example"
AUDIT_DATA = re.compile(r'<script id="audit-data" type="application/json">(.*?)</script>', re.S)


def _client_for(tenant: str) -> APIClient:
    client = APIClient()
    key = api_key_create(name=f"{tenant} key", tenants=[tenant]).plaintext
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _payment_failed(event_id: str, *, at: str, attempt: int, traits: dict) -> dict:
    return {
        "event_id": event_id,
        "user_id": "u_ada",
        "event_type": "payment_failed",
        "event_timestamp": at,
        "properties": {"failure_reason": "CARD_DECLINED", "attempt_number": attempt},
        "user_traits": traits,
    }


def _send(client: APIClient, *events: dict) -> None:
    response = client.post("/api/v1/events", list(events), format="json")
    assert response.status_code == 202, response.content
    stored = Event.objects.filter(event_id__in=[event["event_id"] for event in events])
    notification_events_evaluate(event_ids=list(stored.values_list("pk", flat=True)))
    notifications_send_due()


def _audits(client: APIClient) -> list[dict]:
    """The audit of u_ada as JSON and as the data of the HTML page."""
    as_json = client.get("/audit/u_ada").json()
    page = client.get("/audit/u_ada", {"format": "html"}).content.decode()
    return [as_json, json.loads(AUDIT_DATA.search(page).group(1))]


@pytest.fixture
def acme(db) -> APIClient:
    return _client_for("acme")


@pytest.fixture
def globex(db) -> APIClient:
    return _client_for("globex")


@pytest.fixture
def both_tenants(settings, acme, globex) -> None:
    """Ada paid and failed in acme, then three times in globex (an internal alert)."""
    settings.INTERNAL_ALERT_EMAIL = [OPERATIONS]
    settings.INTERNAL_WEBHOOK_URL = ""
    _send(
        acme,
        _payment_failed(
            "acme_1", at="2025-10-31T19:00:00Z", attempt=1, traits={"plan": "acme_gold"}
        ),
    )
    _send(
        globex,
        *[
            _payment_failed(
                f"globex_{n}",
                at=f"2025-10-31T19:3{n}:00Z",
                attempt=n,
                traits={"phone": "+447700900123", "risk_segment": "high"},
            )
            for n in (1, 2, 3)
        ],
    )


def test_a_tenant_key_reads_only_its_tenants_events_and_what_they_triggered(both_tenants, acme):
    for audit in _audits(acme):
        assert [e["event_id"] for e in audit["recent_events"]] == ["acme_1"]
        assert {n["trigger_event"] for n in audit["notification_history"]} <= {"acme_1"}
        assert {d["trigger_event"] for d in audit["decisions"]} == {"acme_1"}


def test_a_tenant_key_reads_the_traits_its_own_newest_event_carried(both_tenants, acme):
    for audit in _audits(acme):
        assert audit["traits"] == {"plan": "acme_gold"}


def test_internal_alert_recipients_are_not_shown_to_a_tenant_key(both_tenants, globex):
    for audit in _audits(globex):
        alerts = [d for d in audit["decisions"] if d["notification_type"] == "HIGH_RISK_ALERT"]
        assert ("sent", "sent to the internal recipients") in {
            (d["status"], d["reason"]) for d in alerts
        }
        assert OPERATIONS not in json.dumps(audit)


def test_an_internal_alerts_failure_is_not_detailed_to_a_tenant_key(settings, globex):
    settings.INTERNAL_ALERT_EMAIL = [OPERATIONS]
    # A provider that refuses the message names the address in its error.
    settings.EMAIL_BACKEND = "notifications.tests.audit.refusing_email.RefusingBackend"
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    _send(globex, _payment_failed("g3", at="2025-10-31T19:30:00Z", attempt=3, traits={}))

    for audit in _audits(globex):
        [alert] = [n for n in audit["notification_history"] if n["trigger_event"] == "g3"]
        assert (alert["status"], alert["suppression_reason"]) == (
            "failed",
            "not delivered to the internal recipients",
        )
        assert OPERATIONS not in json.dumps(audit)


def test_a_key_for_every_tenant_reads_the_recipients_and_the_merged_traits(both_tenants):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='ops').plaintext}")

    for audit in _audits(client):
        assert audit["traits"] == {
            "plan": "acme_gold",
            "phone": "+447700900123",
            "risk_segment": "high",
        }
        assert f"sent to email:{OPERATIONS}" in {d["reason"] for d in audit["decisions"]}
