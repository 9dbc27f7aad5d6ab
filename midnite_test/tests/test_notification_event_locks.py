"""Notification evaluation and POST /event never wait on each other's locks.

Each side holds its transaction open on a connection of its own while the other runs in a
thread on another; the test watches PostgreSQL's lock graph (`pg_blocking_pids`) until the
thread finishes, or is seen waiting on the open transaction.
"""

import threading
import time
from datetime import datetime, timezone

import pytest
from django.db import connection, connections, transaction

import alerts.services
import events.product.services
from midnite_test.tests.concurrently import client_with_key
from notifications.evaluation import notification_events_evaluate
from notifications.models import Notification
from notifications.tests.conftest import product_event
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

SIGNUP = datetime(2025, 10, 30, 12, 0, tzinfo=timezone.utc)
DEPOSIT = {"type": "deposit", "amount": "150.00", "user_id": 1, "t": 7}


def _finishes_without_waiting_on(thread: threading.Thread, holder_pid: int) -> bool:
    """Return True once `thread` has finished, False as soon as any session waits on a lock
    that the session `holder_pid` holds."""
    deadline = time.monotonic() + 60
    with connections["default"].cursor() as cursor:
        while True:
            thread.join(timeout=0.01)
            if not thread.is_alive():
                return True
            assert time.monotonic() < deadline, "the thread neither finished nor waited on a lock"
            cursor.execute(
                # pg_locks, not pg_stat_activity: that is a snapshot taken once a transaction.
                "SELECT count(*) FROM pg_locks WHERE NOT granted"
                " AND %s = ANY(pg_blocking_pids(pid))",
                [holder_pid],
            )
            if cursor.fetchone()[0]:
                return False


def _in_thread(target) -> tuple[threading.Thread, list]:
    """Start `target` in a thread with its own connection; its result or error lands in the list."""
    results: list = []

    def run() -> None:
        try:
            results.append(target())
        except Exception as exc:  # noqa: BLE001 - asserted by the caller
            results.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def _evaluation_beside(
    holder_thread: threading.Thread,
    signup,
    *,
    locked: threading.Event,
    finish: threading.Event,
    holder_pid: list[int],
    holder: str,
) -> tuple[bool, list]:
    """Evaluate `signup` while `holder_thread` holds its transaction open at its lock.

    Return whether the evaluation finished without waiting on the holder, and what it returned.
    """
    try:
        assert locked.wait(timeout=60), f"{holder} never reached its lock"

        def evaluate() -> int:
            with transaction.atomic():
                return notification_events_evaluate(event_ids=[signup.pk])

        evaluation, evaluated = _in_thread(evaluate)
        unblocked = _finishes_without_waiting_on(evaluation, holder_pid[0])
    finally:
        finish.set()
        holder_thread.join()
    evaluation.join()
    return unblocked, evaluated


def test_post_event_does_not_wait_for_an_evaluation_of_the_same_user(users, api_key):
    signup = product_event(users[0], "signup_completed", SIGNUP)
    with transaction.atomic():
        notification_events_evaluate(event_ids=[signup.pk])
        assert Notification.objects.filter(user=users[0]).exists()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            evaluator_pid = cursor.fetchone()[0]
        post, results = _in_thread(
            lambda: client_with_key(api_key).post("/event", DEPOSIT, format="json")
        )
        unblocked = _finishes_without_waiting_on(post, evaluator_pid)
    post.join()

    assert unblocked, "POST /event waited for the evaluation's transaction"
    [response] = results
    assert response.status_code == 200, response


def test_product_ingestion_does_not_wait_for_an_evaluation_of_the_same_user(api_key):
    """The sibling: POST /api/v1/events locks the users it names, and updates their traits."""
    user = User.objects.create(external_id="u_lock", email="lock@example.com")
    signup = product_event(user, "signup_completed", SIGNUP)
    body = [
        {
            "user_id": "u_lock",
            "event_type": "link_bank_success",
            "event_timestamp": "2025-10-30T13:00:00Z",
            "user_traits": {"phone": "+447700900123"},
        }
    ]
    with transaction.atomic():
        notification_events_evaluate(event_ids=[signup.pk])
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            evaluator_pid = cursor.fetchone()[0]
        post, results = _in_thread(
            lambda: client_with_key(api_key).post("/api/v1/events", body, format="json")
        )
        unblocked = _finishes_without_waiting_on(post, evaluator_pid)
    post.join()

    assert unblocked, "POST /api/v1/events waited for the evaluation's transaction"
    [response] = results
    assert response.status_code == 202, response


def test_an_evaluation_does_not_wait_for_post_event_on_the_same_user(users, api_key, monkeypatch):
    signup = product_event(users[0], "signup_completed", SIGNUP)
    locked, finish = threading.Event(), threading.Event()
    poster_pid: list[int] = []
    alerts_queue = alerts.services.transaction_alerts_queue

    def alerts_queue_then_wait(**kwargs) -> None:
        """Hold POST /event's transaction open after its first round trip (the user's lock)."""
        poster_pid.append(connection.connection.info.backend_pid)
        locked.set()
        finish.wait(timeout=60)
        alerts_queue(**kwargs)

    monkeypatch.setattr(alerts.services, "transaction_alerts_queue", alerts_queue_then_wait)
    post, posted = _in_thread(
        lambda: client_with_key(api_key).post("/event", DEPOSIT, format="json")
    )
    unblocked, evaluated = _evaluation_beside(
        post, signup, locked=locked, finish=finish, holder_pid=poster_pid, holder="POST /event"
    )

    assert unblocked, "the evaluation waited for POST /event's transaction"
    assert evaluated == [1]
    [response] = posted
    assert response.status_code == 200, response


def test_an_evaluation_does_not_wait_for_product_ingestion_of_the_same_user(api_key, monkeypatch):
    user = User.objects.create(external_id="u_lock", email="lock@example.com")
    signup = product_event(user, "signup_completed", SIGNUP)
    body = [{"user_id": "u_lock", "event_type": "click", "event_timestamp": "2025-10-30T13:00:00Z"}]
    locked, finish = threading.Event(), threading.Event()
    ingester_pid: list[int] = []
    traits_update = events.product.services.users_traits_update

    def traits_update_then_wait(*args, **kwargs):
        """Hold the ingestion's transaction open once it has locked and updated its users."""
        result = traits_update(*args, **kwargs)
        ingester_pid.append(connection.connection.info.backend_pid)
        locked.set()
        finish.wait(timeout=60)
        return result

    monkeypatch.setattr(events.product.services, "users_traits_update", traits_update_then_wait)
    post, posted = _in_thread(
        lambda: client_with_key(api_key).post("/api/v1/events", body, format="json")
    )
    unblocked, evaluated = _evaluation_beside(
        post, signup, locked=locked, finish=finish, holder_pid=ingester_pid, holder="the ingestion"
    )

    assert unblocked, "the evaluation waited for the ingestion's transaction"
    assert evaluated == [1]
    [response] = posted
    assert response.status_code == 202, response
