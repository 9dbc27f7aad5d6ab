"""A key limited to tenants neither writes nor reads other tenants' events or metrics."""

import pytest

from api_keys.services import api_key_create
from events.models import Event
from midnite_test.tests.concurrently import client_with_key


def _event(tenant_id: str, n: int = 1) -> dict:
    return {
        "event_id": f"evt_{n}",
        "tenant_id": tenant_id,
        "source": "web",
        "event_type": "click",
        "timestamp": "2024-01-15T10:30:00Z",
    }


@pytest.fixture
def acme(db):
    """A client whose key acts on tenant "acme" only."""
    return client_with_key(api_key_create(name="acme", tenants=["acme"]).plaintext)


@pytest.fixture
def stored(api_client, users):
    for tenant in ("acme", "globex"):
        assert api_client.post("/events", _event(tenant), format="json").status_code == 201


def test_writing_another_tenants_event_is_403(acme):
    response = acme.post("/events", _event("globex"), format="json")

    assert response.status_code == 403
    assert response.json()["error"] == "tenant_forbidden"
    assert Event.objects.count() == 0


def test_a_bulk_request_naming_another_tenant_is_403_and_stores_nothing(acme):
    events = [_event("acme", 1), _event("globex", 2)]

    response = acme.post("/events/bulk", {"events": events}, format="json")

    assert response.status_code == 403
    assert Event.objects.count() == 0


def test_listing_another_tenant_is_403(acme, stored):
    assert acme.get("/events", {"tenant_id": "globex"}).status_code == 403


def test_listing_without_a_tenant_shows_only_the_keys_tenants(acme, stored):
    tenants = {event["tenant_id"] for event in acme.get("/events").json()["results"]}

    assert tenants == {"acme"}


def test_another_tenants_metrics_are_403(acme, stored):
    response = acme.get("/metrics", {"tenant_id": "globex", "bucket_size": "day"})

    assert response.status_code == 403
    assert acme.get("/metrics", {"tenant_id": "acme", "bucket_size": "day"}).status_code == 200


def test_post_event_needs_the_default_tenant(acme, users):
    body = {"type": "deposit", "amount": "1.00", "user_id": 1, "t": 1}

    assert acme.post("/event", body, format="json").status_code == 403
