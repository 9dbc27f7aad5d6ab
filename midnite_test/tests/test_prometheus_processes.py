"""The scrape adds up every process: two web servers and the worker, sharing one directory.

Two granian servers (one worker process each, so the requests split between them exactly)
and `make run`'s worker (`manage.py run_embedded_worker`: the relay and the notifications)
run on the test database with one PROMETHEUS_MULTIPROC_DIR. Transactions and product events
are posted to both servers in turn; once the worker has shipped and sent everything, either
server's scrape counts every request, every alert, every decision and every shipped message,
whichever process did the work.
"""

import os
import subprocess
import sys
import types
import urllib.request
from collections.abc import Iterator
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest
from django.db.models import Count
from prometheus_client.parser import text_string_to_metric_families

from events.models import Event
from midnite_test.tests.http_client import post_json, serving
from midnite_test.tests.ports import free_port
from midnite_test.tests.waiting import wait_until
from notifications.models import Decision
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.models import OutboxBatch, OutboxMessage, WorkerHeartbeat
from outbox.selectors import outbox_backlog
from users.services import demo_users_ensure

ROOT = Path(__file__).resolve().parents[2]
# Processes starting on a shared machine: generous, and only waited on before the test acts.
START_SECONDS = 90
# The worker relays within OUTBOX_RELAY_MAX_SECONDS of a wake-up; sending follows.
SETTLE_SECONDS = 60
TRANSACTIONS = 10
SIGNUPS = ("u_ada", "u_grace")


