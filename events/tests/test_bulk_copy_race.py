"""A batch written with COPY whose keys another transaction stores while it is being written.

Runs on PostgreSQL only (not in the SQLite API pass): the COPY path is PostgreSQL's, and SQLite
has one writer at a time.
"""

import pytest

from events.contracts import EventInput
from events.event_rows import COPY_MIN_EVENTS
from events.ingestion import events_ingest
from events.models import Event
from events.tests.racing import click_event, stored_in_a_transaction_held_open


def _events(numbers: range) -> list[EventInput]:
    return [click_event(n) for n in numbers]


@pytest.mark.django_db(transaction=True)
def test_keys_stored_meanwhile_by_another_copy_are_duplicates_and_the_rest_is_stored():
    half = COPY_MIN_EVENTS // 2
    # Both batches are COPY_MIN_EVENTS long, so both take the COPY path; they share `half` keys.
    theirs, ours = _events(range(COPY_MIN_EVENTS)), _events(range(half, half + COPY_MIN_EVENTS))
    # Ours finds none of its keys stored (theirs is not committed), so its COPY waits on
    # their rows, then fails on the unique constraint once they commit.
    with stored_in_a_transaction_held_open(theirs) as their_outcome:
        outcome = events_ingest(events=ours)

    assert len(their_outcome.stored) == COPY_MIN_EVENTS
    assert sorted(outcome.duplicates) == list(range(COPY_MIN_EVENTS - half))
    assert sorted(outcome.stored) == list(range(COPY_MIN_EVENTS - half, COPY_MIN_EVENTS))
    assert outcome.conflicts == {} and outcome.unknown_users == {}
    assert Event.objects.count() == half + COPY_MIN_EVENTS
    ours_stored = {ours[i].event_id: pk for i, pk in outcome.stored.items()}
    assert ours_stored == dict(
        Event.objects.filter(event_id__in=ours_stored).values_list("event_id", "pk")
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_another_transaction_copies_meanwhile_is_all_duplicates():
    theirs, ours = _events(range(COPY_MIN_EVENTS)), _events(range(COPY_MIN_EVENTS))
    # Ours finds its first key not stored (theirs is not committed) and copies at once; the
    # COPY waits on their rows, fails once they commit, and ours then reads every key stored.
    with stored_in_a_transaction_held_open(theirs) as their_outcome:
        outcome = events_ingest(events=ours)

    assert outcome.stored == {} and outcome.conflicts == {}
    assert outcome.duplicates == their_outcome.stored
    assert Event.objects.count() == COPY_MIN_EVENTS
