"""A product event batch costs the same number of queries whatever its size.

Runs on PostgreSQL only (not in the SQLite API pass), where every step is one statement over
arrays or one COPY; on SQLite inserts go 1,000 rows a statement. A batch of fewer than
COPY_MIN_EVENTS new events takes the insert, with fewer statements: the small batch is that
many.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.event_rows import COPY_MIN_EVENTS
from events.models import Event
from events.product.services import product_events_ingest


def _items(count: int) -> list[dict]:
    return [
        {
            "user_id": f"u_{n % 700}",
            "event_type": "payment_failed",
            "event_timestamp": f"2025-10-31T19:{n // 60 % 60:02d}:{n % 60:02d}Z",
            "properties": {"n": n},
            "user_traits": {"plan": n % 3},
        }
        for n in range(count)
    ]


def _queries(items: list[dict], tenant_id: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        product_events_ingest(items=items, tenant_id=tenant_id)
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("sent_again", [False, True])
def test_5000_items_take_as_many_queries_as_a_few(sent_again):
    batches = {"small": _items(COPY_MIN_EVENTS), "large": _items(5_000)}
    if sent_again:
        for tenant_id, items in batches.items():
            product_events_ingest(items=items, tenant_id=tenant_id)

    counts = {tenant_id: _queries(items, tenant_id) for tenant_id, items in batches.items()}

    assert counts["large"] == counts["small"]
    assert Event.objects.count() == 5_000 + COPY_MIN_EVENTS
