"""POST /event's database round trips on PostgreSQL, counted on the wire with libpq's trace.

A round trip ends with a message that makes the server answer and wait for the client: Sync
(extended protocol, pipelined or not) or Query (simple protocol). Once the process has seen
the API key (it keeps it, api_keys.selectors), a request costs the transaction's two round
trips. Served for real too: Django's per-request connection health check (CONN_HEALTH_CHECKS, a
`SELECT 1` round trip) is not run for it; a connection found broken before the COMMIT is
replaced and the transaction run again (alerts.pipeline.pipelined_transaction_run).
"""

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import OperationalError, connection
from psycopg import pq

from alerts.fast_path import transaction_fast_path
from alerts.pipeline import PipelinedTransaction
from alerts.models import Alert
from alerts.tests.wsgi_client import wsgi_post
from events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def key_kept_through_the_test(settings):
    """Keep a seen key for the whole test: a slow machine must not outlive the 1 s window."""
    settings.API_KEY_CACHE_SECONDS = 300


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


def test_the_fast_path_takes_the_same_two_round_trips(post_event, api_key):
    post_event("deposit", "5.00", 10)
    django_calls = []
    fast = transaction_fast_path(lambda environ, start: django_calls.append(environ))
    body = {"type": "withdraw", "amount": "150.00", "user_id": 1, "t": 20}

    with round_trips() as counted:
        status, _, content = wsgi_post(fast, body, key=api_key)

    assert (status, content, django_calls) == (
        200,
        b'{"alert":true,"alert_codes":[1100],"user_id":1}',
        [],
    )
    assert counted == [ROUND_TRIPS]


def test_a_request_runs_no_health_check_round_trip(post_event):
    post_event("deposit", "5.00", 10)
    # What Django does when a request starts (the test client skips it): check the reused
    # connection again before its first query.
    connection.close_if_unusable_or_obsolete()

    with round_trips() as counted:
        response = post_event("deposit", "10.00", 20)

    assert response.status_code == 200, response.json()
    assert counted == [ROUND_TRIPS]


def _backend_terminate(pid: int) -> None:
    with psycopg.connect(_dsn(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} still there after 10 s"
            time.sleep(0.01)


def _dsn() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        **{key: value for key, value in params.items() if key in _CONNINFO_KEYS}
    )


_CONNINFO_KEYS = {"dbname", "user", "password", "host", "port"}


def test_a_connection_lost_while_idle_is_replaced_and_the_transaction_stored(post_event):
    post_event("deposit", "5.00", 10)
    lost = connection.connection.info.backend_pid
    _backend_terminate(lost)
    connection.close_if_unusable_or_obsolete()

    response = post_event("withdraw", "150.00", 20)

    assert response.status_code == 200, response.json()
    assert response.json()["alert_codes"] == [1100]
    assert connection.connection.info.backend_pid != lost
    assert Event.objects.filter(event_id="txn:1:20").count() == 1
    assert Alert.objects.filter(event__event_id="txn:1:20").count() == 1


def test_a_connection_lost_at_the_commit_is_not_retried(post_event, monkeypatch):
    post_event("deposit", "5.00", 10)
    execute = PipelinedTransaction.execute
    sent = []

    def execute_losing_the_commit(pipelined, sql, params=None):
        sent.append(sql)
        if sql == "COMMIT":
            _backend_terminate(connection.connection.info.backend_pid)
        return execute(pipelined, sql, params)

    monkeypatch.setattr(PipelinedTransaction, "execute", execute_losing_the_commit)

    with pytest.raises(OperationalError):
        post_event("deposit", "10.00", 20)

    assert sent.count("BEGIN") == 1
    monkeypatch.undo()
    connection.close()
    assert not Event.objects.filter(event_id="txn:1:20").exists()
