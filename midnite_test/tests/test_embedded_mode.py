"""`make run`'s processes, for real: granian and the embedded worker, no server at all.

Runs bin/run-embedded on the embedded defaults (SQLite, chDB, no broker) in a directory of its
own, as the leader of a process group as a terminal would: posts a transaction and a user and
waits for the worker to ship them to ClickHouse; posts a product event and waits for its
notification to be sent; kills the worker and keeps posting while it is started again; then
stops the whole group with SIGTERM (a supervisor) or SIGINT (Ctrl-C).
"""

import fcntl
import json
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from midnite_test.tests.http_client import post_json
from midnite_test.tests.ports import free_port
from midnite_test.tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
# Rows ClickHouse took: the analytics messages (the users) and the events (each with its alerts)
# of the analytics batches marked shipped, which happens only once ClickHouse took them.
SHIPPED = """
    SELECT
        (SELECT count(*) FROM outbox_outboxmessage AS m JOIN outbox_outboxbatch AS b
            ON b.consumer = m.consumer AND (m.xid, m.id) BETWEEN (b.first_xid, b.first_id)
            AND (b.last_xid, b.last_id)
         WHERE b.shipped_at IS NOT NULL AND m.consumer = 'analytics')
      + (SELECT count(*) + (SELECT count(*) FROM events_alert AS a WHERE a.event_id IN (
            SELECT e.id FROM events_event AS e JOIN outbox_outboxbatch AS b
                ON (e.xid, e.id) BETWEEN (b.first_xid, b.first_id) AND (b.last_xid, b.last_id)
            WHERE b.shipped_at IS NOT NULL AND b.consumer = 'analytics:events'))
         FROM events_event AS e JOIN outbox_outboxbatch AS b
            ON (e.xid, e.id) BETWEEN (b.first_xid, b.first_id) AND (b.last_xid, b.last_id)
         WHERE b.shipped_at IS NOT NULL AND b.consumer = 'analytics:events')
"""


@pytest.fixture
def embedded(tmp_path):
    """A set-up embedded service: its environment, port and SQLite file."""
    port = free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "CLICKHOUSE_URL", "CELERY_BROKER_URL")
        },
        "VAR_DIR": str(tmp_path),
        "ALLOW_ANONYMOUS": "true",  # as `make run` sets it
        "NOTIFICATION_CONSOLE_DELIVERY": "true",  # and this
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


