"""Requests generated from the OpenAPI schema never get a server error.

Schemathesis derives bodies from docs/openapi.yaml, valid and invalid, and sends them to the
app in-process with a valid API key; each must be answered with something other than a 5xx,
and each that carries the key gets past authentication to the endpoint.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

schema = schemathesis.openapi.from_wsgi("/docs/schema", get_wsgi_application())


@pytest.fixture
def test_transaction_survives_requests():
    """Keep the WSGI handler from closing the test's connection, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.django_db
def test_no_generated_request_gets_a_server_error(
    case, users, api_key, test_transaction_survives_requests
):
    authorization = f"Bearer {api_key}"

    def key_is_accepted(ctx, response, case) -> None:
        """A request that carried the key got past authentication.

        Schemathesis also sends cases without the header or with a generated one, to probe
        authentication itself: those may be 401, never 5xx.
        """
        if response.request.headers.get("Authorization") == authorization:
            assert response.status_code != 401, f"{case.operation.label} refused the API key"

    case.call_and_validate(
        headers={"Authorization": authorization}, checks=[not_a_server_error, key_is_accepted]
    )
