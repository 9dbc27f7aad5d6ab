"""A relay killed between its ClickHouse insert and marking the batch loses and duplicates none."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from outbox.models import OutboxBatch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def child_env(tmp_path):
    """The environment of a relay process: this test's database, a ClickHouse store of its own."""
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    if connection.vendor == "sqlite":
        url = f"sqlite:///{database['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}"}


def _child(mode: str, env: dict) -> subprocess.Popen:
    command = [sys.executable, "-m", "outbox.tests.relay_child", mode]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


@pytest.mark.django_db(transaction=True)
def test_a_relay_killed_after_the_insert_leaves_every_message_in_clickhouse_once(
    publish, child_env
):
    publish(25)
    doomed = _child("die-after-insert", child_env)
    try:
        assert doomed.stdout.readline().strip() == "INSERTED"
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    assert doomed.returncode == -signal.SIGKILL
    [batch] = OutboxBatch.objects.all()
    assert batch.shipped_at is None, "the kill came before the commit"
    assert batch.next_attempt_at > timezone.now(), "leased: no other relay takes it meanwhile"
    OutboxBatch.objects.update(next_attempt_at=timezone.now())  # the lease has run out

    recovery = _child("recover", child_env)
    out, _ = recovery.communicate(timeout=120)

    assert recovery.returncode == 0
    assert out.split() == ["BEFORE", "25", "SHIPPED", "25", "AFTER", "25"]
    batch.refresh_from_db()
    assert batch.shipped_at is not None
