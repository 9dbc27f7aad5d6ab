"""What operators see: the relay's log lines, request ids on log lines, and Sentry traces.

Logs are read as structlog hands them over (capture_logs) or as the project renders them (a
root handler using the project's formatter chain, rendering JSON). Sentry reports go to a real
HTTP server on the loopback interface.
"""

import json
import logging
import time
from datetime import timedelta

import pytest
import sentry_sdk
import structlog
from django.utils import timezone
from rest_framework.test import APIClient
from structlog.testing import capture_logs

from outbox.clickhouse.client import clickhouse_command
from outbox.models import OutboxBatch, OutboxMessage
from outbox.relay import outbox_relay
from outbox.services import outbox_dead_letters_retry

EMAIL = "jane.secret@example.com"
AMOUNT = "987654.32"


# The relay's log lines.


@pytest.mark.django_db(transaction=True)
def test_a_shipped_batch_logs_its_consumer_id_size_duration_and_lag(event_log, publish):
    publish(3)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=60))

    with capture_logs() as logs:
        outbox_relay()

    [shipped] = [entry for entry in logs if entry["event"] == "outbox.batch_shipped"]
    batch = OutboxBatch.objects.get()
    assert shipped["log_level"] == "info"
    assert shipped["consumer"] == "analytics"
    assert shipped["batch_id"] == str(batch.pk)
    assert shipped["size"] == 3
    assert 0 <= shipped["duration_ms"] < 60_000
    assert 60 <= shipped["lag_s"] < 120


@pytest.mark.django_db(transaction=True)
def test_relay_log_lines_never_contain_an_email_or_amount_from_the_payloads(
    event_log, publish, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    publish(2, context={"email": EMAIL, "amount": AMOUNT})
    # ClickHouse rejects the rows with an error that quotes them, email and amount included.
    clickhouse_command(
        "ALTER TABLE event_log ADD CONSTRAINT no_email CHECK position(event_context, '@') = 0"
    )

    with capture_logs() as logs:
        try:
            for _ in range(10):
                if not outbox_relay().failed:
                    break
        finally:
            clickhouse_command("ALTER TABLE event_log DROP CONSTRAINT no_email")
        outbox_dead_letters_retry()
        outbox_relay()

    assert {entry["event"] for entry in logs} >= {
        "outbox.batch_failed",
        "outbox.message_dead_lettered",
        "outbox.batch_shipped",
    }
    assert EMAIL in OutboxMessage.objects.first().last_error, "the error did carry the data"
    assert event_log.count() == 2
    for entry in logs:
        assert EMAIL not in repr(entry) and AMOUNT not in repr(entry), entry


# Request ids on log lines.


class RenderedLines(logging.Handler):
    """A root handler rendering every line as the project does, as JSON, kept for the test."""

    def __init__(self) -> None:
        super().__init__()
        [project] = [
            handler.formatter
            for handler in logging.getLogger().handlers
            if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
        ]
        self.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=project.foreign_pre_chain,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def named(self, event: str) -> list[dict]:
        return [line for line in self.lines if line["event"] == event]


@pytest.fixture
def rendered_lines():
    handler = RenderedLines()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@pytest.mark.django_db(transaction=True)
def test_a_line_logged_while_serving_a_request_carries_the_returned_request_id(
    rendered_lines, broker_down, settings
):
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    settings.ALLOW_ANONYMOUS = True  # the request id is the subject, not the API key
    body = {"email": "request.id@example.com", "first_name": "R", "last_name": "Id"}

    # The user commits, then waking the worker fails: a line logged inside the request.
    response = APIClient().post("/users", body, format="json")

    assert response.status_code == 201
    [line] = rendered_lines.named("outbox.wakeup_failed")
    assert line["request_id"] == response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


def test_django_request_lines_carry_the_request_id_the_client_sent(rendered_lines, db):
    # The status needs a key: Django logs the 401.
    response = APIClient().get("/healthz/status", HTTP_X_REQUEST_ID="probe-7")

    assert response.status_code == 401
    assert response["X-Request-ID"] == "probe-7"
    [line] = rendered_lines.named("Unauthorized: /healthz/status")
    assert line["logger"] == "django.request"
    assert line.get("request_id") == "probe-7", line


def test_a_line_logged_after_a_request_carries_no_request_id(rendered_lines, db):
    APIClient().get("/healthz/live", HTTP_X_REQUEST_ID="finished-1")

    logging.getLogger("outbox.tests").warning("after the request")

    [line] = rendered_lines.named("after the request")
    assert "request_id" not in line


# Sentry traces of the relay.


@pytest.mark.django_db(transaction=True)
def test_a_relayed_batch_is_traced_with_claim_insert_and_mark_spans(
    event_log, publish, sentry_ingest
):
    publish(3)

    outbox_relay()
    sentry_sdk.flush(timeout=10)

    deadline = time.monotonic() + 10
    while True:
        traced = [
            transaction
            for transaction in sentry_ingest.events("transaction")
            if transaction["transaction"] == "outbox.relay_batch"
            and {"outbox.claim", "outbox.insert", "outbox.mark"}
            <= {span["op"] for span in transaction["spans"]}
        ]
        if traced or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    [transaction] = traced
    assert transaction["contexts"]["trace"]["op"] == "outbox.relay"
    assert transaction["environment"] == "test"
    names = {span["op"]: span["description"] for span in transaction["spans"]}
    assert names["outbox.insert"] == "insert event_log"
    assert event_log.count() == 3
