"""The floor POST /event is measured against: a bare WSGI app sending the same statements.

No Django: parse the body, then in one psycopg pipeline BEGIN, lock the user, the conditional
insert of the event and its outbox rows, and the default rules' history questions for its type
(alerts.pipeline and alerts.planned_history, copied as text so nothing of the
service is imported), one sync, then COMMIT. It evaluates no rule and writes no alert. Nor does
it read the active version of the alert rules (issue 18: one more SELECT in the service's first
round trip), so the ratio to the floor counts that statement's cost against the service. Serve it
with `bench/event_throughput.py`, which passes DATABASE_URL; never served otherwise.
"""

import json
import os
import threading
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

_USER_LOCK = "SELECT traits FROM events_user WHERE id = %s FOR UPDATE"
_EVENT_INSERT = """
    WITH new AS (
        INSERT INTO events_event
            (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
             user_traits, received_at)
        SELECT %s, %s, %s, %s, %s, %s, %s, '{}', '{}', %s
        WHERE COALESCE(GREATEST(LATEST_OF_TYPE, LATEST_OF_TYPE), '-infinity') < %s
        ON CONFLICT (tenant_id, event_id) DO NOTHING
        RETURNING id
    ), published AS (
        INSERT INTO outbox_outboxmessage
            (consumer, topic, subject_id, created_at, attempts, last_error)
        SELECT consumer, %s, new.id, %s, 0, '' FROM new CROSS JOIN unnest(%s::text[]) AS consumer
    )
    SELECT id FROM new
"""
_STREAM = "tenant_id = 'default' AND source = 'transactions'"
_EVENT_INSERT = _EVENT_INSERT.replace(
    "LATEST_OF_TYPE",
    f"(SELECT occurred_at FROM events_event WHERE user_id = %s AND {_STREAM}"
    " AND event_type = %s ORDER BY occurred_at DESC LIMIT 1)",
)
_ANCHOR_ID = "(SELECT id FROM events_event WHERE tenant_id = %s AND event_id = %s)"
_NEWEST = "ORDER BY occurred_at DESC, id DESC LIMIT 3"
# One SELECT per type, as alerts.planned_history sends them.
_LAST_OF_TYPE = (
    "(SELECT id, event_type, occurred_at, amount, properties FROM events_event "
    f"WHERE user_id = %s AND {_STREAM} AND event_type = %s AND TRUE "
    f"AND occurred_at <= %s AND (occurred_at < %s OR id <= {_ANCHOR_ID}) {_NEWEST})"
)
_LAST_DEPOSITS = _LAST_OF_TYPE
_LAST_TRANSACTIONS = (
    f"SELECT * FROM ({_LAST_OF_TYPE} UNION ALL {_LAST_OF_TYPE}) AS latest {_NEWEST}"
)
_DEPOSITS_SUM = (
    "SELECT SUM(amount) FROM ((SELECT id, amount FROM events_event "
    f"WHERE user_id = %s AND {_STREAM} AND event_type = %s AND TRUE "
    "AND occurred_at BETWEEN %s AND %s)) AS matching"
)
_TYPES = ["deposit", "withdraw"]
_CONSUMERS = ["analytics", "metrics"]

_local = threading.local()


def _connection() -> psycopg.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None or connection.closed:
        connection = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=5
        )
        _local.connection = connection
    return connection


def _store(*, user_id: int, event_type: str, amount: Decimal, t: int) -> bool:
    """Run the transaction; return whether the event was new."""
    occurred_at = datetime.fromtimestamp(t, tz=UTC)
    now = datetime.now(tz=UTC)
    event_id = f"txn:{user_id}:{t}"
    anchor = ["default", event_id]
    connection = _connection()
    with connection.pipeline() as pipeline:
        connection.execute("BEGIN")
        user = connection.execute(_USER_LOCK, [user_id])
        inserted = connection.execute(
            _EVENT_INSERT,
            [
                "default",
                event_id,
                user_id,
                event_type,
                "transactions",
                occurred_at,
                amount,
                now,
                user_id,
                _TYPES[0],
                user_id,
                _TYPES[1],
                occurred_at,
                "event_stored",
                now,
                _CONSUMERS,
            ],
        )
        if event_type == "deposit":
            last = [user_id, "deposit", occurred_at, occurred_at, *anchor]
            asked = [
                connection.execute(_LAST_DEPOSITS, last),
                connection.execute(_DEPOSITS_SUM, [user_id, "deposit", occurred_at, occurred_at]),
            ]
        else:
            params = [
                param
                for event_type in _TYPES
                for param in (user_id, event_type, occurred_at, occurred_at, *anchor)
            ]
            asked = [connection.execute(_LAST_TRANSACTIONS, params)]
        pipeline.sync()
        user.fetchone()
        new = inserted.fetchone() is not None
        for cursor in asked:
            cursor.fetchall()
        connection.execute("COMMIT")
    return new


def application(environ, start_response):
    if environ["PATH_INFO"] == "/healthz/live":
        return _answer(start_response, "200 OK", {"status": "ok"})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length), parse_float=Decimal)
    new = _store(
        user_id=body["user_id"],
        event_type=body["type"],
        amount=Decimal(body["amount"]),
        t=body["t"],
    )
    if not new:
        return _answer(start_response, "400 Bad Request", {"error": "not_new"})
    return _answer(
        start_response, "200 OK", {"alert": False, "alert_codes": [], "user_id": body["user_id"]}
    )


def _answer(start_response, status: str, body: dict) -> list[bytes]:
    content = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(content)))]
    start_response(status, headers)
    return [content]
