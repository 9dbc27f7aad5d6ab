from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from events.models import Event
from events.services import demo_users_ensure


@pytest.fixture
def api_key(db) -> str:
    """A new API key that acts on every tenant, in clear."""
    return api_key_create(name="events tests").plaintext


@pytest.fixture
def api_client(api_key) -> APIClient:
    """A client sending `api_key` with every request."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def users(db):
    """The demo users 1 to 4."""
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

    def store(**fields) -> Event:
        defaults = {
            "event_type": "deposit",
            "source": "transactions",
            "occurred_at": datetime(2025, 10, 31, 19, 30, 0, 123456, tzinfo=UTC),
        }
        return Event.objects.create(**{**defaults, **fields})

    return store
