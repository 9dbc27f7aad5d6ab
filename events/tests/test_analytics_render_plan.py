"""A batch's render reads what it renders: its rows once, the stream's dead letters once.

The relay renders each batch of the event log in one COPY (outbox.analytics_copy). The outbox
table is never analyzed here, as before a fresh deployment's first ANALYZE.
"""

import pytest
from django.db import connection, transaction

from events.log import EVENT_LOG
from midnite_test.tests.query_plans import plan_nodes_run
from outbox.analytics_copy import batch_render_query
from outbox.batches import batch_claim
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 300
DEAD_LETTERS = 50
STREAM = EVENT_LOG.stream(CONSUMER_ANALYTICS)


@pytest.fixture
def batch():
    """A claimed batch of EVENTS stored events, and DEAD_LETTERS dead letters of the stream
    (rows of earlier batches, parked)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts,"
            " last_error, dead_lettered_at) SELECT %s, %s, -n, now(), 1, 'rejected', now()"
            " FROM generate_series(1, %s) AS n",
            [STREAM, EVENT_LOG.topic, DEAD_LETTERS],
        )
        cursor.execute(
            "INSERT INTO events_event (tenant_id, event_id, event_type, source, occurred_at,"
            " amount, properties, user_traits, received_at) SELECT 'default', 'e' || n,"
            " 'deposit', 'transactions', now(), 1, '{}', '{}', now()"
            " FROM generate_series(1, %s) AS n",
            [EVENTS],
        )
    batch = batch_claim(STREAM, size=EVENTS)
    assert batch is not None and batch.size == EVENTS
    assert OutboxMessage.objects.filter(consumer=STREAM).count() == DEAD_LETTERS
    return batch


def test_a_render_reads_the_dead_letters_once_not_once_per_row(batch):
    """Before: an anti join that read every dead letter of the stream again for each row."""
    query, parameters = batch_render_query(batch)
    nodes = plan_nodes_run(query, parameters)
    touched = sum(node.rows_touched for node in nodes if node.relation == "outbox_outboxmessage")
    assert touched <= DEAD_LETTERS, [node for node in nodes]