@pytest.fixture
def services(live_database_url, tmp_path_factory) -> Iterator[tuple[int, int]]:
    """Two web servers and the worker on the test database, one metrics directory; their ports."""
    demo_users_ensure()
    var = tmp_path_factory.mktemp("prom")  # short: the worker's socket path is at most 103 bytes
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "CLICKHOUSE_URL")},
        "DATABASE_URL": live_database_url,
        "VAR_DIR": str(var),
        "PROMETHEUS_MULTIPROC_DIR": str(var / "prometheus"),
        "ALLOW_ANONYMOUS": "true",
        "NOTIFICATION_CONSOLE_DELIVERY": "true",
        "OUTBOX_RELAY_MAX_SECONDS": "2",
        "NOTIFICATION_SEND_MAX_SECONDS": "2",
    }
    subprocess.run(
        [sys.executable, "manage.py", "clickhouse_migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    ports = (free_port(), free_port())
    processes = [_granian(port, env) for port in ports]
    processes.append(
        subprocess.Popen(
            [sys.executable, "manage.py", "run_embedded_worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        assert wait_until(
            lambda: _running(processes)
            and all(serving(port) for port in ports)
            and _worker_reported(),
            seconds=START_SECONDS,
        ), "the servers or the worker never became ready"
        yield ports
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _granian(port: int, env: dict) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "granian"),
        *("--interface=wsgi", "--host=127.0.0.1", f"--port={port}"),
        *("--workers=1", "--blocking-threads=1", "--log-level=warning"),
        "midnite_test.wsgi:application",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _running(processes) -> bool:
    assert all(process.poll() is None for process in processes), "a process exited"
    return True


def _worker_reported() -> bool:
    return WorkerHeartbeat.objects.exists()


def _scrape(port: int) -> dict[tuple, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/prometheus/metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple, float], name: str, **labels) -> float:
    return samples.get((name, *sorted(labels.items())), 0.0)


def _decisions() -> dict[tuple, int]:
    """What the database holds: decisions by rule and status."""
    counts: dict[tuple, int] = {}
    for rule, status in Decision.objects.values_list("notification__rule", "status"):
        counts[(rule, status)] = counts.get((rule, status), 0) + 1
    return counts


def _shipped() -> dict:
    """What the database holds: the relay's shipped batches by stream (its messages, and the
    event table read as a log), and what they carry once everything is shipped: every event
    and every analytics message (the users made)."""
    batches = OutboxBatch.objects.filter(
        shipped_at__isnull=False, consumer__startswith=CONSUMER_ANALYTICS
    )
    return {
        "batches": dict(batches.values_list("consumer").annotate(n=Count("id"))),
        "messages": Event.objects.count()
        + OutboxMessage.objects.filter(consumer=CONSUMER_ANALYTICS).count(),
    }


def _settled() -> bool:
    """Everything the worker owes is done: analytics shipped, every welcome email sent."""
    sent = Decision.objects.filter(notification__rule="WELCOME_EMAIL", status="sent").count()
    unshipped = sum(
        row.unshipped for row in outbox_backlog() if row.consumer.startswith(CONSUMER_ANALYTICS)
    )
    return sent == len(SIGNUPS) and unshipped == 0


def _counted(samples: dict[tuple, float]) -> dict:
    """What the scrape says of the work, in the shape of what the database says."""
    by_name: dict[str, dict] = {}
    for (name, *labels), value in samples.items():
        by_name.setdefault(name, {})[tuple(v for _, v in labels)] = value
    batches = by_name.get("midnite_outbox_relay_batch_messages_count", {})
    messages = by_name.get("midnite_outbox_relay_batch_messages_sum", {})
    decisions = by_name.get("midnite_notification_decisions_total", {})
    return {
        "decisions": {labels: int(n) for labels, n in decisions.items()},
        "shipped": {
            "batches": {stream: int(n) for (stream,), n in batches.items()},
            "messages": int(sum(messages.values())),
        },
    }


@pytest.mark.django_db(transaction=True)
def test_the_scrape_counts_the_requests_and_work_of_both_servers_and_the_worker(services):
    ports = services

    for t in range(1, TRANSACTIONS + 1):
        body = {"type": "withdraw", "amount": "150.00", "user_id": 1, "t": t}
        post_json(ports[t % 2], "/event", body)
    for index, user_id in enumerate(SIGNUPS):
        signup = {
            "user_id": user_id,
            "event_type": "signup_completed",
            "event_timestamp": "2025-10-30T09:00:00Z",
            "user_traits": {"email": f"{user_id}@example.com", "marketing_opt_in": True},
        }
        assert post_json(ports[index], "/api/v1/events", [signup])["accepted"] == 1
    assert wait_until(_settled, seconds=SETTLE_SECONDS), "the worker did not finish"
    truth = {"decisions": _decisions(), "shipped": _shipped()}
    # The worker records a batch or a decision just after its commit: poll until it has.
    # (Then compared below, where a difference shows.)
    wait_until(lambda: _counted(_scrape(ports[0])) == truth, seconds=SETTLE_SECONDS)

    scrapes = [_scrape(port) for port in ports]
    requests = "midnite_http_request_duration_seconds_count"
    for samples in scrapes:
        # Each server answered half of the transactions and one signup: the sums are both's.
        assert _value(samples, requests, route="event", method="POST", status="2xx") == 10
        assert _value(samples, requests, route="api/v1/events", method="POST", status="2xx") == 2
        # Each of the ten raised 1100 (over 100); from the third, 30 (three withdraws in a row).
        assert _value(samples, "midnite_alerts_raised_total", code="1100") == TRANSACTIONS
        assert _value(samples, "midnite_alerts_raised_total", code="30") == TRANSACTIONS - 2
        # The worker's work, counted in its own process, matches the database exactly.
        assert _counted(samples) == truth
        assert _value(samples, "midnite_outbox_backlog_messages", consumer=CONSUMER_ANALYTICS) == 0
    assert truth["decisions"][("WELCOME_EMAIL", "sent")] == len(SIGNUPS)
    # Each transaction and signup, and six users made: the four demo users and two signups.
    assert truth["shipped"]["messages"] == TRANSACTIONS + len(SIGNUPS) + 6


def test_make_run_gives_its_processes_an_emptied_metrics_directory_under_var(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    stale = tmp_path / "prometheus" / "counter_host-123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"counts of a previous run")
    loader = SourceFileLoader("run_embedded", str(ROOT / "bin" / "run-embedded"))
    run_embedded = types.ModuleType(loader.name)
    loader.exec_module(run_embedded)

    run_embedded._prometheus_directory_empty()

    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus")
    assert list((tmp_path / "prometheus").iterdir()) == []


def test_an_empty_metrics_directory_setting_counts_in_the_process_and_writes_no_file(tmp_path):
    count_and_scrape = (
        "import django; django.setup()\n"
        "from midnite_test.prometheus import ALERTS_RAISED, scrape_registry, scrape_text\n"
        "ALERTS_RAISED.labels('30').inc()\n"
        "print(scrape_text(scrape_registry()).decode())\n"
    )
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": "",
        "DJANGO_SETTINGS_MODULE": "midnite_test.settings",
        "PYTHONPATH": str(ROOT),
    }

    done = subprocess.run(
        [sys.executable, "-c", count_and_scrape],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    assert 'midnite_alerts_raised_total{code="30"} 1.0' in done.stdout.splitlines()
    assert list(tmp_path.iterdir()) == []