def _shipped(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(SHIPPED).fetchone()[0]


def _welcome_status(port: int) -> str | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/audit/u_ada?format=json") as response:
        history = json.loads(response.read())["notification_history"]
    return next((n["status"] for n in history if n["notification_type"] == "WELCOME_EMAIL"), None)


def _ready(port: int) -> bool:
    """The web tier serves (/healthz/ready) and the worker has reported (/healthz/status)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=2) as r:
            serves = r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/status", timeout=5) as r:
            return serves and json.loads(r.read())["worker_heartbeat"] is not None
    except OSError:
        return False


def _start(env: dict, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """`make run`'s last step, leading a process group of its own as a terminal's job does."""
    return subprocess.Popen(
        [sys.executable, "bin/run-embedded"],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (Linux)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            found |= {int(child)} | _descendants(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _command(pid: int) -> list[str]:
    """A process's command line, empty once it has gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().split("\0")[:-1]
    except FileNotFoundError:
        return []


def _worker_pid(service: subprocess.Popen) -> int | None:
    for pid in _descendants(service.pid):
        if "run_embedded_worker" in _command(pid):
            return pid
    return None


def _stop(service: subprocess.Popen, signum: signal.Signals) -> str:
    """Send `signum` to the service's process group, as a terminal or a supervisor would.

    Asserts that everything stopped cleanly within 10 s; returns what the service wrote.
    """
    processes = _descendants(service.pid)
    sent = time.monotonic()
    os.killpg(service.pid, signum)
    _, stderr = service.communicate(timeout=30)
    took = time.monotonic() - sent
    stderr = stderr.decode()
    assert service.returncode == 0, stderr[-3000:]
    assert took < 10, f"stopping took {took:.1f} s"
    assert not [pid for pid in processes if _alive(pid)], "a process outlived the service"
    for unclean in ("refused to gracefully stop", "cold shutdown", "Killing", "killing it"):
        assert unclean not in stderr
    return stderr


def test_make_runs_processes_ship_a_transaction_and_a_user_within_2_seconds(embedded):
    env, port, database = embedded
    service = _start(env)
    try:
        assert wait_until(lambda: _ready(port), seconds=60), "the service never became ready"
        assert wait_until(lambda: _shipped(database) == 4, seconds=10)  # the demo users

        post_json(port, "/event", {"type": "withdraw", "amount": "150.00", "user_id": 1, "t": 20})
        post_json(port, "/users", {"email": "ada@example.com", "first_name": "A", "last_name": "L"})
        answered = time.monotonic()

        # The event, its alert 1100 and the user: shipped only after ClickHouse took them.
        assert wait_until(lambda: _shipped(database) == 7, seconds=2)
        assert time.monotonic() - answered < 2

        # A product event runs the whole notification flow: decided, then sent by email.
        signup = {
            "user_id": "u_ada",
            "event_type": "signup_completed",
            "event_timestamp": "2025-10-30T09:00:00Z",
            "user_traits": {"email": "ada@example.com", "marketing_opt_in": True},
        }
        assert post_json(port, "/api/v1/events", [signup])["accepted"] == 1
        assert wait_until(lambda: _welcome_status(port) == "sent", seconds=10)
        assert wait_until(lambda: _shipped(database) == 9, seconds=5)

        # The worker holds the embedded store, so it answers an operator's query itself.
        held = _clickhouse_count(env)
    finally:
        stderr = _stop(service, signal.SIGTERM)

    assert held.returncode == 0, held.stderr + stderr[-2000:]
    assert "Asking the worker to run the query." in held.stderr
    # The 7 above, the product event and its new user; and the same once the store is free.
    assert held.stdout.split() == ["count()", "9"]
    assert _clickhouse_count(env).stdout.split() == ["count()", "9"]


def test_make_run_says_once_that_it_is_ready_when_requests_are_answered(embedded, tmp_path):
    """granian says "Listening" seconds before Django answers: the README's first curl waits
    for this line instead."""
    env, port, _ = embedded
    printed = tmp_path / "stdout"
    with printed.open("wb") as stdout:
        service = _start(env, stdout=stdout)
    try:
        assert wait_until(lambda: "Ready:" in printed.read_text(), seconds=60), "never ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=2) as r:
            answered = r.status
    finally:
        _stop(service, signal.SIGTERM)

    assert answered == 200
    ready_lines = [line for line in printed.read_text().splitlines() if "Ready:" in line]
    assert ready_lines == [f"Ready: http://127.0.0.1:{port} (console: /console/)"]


def test_make_run_with_a_broker_runs_celerys_worker_in_place_of_the_embedded_one(embedded):
    """A .env copied from env.example sets CELERY_BROKER_URL: `make run` is then that
    deployment, and its worker Celery's, not an embedded worker that refuses to start."""
    env, port, database = embedded
    broker_url = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/15"
    queue = redis.Redis.from_url(broker_url)
    queue.delete("celery", *queue.keys("wakeup-pending:*"))
    service = _start({**env, "CELERY_BROKER_URL": broker_url})
    try:
        assert wait_until(lambda: _ready(port), seconds=60), "the service never became ready"
        assert wait_until(lambda: _shipped(database) == 4, seconds=10)  # the demo users
        post_json(port, "/event", {"type": "withdraw", "amount": "150.00", "user_id": 1, "t": 20})
        assert wait_until(lambda: _shipped(database) == 6, seconds=10)  # the event, its alert
        commands = [_command(pid) for pid in _descendants(service.pid)]
        # The worker holds the embedded store, so it answers an operator's query itself.
        held = _clickhouse_count({**env, "CELERY_BROKER_URL": broker_url})
        # A second `make run` on this var/ is refused before its set-up, though this one's
        # worker is Celery's, which listens on no socket in var/ (before: it migrated first).
        second = subprocess.run(
            [sys.executable, "bin/run-embedded", "--check"],
            cwd=ROOT,
            env={**env, "CELERY_BROKER_URL": broker_url, "PORT": str(free_port())},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stderr = _stop(service, signal.SIGTERM)

    assert held.returncode == 0, held.stderr + stderr[-2000:]
    assert held.stdout.split() == ["count()", "6"]
    assert second.returncode == 1 and "another `make run` uses" in second.stderr, second.stderr

    assert [c for c in commands if c[1:5] == ["-m", "celery", "--app", "midnite_test"]], commands
    assert "starting it again" not in stderr
    # One process holds the embedded store: a task in a forked child could not open it.
    assert "ClickHouseStoreHeld" not in stderr


def _clickhouse_count(env: dict) -> subprocess.CompletedProcess:
    query = [sys.executable, "manage.py", "clickhouse_query", "SELECT count() FROM event_log"]
    return subprocess.run(query, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_killed_worker_is_started_again_while_the_web_tier_serves_and_ctrl_c_stops_all(
    embedded,
):
    env, port, database = embedded
    service = _start(env)
    try:
        assert wait_until(lambda: _ready(port), seconds=60), "the service never became ready"
        assert wait_until(lambda: _shipped(database) == 4, seconds=10)  # the demo users
        killed = _worker_pid(service)
        assert killed is not None

        os.kill(killed, signal.SIGKILL)
        # The web tier answers while no worker runs; the outbox keeps what the worker owes.
        answer = post_json(
            port, "/event", {"type": "deposit", "amount": "5.00", "user_id": 2, "t": 1}
        )
        assert answer == {"alert": False, "alert_codes": [], "user_id": 2}

        assert wait_until(lambda: _worker_pid(service) not in (None, killed), seconds=10)
        assert wait_until(lambda: _shipped(database) == 5, seconds=10)
        post_json(port, "/event", {"type": "deposit", "amount": "6.00", "user_id": 2, "t": 2})
        assert wait_until(lambda: _shipped(database) == 6, seconds=5)
    finally:
        stderr = _stop(service, signal.SIGINT)

    assert "the worker exited (signal SIGKILL); starting it again" in stderr


def test_ctrl_c_on_a_terminal_stops_make_run_with_status_0(embedded):
    """As a person runs it: `make run` on a terminal, then Ctrl-C typed on that terminal.

    The terminal sends SIGINT to its foreground job; make would die of it (status 130)
    however cleanly the service stopped, so the service takes the foreground while it runs.
    """
    env, port, _ = embedded
    primary, secondary = pty.openpty()
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(secondary)
    screen = bytearray()
    reader = threading.Thread(target=_read_all, args=(primary, screen), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: _ready(port), seconds=90), "make run never became ready"
        typed = time.monotonic()
        os.write(primary, b"\x03")
        make.wait(timeout=30)
        took = time.monotonic() - typed
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    reader.join(timeout=5)
    os.close(primary)
    shown = screen.decode(errors="replace")
    assert make.returncode == 0, shown[-3000:]
    assert took < 10, f"stopping took {took:.1f} s"
    for unclean in ("Interrupt", "Error", "refused to gracefully stop", "Killing"):
        assert unclean not in shown


def _read_all(primary: int, screen: bytearray) -> None:
    """Keep reading the terminal, so the programs writing to it never block."""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the last program on the terminal closed it
            return
        if not chunk:
            return
        screen += chunk
