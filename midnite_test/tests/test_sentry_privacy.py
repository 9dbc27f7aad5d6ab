"""Sentry never receives a request's body: the emails, phone numbers and amounts it carries.

A request carrying them fails for real (the events table is gone) under the WSGI handler a
server calls, the error goes to a real Sentry client, and every byte that client sends is read
back from a loopback ingest.
"""

import pytest
import sentry_sdk
from django.core.wsgi import get_wsgi_application
from django.db import IntegrityError, connection, transaction

from alerts.tests.wsgi_client import wsgi_post
from events.models import Event
from users.models import User

EMAIL = "jane.secret@example.com"
PHONE = "+447700900123"
AMOUNT = "987654.32"


@pytest.fixture
def events_table_gone(transactional_db):
    """Ingestion fails with a database error until the test ends."""
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO gone_for_this_test")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE gone_for_this_test RENAME TO {table}")


def test_a_failed_request_reaches_sentry_without_its_body(
    sentry_ingest, events_table_gone, api_key, settings
):
    settings.ALLOW_ANONYMOUS = False
    body = [
        {
            "user_id": "u_jane",
            "event_type": "signup",
            "event_timestamp": "2025-01-01T00:00:00Z",
            "properties": {"email": EMAIL, "phone": PHONE, "amount": AMOUNT},
        }
    ]

    # The one write that takes a query parameter: the secret in the URL too.
    status, _, _ = wsgi_post(
        get_wsgi_application(),
        body,
        key=api_key,
        PATH_INFO="/api/v1/events",
        QUERY_STRING=f"tenant_id={EMAIL}",
    )
    sentry_sdk.flush(timeout=10)

    assert status == 500
    [error] = sentry_ingest.events("event")
    assert error["request"]["method"] == "POST"
    assert error["request"]["url"] == "http://testserver/api/v1/events"
    assert Event._meta.db_table in error["exception"]["values"][-1]["value"]
    sent = b"".join(sentry_ingest.envelopes)
    for secret in (EMAIL, PHONE, AMOUNT, "jane.secret", api_key):
        assert secret.encode() not in sent, f"{secret} reached Sentry"


def test_a_database_error_reaches_sentry_without_the_row_it_quotes(sentry_ingest, db):
    User.objects.create(email=EMAIL)
    try:
        with transaction.atomic():
            User.objects.create(email=EMAIL.upper())
    except IntegrityError as exc:
        assert connection.vendor != "postgresql" or EMAIL in str(exc)  # in its DETAIL line
        sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=10)

    [error] = sentry_ingest.events("event")
    assert "user_unique_email_ci" in error["exception"]["values"][-1]["value"]
    sent = b"".join(sentry_ingest.envelopes)
    assert EMAIL.encode() not in sent and EMAIL.upper().encode() not in sent
