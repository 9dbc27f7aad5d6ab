import itertools

import pytest
from rest_framework.test import APIClient

from api_keys.selectors import api_key_cache_clear
from api_keys.services import IssuedApiKey, api_key_create

_names = itertools.count()


@pytest.fixture(autouse=True)
def keys_required(settings):
    """Requests without a key are refused, whatever the environment says; no lookup is cached."""
    settings.ALLOW_ANONYMOUS = False
    api_key_cache_clear()


@pytest.fixture
def issue(db):
    """Create an API key, for every tenant unless `tenants` are named, with `scopes`."""

    def run(
        *, tenants: tuple[str, ...] = (), name: str | None = None, scopes: tuple[str, ...] = ()
    ) -> IssuedApiKey:
        name = name or f"test key {next(_names)}"
        return api_key_create(name=name, tenants=tenants, scopes=scopes)

    return run


@pytest.fixture
def client_for():
    """Return a client that sends `Authorization: Bearer <plaintext>`."""

    def run(plaintext: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        return client

    return run
