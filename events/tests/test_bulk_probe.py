"""A large batch whose keys are stored already: the probe that reads their pks and digests.

A PostgreSQL batch of COPY_MIN_EVENTS or more is copied at once when its first key is not
stored; a batch whose COPY meets a stored key, or whose first key is stored, reads the pk and
digest of its stored keys once: those are its duplicates and conflicts, the rest is stored.
"""

from dataclasses import replace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.event_rows import COPY_MIN_EVENTS
from events.ingestion import events_ingest
from events.models import Event
from events.tests.racing import click_event


@pytest.mark.django_db
def test_a_large_batch_of_new_events_reads_no_stored_digest():
    events = [click_event(n) for n in range(COPY_MIN_EVENTS)]

    with CaptureQueriesContext(connection) as queries:
        outcome = events_ingest(events=events)

    assert sorted(outcome.stored) == list(range(COPY_MIN_EVENTS))
    assert [query["sql"] for query in queries if "content_digest FROM" in query["sql"]] == []


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


@pytest.mark.django_db
def test_a_large_batch_with_a_few_keys_stored_stores_the_rest_and_tells_them_apart():
    stored_before = events_ingest(events=[click_event(n) for n in (5, 80)])
    events = [click_event(n) for n in range(COPY_MIN_EVENTS)]
    changed = replace(events[80], event_type="other")

    outcome = events_ingest(events=[*events[:80], changed, *events[81:]])

    assert outcome.duplicates == {5: stored_before.stored[0]}
    assert outcome.conflicts == {80: stored_before.stored[1]}
    assert sorted(outcome.stored) == [n for n in range(COPY_MIN_EVENTS) if n not in (5, 80)]
    assert Event.objects.count() == COPY_MIN_EVENTS
