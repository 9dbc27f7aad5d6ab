"""POST /event's database round trips on PostgreSQL, counted on the wire with libpq's trace.

A round trip ends with a message that makes the server answer and wait for the client: Sync
(extended protocol, pipelined or not) or Query (simple protocol). Once the process has seen
the API key (it keeps it, api_keys.selectors), a request costs the transaction's two round
trips. Served for real it costs one more, Django's connection health check (CONN_HEALTH_CHECKS),
which the test client does not run.
"""

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from psycopg import pq

pytestmark = pytest.mark.django_db(transaction=True)

ROUND_TRIPS = 2
_ROUND_TRIP_END = re.compile(r"^F\t\d+\t(Sync|Query)\b", re.MULTILINE)


@contextmanager
def round_trips() -> Iterator[list[int]]:
    """Count the round trips on the default connection while the block runs (into [n])."""
    counted: list[int] = []
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield counted
        finally:
            pgconn.untrace()
        trace.seek(0)
        counted.append(len(_ROUND_TRIP_END.findall(trace.read())))


@pytest.mark.parametrize(
    "body, codes",
    [
        ({"type": "deposit", "amount": "10.00", "user_id": 1, "t": 20}, []),
        ({"type": "withdraw", "amount": "150.00", "user_id": 1, "t": 20}, [1100]),
    ],
    ids=["no alert", "an alert"],
)
def test_a_transaction_takes_two_round_trips(post_event, body, codes):
    post_event("deposit", "5.00", 10)  # warms the key cache and the connection

    with round_trips() as counted:
        response = post_event(body["type"], body["amount"], body["t"])

    assert response.status_code == 200, response.json()
    assert response.json()["alert_codes"] == codes
    assert counted == [ROUND_TRIPS]
