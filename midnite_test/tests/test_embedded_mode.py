"""`make run`'s processes, for real: granian and one worker, no server but PostgreSQL's absence.

Runs bin/run-embedded on the embedded defaults (SQLite, chDB, the filesystem broker) in a
directory of its own, posts a transaction and a user, and waits for the worker to ship them
to ClickHouse; posts a product event and waits for its notification to be sent; then stops it
with SIGTERM, as Ctrl-C or a supervisor would.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Messages in the range of a shipped batch (outbox.models.OutboxBatch).
SHIPPED = """
    SELECT count(*) FROM outbox_outboxmessage AS m
    JOIN outbox_outboxbatch AS b ON b.consumer = m.consumer
        AND (m.xid, m.id) >= (b.first_xid, b.first_id) AND (m.xid, m.id) <= (b.last_xid, b.last_id)
    WHERE b.shipped_at IS NOT NULL AND m.consumer = 'analytics'
"""


@pytest.fixture
def embedded(tmp_path):
    """A set-up embedded service: its environment, port and SQLite file."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CLICKHOUSE_URL")},
        "VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "ALLOW_ANONYMOUS": "true",  # as `make run` sets it
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "BIN": str(Path(sys.executable).parent),
    }
    for command in ("migrate", "create_test_users", "clickhouse_migrate"):
        subprocess.run(
            [sys.executable, "manage.py", command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    return env, port, tmp_path / "midnite.sqlite3"


def _post(port: int, path: str, body: dict | list) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_until(condition, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _shipped(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(SHIPPED).fetchone()[0]


def _welcome_status(port: int) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/audit/u_ada?format=json") as response:
        history = json.loads(response.read())["notification_history"]
    return next((n["status"] for n in history if n["notification_type"] == "WELCOME_EMAIL"), None)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_make_runs_processes_ship_a_transaction_and_a_user_within_2_seconds(embedded):
    env, port, database = embedded
    service = subprocess.Popen(
        ["bin/run-embedded"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        # Ready means the web answers and the worker has reported on ClickHouse.
        assert _wait_until(lambda: _ready(port), seconds=60), "the service never became ready"
        assert _wait_until(lambda: _shipped(database) == 4, seconds=10)  # the demo users

        _post(port, "/event", {"type": "withdraw", "amount": "150.00", "user_id": 1, "t": 20})
        _post(port, "/users", {"email": "ada@example.com", "first_name": "A", "last_name": "L"})
        answered = time.monotonic()

        # The event, its alert 1100 and the user: shipped only after ClickHouse took them.
        assert _wait_until(lambda: _shipped(database) == 7, seconds=2)
        assert time.monotonic() - answered < 2

        # A product event runs the whole notification flow: decided, then sent by email.
        signup = {
            "user_id": "u_ada",
            "event_type": "signup_completed",
            "event_timestamp": "2025-10-30T09:00:00Z",
            "user_traits": {"email": "ada@example.com", "marketing_opt_in": True},
        }
        assert _post(port, "/api/v1/events", [signup])["accepted"] == 1
        assert _wait_until(lambda: _welcome_status(port) == "sent", seconds=10)
    finally:
        service.send_signal(signal.SIGTERM)
        _, stderr = service.communicate(timeout=30)

    assert service.returncode == 0, stderr.decode()[-2000:]
    query = [sys.executable, "manage.py", "clickhouse_query", "SELECT count() FROM event_log"]
    counted = subprocess.run(query, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    # The 7 above, the product event and its new user.
    assert counted.stdout.split() == ["count()", "9"]
