"""A Celery worker keeps its database connection from task to task, as a web process does
between requests, and drops it only once stale (CONN_MAX_AGE) or unusable."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from midnite_test.celery import app as celery_app
from midnite_test.tests.waiting import wait_until
from outbox.tests.conftest import broker  # noqa: F401 - a fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("broker")]

# The PostgreSQL backend each run of the task below used, in order.
_backends: list[int] = []


@celery_app.task(name="tests.database_backend_record", ignore_result=True)
def _database_backend_record(stale: bool = False) -> None:
    """Record the backend serving this task; `stale`: then age the connection past its age."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        _backends.append(cursor.fetchone()[0])
    if stale:
        connection.close_at = time.monotonic() - 1


def _backends_after(tasks: list[dict]) -> list[int]:
    """Run the task once per keyword arguments in `tasks`, in order, on a real worker."""
    _backends.clear()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        for kwargs in tasks:
            runs = len(_backends)
            _database_backend_record.apply_async(kwargs=kwargs)
            assert wait_until(lambda: len(_backends) > runs, seconds=10), "the task did not run"
    return list(_backends)


def test_the_worker_serves_every_task_from_one_database_session():
    backends = _backends_after([{}, {}, {}])

    assert len(set(backends)) == 1, backends


def test_the_worker_opens_a_new_session_once_the_last_is_past_conn_max_age():
    first, second, third = _backends_after([{}, {"stale": True}, {}])

    assert first == second != third
