"""An activation is seen by a running worker, another process, with no restart: the first batch
it evaluates after the activation is decided under the new version and records it; after a
rollback, under the old one again."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from notifications.models import Notification
from notifications.tests.test_evaluation import WELCOME_ON_PROFILE_UPDATE
from rule_sets.models import KIND_NOTIFICATIONS
from rule_sets.services import rule_set_version_activate

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(live_database_url) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": live_database_url}
    command = [sys.executable, "-m", "notifications.tests.evaluator_child"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        process.stdin.close()
        process.wait(timeout=60)


def _evaluated_by(worker: subprocess.Popen, event_type: str, at: str) -> list[tuple[str, int]]:
    """Store a product event of u_1 through the API, have `worker` evaluate it; return the
    (notification type, rules version) of the notifications it decided."""
    event = {"user_id": "u_1", "event_type": event_type, "event_timestamp": at}
    response = Client().post("/api/v1/events", [event], content_type="application/json")
    assert response.status_code == 202, response.content
    worker.stdin.write("evaluate\n")
    worker.stdin.flush()
    assert worker.stdout.readline() == "DONE\n"
    return list(
        Notification.objects.filter(trigger_event__occurred_at=at).values_list(
            "notification_type", "rules_version"
        )
    )


def test_a_running_worker_decides_the_next_batch_under_a_new_version_and_after_rollback(
    worker, active_rules, settings
):
    settings.ALLOW_ANONYMOUS = True
    assert _evaluated_by(worker, "profile_updated", "2025-10-31T10:00:00Z") == []

    version = active_rules(KIND_NOTIFICATIONS, WELCOME_ON_PROFILE_UPDATE)
    after_activation = _evaluated_by(worker, "profile_updated", "2025-10-31T11:00:00Z")
    rule_set_version_activate(kind=KIND_NOTIFICATIONS, version=1, activated_by="tests")
    after_rollback = _evaluated_by(worker, "profile_updated", "2025-10-31T12:00:00Z")

    assert after_activation == [("WELCOME_EMAIL", version)]
    assert after_rollback == []
