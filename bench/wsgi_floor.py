"""The floor POST /event is measured against: a bare WSGI app doing the same writes.

No Django: parse the body, then in one psycopg pipeline BEGIN, lock the user and read the
active version of the alert rules (the service's statement), price sorts out for the
transaction (so the stream is read on the user's own index, alerts.stream), the conditional
insert of the
event, and the default rules' history questions for its type (alerts.pipeline and
alerts.planned_history, copied as text so nothing of the service is imported), one sync; then
the default rules (config/alert_rules.yml) decided in a few lines of plain Python from the
answers, and in the second round trip the alerts (as `transaction_alerts_queue` writes them,
under the version read) with the COMMIT. So it sends the statements the service sends and
writes what it writes: the event and its alerts, no outbox row (the consumers read the event
table, issue 20), and answers with the same codes; what it leaves out is the framework:
Django, the rule engine, serializers, metrics and logs. Serve it with
`bench/event_throughput.py`, which passes DATABASE_URL; never served otherwise.
"""

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

# As alerts.pipeline's: lock the user and read the active version of the alert rules.
_USER_LOCK = """
    SELECT u.traits, active.version, active.sha256
    FROM events_user u LEFT JOIN (
        SELECT version, sha256 FROM rule_sets_rulesetversion
        WHERE kind = %s AND status = 'active'
    ) AS active ON true
    WHERE u.id = %s FOR NO KEY UPDATE OF u
"""
# As midnite_test.index_order's.
_SORTS_PRICED_OUT = (
    "SELECT set_config('enable_sort', 'off', true),"
    " set_config('enable_incremental_sort', 'off', true)"
)
_EVENT_INSERT = """
    INSERT INTO events_event
        (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, received_at)
    SELECT %s, %s, %s, %s, %s, %s, %s, '{}', '{}', %s
    WHERE COALESCE(GREATEST(LATEST_OF_TYPE, LATEST_OF_TYPE), '-infinity') < %s
    ON CONFLICT (tenant_id, event_id) DO NOTHING
    RETURNING id
"""
_STREAM = "tenant_id = 'default' AND source = 'transactions'"
_EVENT_INSERT = _EVENT_INSERT.replace(
    "LATEST_OF_TYPE",
    f"(SELECT occurred_at FROM events_event WHERE user_id = %s AND {_STREAM}"
    " AND event_type = %s ORDER BY occurred_at DESC, id DESC LIMIT 1)",
)
_NEWEST = "ORDER BY occurred_at DESC, id DESC LIMIT 3"
# One SELECT per type, as alerts.planned_history sends them.
_LAST_OF_TYPE = (
    "(SELECT id, event_type, occurred_at, amount, properties FROM events_event "
    f"WHERE user_id = %s AND {_STREAM} AND event_type = %s AND TRUE "
    f"AND occurred_at <= %s {_NEWEST})"
)
_LAST_DEPOSITS = _LAST_OF_TYPE
_LAST_TRANSACTIONS = (
    f"SELECT * FROM ({_LAST_OF_TYPE} UNION ALL {_LAST_OF_TYPE}) AS latest {_NEWEST}"
)
_DEPOSITS_SUM = (
    "SELECT SUM(amount) FROM ((SELECT id, amount FROM events_event "
    f"WHERE user_id = %s AND {_STREAM} AND event_type = %s AND TRUE "
    "AND occurred_at BETWEEN %s AND %s ORDER BY occurred_at, id)) AS matching"
)
_TYPES = ["deposit", "withdraw"]
_ALERTS_INSERT = """
    INSERT INTO events_alert (event_id, code, rules_version, created_at)
    SELECT %s, code, %s, %s FROM unnest(%s::int[]) AS code
"""
# The version the alerts name while none is active yet: the service imports the default rules
# as version 1 at its first event, which may come after the floor's first.
_FIRST_VERSION = 1
_WINDOW = timedelta(seconds=30)

_local = threading.local()


def _connection() -> psycopg.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None or connection.closed:
        connection = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=5
        )
        _local.connection = connection
    return connection


def _store(*, user_id: int, event_type: str, amount: Decimal, t: int) -> list[int] | None:
    """Run the transaction; return the alert codes raised, or None when the event was not new."""
    occurred_at = datetime.fromtimestamp(t, tz=UTC)
    now = datetime.now(tz=UTC)
    event_id = f"txn:{user_id}:{t}"
    connection = _connection()
    with connection.pipeline() as pipeline:
        connection.execute("BEGIN")
        user = connection.execute(_USER_LOCK, ["alerts", user_id])
        connection.execute(_SORTS_PRICED_OUT)
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
            ],
        )
        if event_type == "deposit":
            last = [user_id, "deposit", occurred_at]
            asked = [
                connection.execute(_LAST_DEPOSITS, last),
                connection.execute(
                    _DEPOSITS_SUM, [user_id, "deposit", occurred_at - _WINDOW, occurred_at]
                ),
            ]
        else:
            params = [
                param for event_type in _TYPES for param in (user_id, event_type, occurred_at)
            ]
            asked = [connection.execute(_LAST_TRANSACTIONS, params)]
        pipeline.sync()
        _traits, version, _sha256 = user.fetchone()
        row = inserted.fetchone()
        answers = [cursor.fetchall() for cursor in asked]
        codes = None if row is None else _codes(event_type, amount, answers)
        if codes:
            _alerts_insert(
                connection, event_pk=row[0], codes=codes, version=version or _FIRST_VERSION
            )
        connection.execute("COMMIT")
    return codes


def _codes(event_type: str, amount: Decimal, answers: list[list[tuple]]) -> list[int]:
    """The default rules' codes, in their order, from the answers (newest row first)."""
    if event_type == "deposit":
        last_deposits, ((total,),) = answers
        amounts = [row[3] for row in last_deposits]
        rising = len(amounts) == 3 and amounts[2] < amounts[1] < amounts[0]
        return [code for code, raised in ((300, rising), (123, (total or 0) > 200)) if raised]
    (last_transactions,) = answers
    withdraws = len(last_transactions) == 3 and all(r[1] == "withdraw" for r in last_transactions)
    return [code for code, raised in ((1100, amount > 100), (30, withdraws)) if raised]


def _alerts_insert(
    connection: psycopg.Connection, *, event_pk: int, codes: list[int], version: int
) -> None:
    """Queue the alerts, as the service writes them; analytics reads them with their event."""
    connection.execute(_ALERTS_INSERT, [event_pk, version, datetime.now(tz=UTC), codes])


def application(environ, start_response):
    if environ["PATH_INFO"] == "/healthz/live":
        return _answer(start_response, "200 OK", {"status": "ok"})
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length), parse_float=Decimal)
    codes = _store(
        user_id=body["user_id"],
        event_type=body["type"],
        amount=Decimal(body["amount"]),
        t=body["t"],
    )
    if codes is None:
        return _answer(start_response, "400 Bad Request", {"error": "not_new"})
    answer = {"alert": bool(codes), "alert_codes": codes, "user_id": body["user_id"]}
    return _answer(start_response, "200 OK", answer)


def _answer(start_response, status: str, body: dict) -> list[bytes]:
    content = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(content)))]
    start_response(status, headers)
    return [content]
