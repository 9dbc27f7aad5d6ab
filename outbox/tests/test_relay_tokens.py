"""The same rows ship under the same deduplication token, whichever batch row carries them."""

import pytest
from django.core.management import call_command

from outbox.clickhouse.client import clickhouse_command
from outbox.models import OutboxMessage
from outbox.relay import outbox_relay

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def refusing_view(event_log):
    """A materialized view whose target refuses every row: event_log stores a block, then the
    insert fails (VIOLATED_CONSTRAINT, a rejection) when the view's turn comes."""
    clickhouse_command(
        "CREATE TABLE refused (event_type String, CONSTRAINT refuse_all CHECK 0) ENGINE = Memory"
    )
    clickhouse_command(
        "CREATE MATERIALIZED VIEW refuse_view TO refused AS SELECT event_type FROM event_log"
    )
    yield
    clickhouse_command("DROP VIEW IF EXISTS refuse_view")
    clickhouse_command("DROP TABLE IF EXISTS refused")


def test_retry_dead_never_ships_a_message_twice(event_log, publish, settings, refusing_view):
    """Before: the re-queued message went out under a new token, and event_log kept it twice."""
    settings.OUTBOX_MAX_ATTEMPTS = 1
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    publish(1)
    assert outbox_relay().failed
    [dead] = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    assert "VIOLATED_CONSTRAINT" in dead.last_error
    landed = event_log.count()
    clickhouse_command("DROP VIEW refuse_view")  # the operator fixes the cause

    call_command("outbox", "retry-dead")
    call_command("outbox", "retry-dead")
    shipped = outbox_relay()

    assert shipped.messages == 1
    assert event_log.count() == 1, f"{landed} row(s) had landed before the rejection"
