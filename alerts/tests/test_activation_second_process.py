"""An activation is seen by another process, a real server, with no restart: within 2 s of it,
POST /event answers under the new version; activating the retired version brings the old
answers back."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from alerts.tests.api.test_event_rules_versions import LOWER_THRESHOLD
from midnite_test.tests.http_client import post_json, serving
from midnite_test.tests.waiting import wait_until
from rule_sets.models import KIND_ALERTS
from rule_sets.services import rule_set_version_activate
from users.services import demo_users_ensure

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
# The bound on how soon every process evaluates under a new version.
SEEN_WITHIN_SECONDS = 2
# A server starting on a shared machine: generous, and only waited on before the test's clock.
START_SECONDS = 60


@pytest.fixture
def server(live_database_url) -> Iterator[int]:
    """granian serving the project (one worker process, as production runs it) on the test
    database; yields its port."""
    demo_users_ensure()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": live_database_url, "ALLOW_ANONYMOUS": "true"}
    command = [
        str(Path(sys.executable).parent / "granian"),
        "--interface=wsgi",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        "--blocking-threads=1",
        "--log-level=warning",
        "midnite_test.wsgi:application",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_ready(process, port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_ready(process: subprocess.Popen, port: int) -> None:
    if not wait_until(lambda: _live(process, port), seconds=START_SECONDS):
        pytest.fail(f"the server did not answer within {START_SECONDS} s")


def _live(process: subprocess.Popen, port: int) -> bool:
    assert process.poll() is None, "the server exited"
    return serving(port)


_t = count(1)


def _withdraw_60(port: int) -> list[int]:
    """POST a withdraw of 60 for user 1 to the server; return its alert codes."""
    body = {"type": "withdraw", "amount": "60", "user_id": 1, "t": next(_t)}
    return post_json(port, "/event", body)["alert_codes"]


def _answers_until(port: int, wanted: list[int]) -> list[list[int]]:
    """POST withdraws until one answers `wanted` or SEEN_WITHIN_SECONDS pass; return them all."""
    deadline = time.monotonic() + SEEN_WITHIN_SECONDS
    answers = [_withdraw_60(port)]
    while answers[-1] != wanted and time.monotonic() < deadline:
        answers.append(_withdraw_60(port))
    return answers


def test_a_server_answers_under_a_new_version_within_2_s_and_under_the_old_after_rollback(
    server, active_rules
):
    # Three withdraws in a row raise 30: the answers compared hold 1100 alone from the fourth.
    assert [_withdraw_60(server) for _ in range(2)] == [[], []]
    assert _withdraw_60(server) == [30]

    active_rules(KIND_ALERTS, LOWER_THRESHOLD)
    after_activation = _answers_until(server, [30, 1100])

    rule_set_version_activate(kind=KIND_ALERTS, version=1, activated_by="tests")
    after_rollback = _answers_until(server, [30])

    assert after_activation[-1] == [30, 1100]
    assert after_rollback[-1] == [30]
