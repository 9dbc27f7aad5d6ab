"""/healthz/status's backlog of the event log stays cheap before a consumer's first claim.

A stream with no cursor yet starts at the first event, and the event table is never purged:
its count stops at BACKLOG_COUNT_CAP and says so. PostgreSQL only: the rows read are counted
from the server's statistics of this transaction.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from events.contracts import EventInput
from events.ingestion import events_insert_new
from events.models import Event
from outbox.logs import STREAMS
from outbox.models import OutboxCursor

CAP = 20
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _store(n: int) -> None:
    """Store `n` events in an event table of their own: no dead rows from other tests.

    An earlier test's rolled-back events stay in the table and its indexes as dead entries (no
    vacuum runs here), first in claim order, and a range read from the start steps over each:
    the count below would be theirs. TRUNCATE gives the table new files, undone with this
    test's transaction.
    """
    with connection.cursor() as db:
        db.execute(f"TRUNCATE {Event._meta.db_table} CASCADE")
    events = [
        EventInput(
            tenant_id="tenant_1",
            event_id=f"e{i}",
            source="web",
            event_type="purchase",
            occurred_at=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]
    events_insert_new(events=events, received_at=timezone.now())


def _event_rows_read() -> int:
    """The rows of events_event this transaction has read so far: by sequential scans, and the
    entries its indexes returned (index scans, index-only ones too)."""
    with connection.cursor() as db:
        db.execute(
            """
            SELECT pg_stat_get_xact_tuples_returned(%(table)s::regclass) + coalesce((
                       SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index
                       WHERE indrelid = %(table)s::regclass
                   ), 0)
            """,
            {"table": Event._meta.db_table},
        )
        return int(db.fetchone()[0])


def _status_backlog(client) -> dict[str, dict]:
    answer = client.get("/healthz/status").json()["outbox"]
    return {row["consumer"]: row for row in answer}


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setattr("outbox.selectors.BACKLOG_COUNT_CAP", CAP)


@pytest.mark.usefixtures("capped")
def test_a_big_event_log_without_a_cursor_reads_at_most_the_cap_and_says_at_least(api_client):
    _store(10 * CAP)
    assert not OutboxCursor.objects.exists()
    streams_of_events = sum(1 for log in STREAMS.values() if log.model is Event)
    before = _event_rows_read()

    backlog = _status_backlog(api_client)

    read = _event_rows_read() - before
    assert read <= streams_of_events * (CAP + 1), f"{read} rows of events_event read"
    for consumer in ("analytics", "metrics"):
        assert backlog[consumer]["unshipped"] == CAP
        assert backlog[consumer]["unshipped_at_least"] is True
        assert backlog[consumer]["oldest_age_seconds"] >= 0


@pytest.mark.usefixtures("capped")
def test_an_event_log_below_the_cap_is_counted_exactly(api_client):
    _store(CAP - 1)

    backlog = _status_backlog(api_client)

    for consumer in ("analytics", "metrics"):
        assert backlog[consumer]["unshipped"] == CAP - 1
        assert backlog[consumer]["unshipped_at_least"] is False
