"""The floor POST /event is measured against: a bare WSGI app sending the same statements.

No Django: parse the body, then in one psycopg pipeline BEGIN, lock the user, the conditional
insert of the event and its outbox rows, and the default rules' history questions for its type
(alerts.pipeline and alerts.planned_history, copied as text so nothing of the
service is imported), one sync, then COMMIT. It evaluates no rule and writes no alert. Serve it
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
        WHERE COALESCE(GREATEST(
            (SELECT max(occurred_at) FROM events_event WHERE user_id = %s AND event_type = %s),
            (SELECT max(occurred_at) FROM events_event WHERE user_id = %s AND event_type = %s)
        ), '-infinity') < %s
        ON CONFLICT (tenant_id, event_id) DO NOTHING
        RETURNING id
    ), published AS (
        INSERT INTO outbox_outboxmessage
            (consumer, topic, subject_id, created_at, attempts, last_error)
        SELECT consumer, %s, new.id, %s, 0, '' FROM new CROSS JOIN unnest(%s::text[]) AS consumer
    )
    SELECT id FROM new
"""
_ANCHOR_ID = "(SELECT id FROM events_event WHERE tenant_id = %s AND event_id = %s)"
_LAST = (
    "SELECT id, event_type, occurred_at, amount, properties FROM events_event "
    'WHERE user_id = %s AND ("events_event"."event_type" IN ({types})) '
    f"AND occurred_at <= %s AND (occurred_at < %s OR id <= {_ANCHOR_ID}) "
    "ORDER BY occurred_at DESC, id DESC LIMIT 3"
)
_DEPOSITS_SUM = (
    "SELECT SUM(amount) FROM events_event "
    'WHERE user_id = %s AND ("events_event"."event_type" IN (%s)) '
    "AND occurred_at BETWEEN %s AND %s"
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
            last = _LAST.format(types="%s")
            asked = [
                connection.execute(last, [user_id, "deposit", occurred_at, occurred_at, *anchor]),
                connection.execute(_DEPOSITS_SUM, [user_id, "deposit", occurred_at, occurred_at]),
            ]
        else:
            last = _LAST.format(types="%s, %s")
            params = [user_id, *_TYPES, occurred_at, occurred_at, *anchor]
            asked = [connection.execute(last, params)]
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
