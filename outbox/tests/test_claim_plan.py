"""A claim reads what it takes, whatever the planner knows: never the shipped history.

The outbox table is never analyzed here (autovacuum is off, as before a fresh deployment's
first ANALYZE): without statistics the planner guessed a sequential scan and a sort of every
message for a claim of a hundred.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from midnite_test.tests.query_plans import plan_nodes_run
from outbox.batches import batch_claim
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxCursor, OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)

SHIPPED = 100_000
PENDING = 1_000
CLAIM = 100


def _messages_insert(count: int) -> None:
    """`count` messages to each of two consumers in one committed transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts,"
            " last_error) SELECT consumer, 'event_stored', n, now(), 0, ''"
            " FROM generate_series(1, %s) AS n, unnest(ARRAY['analytics', 'metrics']) AS consumer",
            [count],
        )


@pytest.fixture
def history():
    """SHIPPED messages behind the cursor (claimed long ago), then PENDING new ones, for two
    consumers each, as ingestion publishes them."""
    _messages_insert(SHIPPED)
    last = (
        OutboxMessage.objects.filter(consumer=CONSUMER_ANALYTICS)
        .order_by("-xid", "-id")
        .values_list("xid", "id")
        .first()
    )
    OutboxCursor.objects.create(consumer=CONSUMER_ANALYTICS, xid=last[0], id=last[1])
    _messages_insert(PENDING)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_analyze, last_autoanalyze FROM pg_stat_user_tables"
            " WHERE relname = 'outbox_outboxmessage'"
        )
        assert cursor.fetchone() == (None, None), "the test needs a never-analyzed table"


def test_a_claim_reads_only_the_messages_it_takes(history):
    """Before: a bitmap scan of every message after the cursor and a sort, or without any
    estimate a sequential scan of the whole history, for a claim of CLAIM messages."""
    with CaptureQueriesContext(connection) as queries:
        batch = batch_claim(CONSUMER_ANALYTICS, size=CLAIM)
    assert batch is not None and batch.size == CLAIM
    statements = [query["sql"] for query in queries.captured_queries]
    [claim] = [sql for sql in statements if "LIMIT 100" in sql]
    settings = [sql for sql in statements if "SET LOCAL" in sql]

    with transaction.atomic():  # as the relay runs it: after the settings of its transaction
        for sql in settings:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        nodes = plan_nodes_run(claim)

    touched = {f"{node.node_type} {node.index or ''}".strip(): node.rows_touched for node in nodes}
    assert max(touched.values()) <= CLAIM + 1, touched
