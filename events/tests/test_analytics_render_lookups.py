"""A render of the event log finds the batch's alerts in one pass, not one lookup per event.

An event's alerts are rows of another table (alerts.analytics.ALERT_LOG_ROWS_SQL). Looked up
for each event of a batch, the lookup's nodes started again 10,000 times a batch, alerts or
none, and cost the render about as much as the events' own rows. The tables are analyzed, as
autovacuum keeps them: before a fresh deployment's first ANALYZE the planner may still look
each event's alerts up, which reads no more than before.
"""

import json

import pytest
from django.db import connection, transaction

from events.log import EVENT_LOG
from outbox.analytics_copy import batch_render_query
from outbox.batches import batch_claim
from outbox.contracts import CONSUMER_ANALYTICS

pytestmark = pytest.mark.django_db(transaction=True)

EARLIER = 400  # events of an earlier batch, each with an alert: not this batch's to read
EVENTS = 300
ALERTED_EVERY = 3
STREAM = EVENT_LOG.stream(CONSUMER_ANALYTICS)


def _events_with_alerts(events: int, *, alerted_every: int) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "WITH stored AS (INSERT INTO events_event (tenant_id, event_id, event_type, source,"
            " occurred_at, amount, properties, user_traits, received_at) SELECT 'default',"
            " 'e' || n || '-' || clock_timestamp(), 'deposit', 'transactions', now(), 1, '{}',"
            " '{}', now() FROM generate_series(1, %s) AS n RETURNING id)"
            " INSERT INTO events_alert (event_id, code, rules_version, created_at)"
            " SELECT id, 30, 1, now() FROM stored WHERE id %% %s = 0",
            [events, alerted_every],
        )


@pytest.fixture
def batch():
    """A claimed batch of EVENTS events, every ALERTED_EVERY-th with an alert, after a batch
    of EARLIER events that all have one."""
    _events_with_alerts(EARLIER, alerted_every=1)
    assert batch_claim(STREAM, size=EARLIER).size == EARLIER
    _events_with_alerts(EVENTS, alerted_every=ALERTED_EVERY)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event, events_alert")
    batch = batch_claim(STREAM, size=EVENTS)
    assert batch is not None and batch.size == EVENTS
    return batch


def test_a_render_reads_the_batchs_alerts_in_one_pass(batch):
    query, parameters = batch_render_query(batch)
    alert_nodes = [node for node in _plan_run(query, parameters) if _reads_alerts(node)]

    assert alert_nodes and all(node["Actual Loops"] == 1 for node in alert_nodes), alert_nodes
    read = sum(node["Actual Rows"] + node.get("Rows Removed by Filter", 0) for node in alert_nodes)
    assert read <= EVENTS // ALERTED_EVERY + 1, alert_nodes


def _reads_alerts(node: dict) -> bool:
    return node.get("Relation Name") == "events_alert"


def _plan_run(query: str, parameters: dict) -> list[dict]:
    """Every node of the plan PostgreSQL ran for `query`, with its counts."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", parameters)
        (document,) = cursor.fetchone()
    plan = json.loads(document) if isinstance(document, str) else document
    nodes, pending = [], [plan[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes
