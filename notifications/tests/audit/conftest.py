"""Fixtures of the audit trail's tests: an API client and a product user."""

import pytest
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from users.models import User


@pytest.fixture
def api_client(db) -> APIClient:
    """A client whose API key acts on every tenant."""
    client = APIClient()
    key = api_key_create(name="audit tests").plaintext
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def ada(db) -> User:
    """A product user known by external id, with traits."""
    return User.objects.create(external_id="u_ada", traits={"plan": "pro", "timezone": "UTC"})
