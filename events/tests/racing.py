"""Events stored by another transaction while the test's own batch is being stored."""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import connection, transaction

from events.contracts import EventInput
from events.ingestion import IngestOutcome, events_ingest
from midnite_test.tests.concurrently import set_once_a_backend_waits_on_a_lock


@contextmanager
def stored_in_a_transaction_held_open(events: Sequence[EventInput]) -> Iterator[IngestOutcome]:
    """Store `events` in another thread's transaction, committed once a session waits on it.

    Yields that transaction's outcome while it is still open: the block's statements that
    touch the same keys wait on its rows, and it commits as soon as one does (30 s at most).
    PostgreSQL only.
    """
    stored, commit = threading.Event(), threading.Event()
    outcomes: list[IngestOutcome] = []

    def other_transaction() -> None:
        try:
            with transaction.atomic():
                outcomes.append(events_ingest(events=events))
                stored.set()
                commit.wait(timeout=30)
        finally:
            stored.set()
            connection.close()

    threads = [
        threading.Thread(target=other_transaction),
        threading.Thread(target=set_once_a_backend_waits_on_a_lock, args=(commit,)),
    ]
    threads[0].start()
    assert stored.wait(timeout=30) and outcomes
    threads[1].start()
    try:
        yield outcomes[0]
    finally:
        for thread in threads:
            thread.join(timeout=30)


def click_event(n: int) -> EventInput:
    """The racing tests' event number `n`: one tenant, keys `evt_<n>`."""
    return EventInput(
        tenant_id="tenant_1",
        event_id=f"evt_{n}",
        source="web",
        event_type="click",
        occurred_at=datetime(2025, 10, 31, tzinfo=UTC),
        properties={"n": n},
    )
