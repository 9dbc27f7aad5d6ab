"""A claimed batch of the event log carries its entries' least and greatest id, so its render
runs no statement of its own to find them; a batch read back from the table (a retry, another
relay) still finds them, and both render the same rows. The relay renders the batches it
claimed with the ids their claim read."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from events.log import EVENT_LOG
from midnite_test.tests.analytics_rows import CLAIM_SECONDS, batch_claimed
from midnite_test.tests.waiting import wait_until
from outbox.analytics_copy import batch_render
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxBatch
from outbox.relay import outbox_relay

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = EVENT_LOG.stream(CONSUMER_ANALYTICS)
# The statement a render runs for a batch whose claim did not give its entry ids.
BOUNDS_LOOKUP = "SELECT min(id), max(id) FROM ("


def _events_with_alerts(events: int) -> list[int]:
    """Store `events` events, every other one with an alert; return their ids."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "WITH stored AS (INSERT INTO events_event (tenant_id, event_id, event_type, source,"
            " occurred_at, amount, properties, user_traits, received_at) SELECT 'default',"
            " 'bounds-' || n || '-' || clock_timestamp(), 'deposit', 'transactions', now(), 1,"
            " '{}', '{}', now() FROM generate_series(1, %s) AS n RETURNING id),"
            " alerted AS (INSERT INTO events_alert (event_id, code, rules_version, created_at)"
            " SELECT id, 30, 1, now() FROM stored WHERE id %% 2 = 0)"
            " SELECT id FROM stored ORDER BY id",
            [events],
        )
        return [id for (id,) in cursor.fetchall()]


def test_a_claimed_batch_is_rendered_without_looking_its_bounds_up():
    ids = _events_with_alerts(30)
    claimed = batch_claimed(STREAM)
    stored = OutboxBatch.objects.get(pk=claimed.pk)

    with CaptureQueriesContext(connection) as claimed_render:
        rendered = batch_render(claimed)
    with CaptureQueriesContext(connection) as stored_render:
        rendered_again = batch_render(stored)

    assert claimed.entry_ids == (min(ids), max(ids)) and stored.entry_ids is None
    assert len(claimed_render) == len(stored_render) - 1, claimed_render.captured_queries
    assert rendered is not None and rendered.tsv.count(b"\n") == 30 + 15
    assert sorted(rendered.tsv.split(b"\n")) == sorted(rendered_again.tsv.split(b"\n"))


def test_the_relay_renders_a_batch_it_claimed_without_looking_its_bounds_up(event_log):
    _events_with_alerts(12)

    relayed = []

    def relay_all() -> bool:
        relayed.append(outbox_relay(consumer=CONSUMER_ANALYTICS).messages)
        return sum(relayed) == 12

    with CaptureQueriesContext(connection) as statements:
        assert wait_until(relay_all, seconds=CLAIM_SECONDS)

    assert event_log.count() == 12 + 6
    assert not [query for query in statements.captured_queries if BOUNDS_LOOKUP in query["sql"]]
