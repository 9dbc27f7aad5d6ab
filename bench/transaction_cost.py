#!/usr/bin/env python
"""Where a POST /event spends its time: per-transaction cost of each layer, in-process.

Runs against the database `bench/event_throughput.py` seeded (run `make bench` first), from a
single client on a warm process, and prints the best of three rounds for: the whole request
through Django's test client, `transaction_ingest` alone, the same SQL statements sent with
raw psycopg (a floor), the bare ceiling view, and the DRF serializers.

    .venv/bin/python bench/transaction_cost.py
"""

import os
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/midnite_bench"
ROUNDS, CALLS = 3, 300
USER_ID = 1001  # a user with 100,000 events of history

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.update(DJANGO_SETTINGS_MODULE="bench.settings", DATABASE_URL=DATABASE_URL)


def main() -> None:
    import django

    django.setup()
    from django.test import Client

    from alerts.serializers import TransactionInputSerializer, TransactionOutputSerializer
    from alerts.services import transaction_ingest

    client = Client()
    next_t = iter(range(_latest_t() + 1, 2**40))
    body = {"type": "deposit", "amount": "10.00", "user_id": USER_ID}

    def request(i: int) -> None:
        kind = "deposit" if i % 2 else "withdraw"
        payload = {**body, "type": kind, "t": next(next_t)}
        response = client.post("/event", payload, content_type="application/json")
        assert response.status_code == 200, response.content

    def ingest(i: int) -> None:
        kind = "deposit" if i % 2 else "withdraw"
        transaction_ingest(user_id=USER_ID, event_type=kind, amount=Decimal("10"), t=next(next_t))

    with psycopg.connect(DATABASE_URL, prepare_threshold=1) as connection:
        _report("whole request (test client)", request)
        _report("transaction_ingest", ingest)
        _report("same SQL from raw psycopg", lambda i: _raw_transaction(connection, next(next_t)))
    _report(
        "ceiling view (test client)",
        lambda i: client.post("/bench/ceiling", {"user_id": 1}, content_type="application/json"),
    )
    valid = {**body, "t": 1}
    _report(
        "input serializer",
        lambda i: TransactionInputSerializer(data=valid).is_valid(raise_exception=True),
    )
    answer = {"alert": True, "alert_codes": [30], "user_id": 1}
    _report("output serializer", lambda i: TransactionOutputSerializer(answer).data)


def _raw_transaction(connection: psycopg.Connection, t: int) -> None:
    """Send the statements transaction_ingest sends for a deposit, with no Django."""
    with connection.transaction():
        execute = connection.execute
        execute("SELECT traits FROM events_user WHERE id = %s FOR UPDATE", [USER_ID]).fetchone()
        execute(
            "SELECT occurred_at FROM events_event WHERE user_id = %s"
            " AND event_type IN ('deposit', 'withdraw') ORDER BY occurred_at DESC LIMIT 1",
            [USER_ID],
        ).fetchone()
        execute(
            "INSERT INTO events_event (tenant_id, event_id, user_id, event_type, source,"
            " occurred_at, amount, properties, received_at) VALUES ('default', %s, %s,"
            " 'deposit', 'transactions', to_timestamp(%s), 10, '{}', now()) RETURNING id",
            [f"raw:{USER_ID}:{t}", USER_ID, t],
        ).fetchone()
        execute(
            "SELECT id, event_type, occurred_at, amount, properties FROM events_event"
            " WHERE user_id = %s AND event_type = 'deposit' AND occurred_at <= to_timestamp(%s)"
            " ORDER BY occurred_at DESC, id DESC LIMIT 3",
            [USER_ID, t],
        ).fetchall()
        execute(
            "SELECT sum(amount) FROM events_event WHERE user_id = %s AND event_type = 'deposit'"
            " AND occurred_at BETWEEN to_timestamp(%s) - interval '30 s' AND to_timestamp(%s)",
            [USER_ID, t, t],
        ).fetchone()


def _latest_t() -> int:
    try:
        with psycopg.connect(DATABASE_URL) as connection:
            row = connection.execute(
                "SELECT extract(epoch FROM max(occurred_at)) FROM events_event"
            )
            return int(row.fetchone()[0])
    except psycopg.OperationalError:
        sys.exit("No benchmark database: run `make bench` (bench/event_throughput.py) first.")


def _report(label: str, call: Callable[[int], object]) -> None:
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for i in range(CALLS):
            call(i)
        rounds.append((time.perf_counter() - started) / CALLS * 1000)
    print(f"{label:32} {min(rounds):7.3f} ms")


if __name__ == "__main__":
    main()
