"""A claim on PostgreSQL is few statements: each is a round trip, and under load the claims
ahead of the relay's inserts wait for every one (docs/BENCHMARKS.md, "Issue 20, stop 30")."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from outbox.batches import batch_claim
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxBatch, OutboxCursor

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_after_the_first_takes_its_batch_in_eight_statements(publish):
    """The look after the cursor, then in a transaction (BEGIN, COMMIT) the cursor's lock, the
    horizon, the planner's settings, the claim, which moves the cursor, and the batch's row.
    Before: ten, the cursor's insert (only a consumer's first claim needs it) and its move each
    a statement of its own."""
    publish(3)
    first = batch_claim(CONSUMER_ANALYTICS, size=2)

    with CaptureQueriesContext(connection) as statements:
        second = batch_claim(CONSUMER_ANALYTICS, size=2)

    assert (first.size, second.size) == (2, 1)
    assert len(statements) == 8, [query["sql"][:60] for query in statements.captured_queries]
    cursor = OutboxCursor.objects.get(consumer=CONSUMER_ANALYTICS)
    assert (cursor.xid, cursor.id) == (second.last_xid, second.last_id)
    assert OutboxBatch.objects.get(pk=second.pk).first_id == first.last_id + 1
    assert batch_claim(CONSUMER_ANALYTICS, size=2) is None
