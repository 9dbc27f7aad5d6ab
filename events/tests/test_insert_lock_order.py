"""Two batches that share keys in different orders never deadlock: rows are written in key order.

PostgreSQL only (not in the SQLite API pass): SQLite has one writer at a time. The other
transaction stands for a request still writing its batch: it has written its first key and
writes the next only once ours waits on it, which is the moment a deadlock would need.
"""

import threading

import pytest
from django.db import connection, transaction

from events.event_rows import COPY_MIN_EVENTS
from events.ingestion import events_ingest
from events.models import Event
from events.tests.racing import click_event
from midnite_test.tests.concurrently import set_once_a_backend_waits_on_a_lock


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [2, COPY_MIN_EVENTS], ids=["insert", "copy"])
def test_a_batch_sharing_keys_in_another_order_waits_and_never_deadlocks(size):
    ours = [click_event(n) for n in reversed(range(size))]  # the last key first
    theirs_first, theirs_rest = [click_event(0)], [click_event(n) for n in range(1, size)]
    first_written, ours_waits, errors = threading.Event(), threading.Event(), []

    def their_transaction() -> None:
        try:
            with transaction.atomic():
                events_ingest(events=theirs_first)
                first_written.set()
                waiter.start()
                ours_waits.wait(timeout=30)
                events_ingest(events=theirs_rest)
        except Exception as exc:  # noqa: BLE001 - the deadlock, asserted below
            errors.append(exc)
        finally:
            first_written.set()
            connection.close()

    waiter = threading.Thread(target=set_once_a_backend_waits_on_a_lock, args=(ours_waits,))
    theirs = threading.Thread(target=their_transaction)
    theirs.start()
    assert first_written.wait(timeout=30)
    try:
        with transaction.atomic():
            outcome = events_ingest(events=ours)
    except Exception as exc:  # noqa: BLE001 - the deadlock, asserted below
        errors.append(exc)
    theirs.join(timeout=30)
    waiter.join(timeout=30)

    assert errors == []
    assert len(outcome.duplicates) == size and outcome.stored == {}
    assert Event.objects.count() == size


@pytest.mark.django_db
@pytest.mark.parametrize("size", [2, COPY_MIN_EVENTS], ids=["insert", "copy"])
def test_a_batch_written_in_key_order_keeps_its_own_order_in_the_log(size):
    outcome = events_ingest(events=[click_event(n) for n in reversed(range(size))])

    pks = [outcome.stored[index] for index in range(size)]
    assert pks == sorted(pks)
