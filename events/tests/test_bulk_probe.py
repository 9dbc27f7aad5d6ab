"""A large batch whose keys are stored already: the probe that reads their pks and digests.

A PostgreSQL batch of COPY_MIN_EVENTS or more reads the pk and digest of its stored keys once,
before its insert; those are its duplicates and conflicts, the rest is stored.
"""

from dataclasses import replace

import pytest

from events.event_rows import COPY_MIN_EVENTS
from events.ingestion import events_ingest
from events.models import Event
from events.tests.racing import click_event


@pytest.mark.django_db
def test_a_large_batch_sent_again_stores_nothing_and_tells_duplicates_from_a_conflict():
    events = [click_event(n) for n in range(COPY_MIN_EVENTS)]
    first = events_ingest(events=events)
    changed = replace(events[-1], event_type="other")

    again = events_ingest(events=[*events[:-1], changed])

    assert again.stored == {}
    assert again.duplicates == {i: first.stored[i] for i in range(COPY_MIN_EVENTS - 1)}
    assert again.conflicts == {COPY_MIN_EVENTS - 1: first.stored[COPY_MIN_EVENTS - 1]}
    assert Event.objects.count() == COPY_MIN_EVENTS


@pytest.mark.django_db
def test_a_large_batch_half_stored_stores_the_other_half():
    half = COPY_MIN_EVENTS // 2
    first = events_ingest(events=[click_event(n) for n in range(half)])

    outcome = events_ingest(events=[click_event(n) for n in range(COPY_MIN_EVENTS + half)])

    assert outcome.duplicates == first.stored
    assert sorted(outcome.stored) == list(range(half, COPY_MIN_EVENTS + half))
    assert Event.objects.count() == COPY_MIN_EVENTS + half
