"""A batch written with COPY whose keys another transaction stores while it is being written.

Runs on PostgreSQL only (not in the SQLite API pass): the COPY path is PostgreSQL's, and SQLite
has one writer at a time.
"""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from events.contracts import EventInput
from events.event_rows import COPY_MIN_EVENTS
from events.ingestion import events_ingest
from events.models import Event
from midnite_test.tests.concurrently import set_once_a_backend_waits_on_a_lock


def _events(numbers: range) -> list[EventInput]:
    return [
        EventInput(
            tenant_id="tenant_1",
            event_id=f"evt_{n}",
            source="web",
            event_type="click",
            occurred_at=datetime(2025, 10, 31, tzinfo=UTC),
            properties={"n": n},
        )
        for n in numbers
    ]


@pytest.mark.django_db(transaction=True)
def test_keys_stored_meanwhile_by_another_copy_are_duplicates_and_the_rest_is_stored():
    half = COPY_MIN_EVENTS // 2
    # Both batches are COPY_MIN_EVENTS long, so both take the COPY path; they share `half` keys.
    theirs, ours = _events(range(COPY_MIN_EVENTS)), _events(range(half, half + COPY_MIN_EVENTS))
    stored, commit = threading.Event(), threading.Event()
    their_outcome = []

    def other_transaction() -> None:
        try:
            with transaction.atomic():
                their_outcome.append(events_ingest(events=theirs))
                stored.set()
                commit.wait(timeout=30)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=other_transaction),
        threading.Thread(target=set_once_a_backend_waits_on_a_lock, args=(commit,)),
    ]
    threads[0].start()
    assert stored.wait(timeout=30)
    # Ours finds none of its keys stored (theirs is not committed), so its COPY waits on
    # their rows, then fails on the unique constraint once they commit.
    threads[1].start()
    outcome = events_ingest(events=ours)
    for thread in threads:
        thread.join(timeout=30)

    assert len(their_outcome[0].stored) == COPY_MIN_EVENTS
    assert sorted(outcome.duplicates) == list(range(COPY_MIN_EVENTS - half))
    assert sorted(outcome.stored) == list(range(COPY_MIN_EVENTS - half, COPY_MIN_EVENTS))
    assert outcome.conflicts == {} and outcome.unknown_users == {}
    assert Event.objects.count() == half + COPY_MIN_EVENTS
    ours_stored = {ours[i].event_id: pk for i, pk in outcome.stored.items()}
    assert ours_stored == dict(
        Event.objects.filter(event_id__in=ours_stored).values_list("event_id", "pk")
    )
