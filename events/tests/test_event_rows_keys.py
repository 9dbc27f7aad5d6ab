"""Stored events read back by key, whatever the keys hold.

On PostgreSQL the keys go as one text a column that the statement splits, or as arrays when a
key holds the separator (validation lets no identifier hold one) or a single key is empty.
"""

from dataclasses import replace

import pytest
from django.utils import timezone

from events.event_rows import event_rows_digests, event_rows_stored, events_stored_keys
from events.ingestion import events_insert_new
from events.tests.racing import click_event

STORED = [("tenant_1", "evt_0"), ("tenant_1", "evt_1"), ("t\x1fx", "e\x1f"), ("", "evt_2")]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "asked",
    [
        [("tenant_1", "evt_0"), ("tenant_1", "evt_1"), ("tenant_1", "missing")],
        [("tenant_1", "evt_1")],
        [("t\x1fx", "e\x1f"), ("tenant_1", "evt_0")],
        [("", "evt_2")],
        [("", "evt_2"), ("tenant_1", "evt_0")],
        [("tenant_1", "")],
    ],
)
def test_the_stored_events_of_any_keys_are_read_back(asked):
    events = [replace(click_event(0), tenant_id=t, event_id=e) for t, e in STORED]
    pks = events_insert_new(events=events, received_at=timezone.now())
    expected = {key: pks[key] for key in asked if key in pks}

    assert {key: pk for key, (pk, _) in event_rows_digests(asked).items()} == expected
    assert {key: stored.pk for key, stored in event_rows_stored(asked).items()} == expected
    assert events_stored_keys(keys=asked) == expected.keys()
