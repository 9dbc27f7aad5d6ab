"""Every event, alert and new user reaches ClickHouse's event_log exactly once."""

import json
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_prerun
from django.contrib.auth import get_user_model
from django.core.management import call_command

from alerts.models import Alert
from events.models import Event
from midnite_test.celery import app as celery_app
from outbox.models import OutboxMessage
from outbox.relay import outbox_relay
from outbox.tasks import outbox_tick_task
from midnite_test.tests.waiting import wait_until
from outbox.tests.conftest import broker  # noqa: F401 - a fixture
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)
# A bound on a hung worker only: what is asserted is counted in ticks.
TICK_TIMEOUT_SECONDS = 30


def _alerting_transactions(post_event) -> None:
    for user_id in (1, 2):
        for t, (kind, amount) in enumerate(
            [("deposit", "10"), ("withdraw", "150"), ("withdraw", "5"), ("withdraw", "5")]
        ):
            assert post_event(kind, amount, t, user_id=user_id).status_code == 200


def test_every_event_user_and_alert_reaches_event_log_once(api_client, post_event, event_log):
    _alerting_transactions(post_event)
    post_event("withdraw", "5", 3, user_id=1)  # a replay: stores and publishes nothing
    api_client.post(
        "/users", {"email": "ada@example.com", "first_name": "Ada", "last_name": "L"}, format="json"
    )

    outbox_relay()
    outbox_relay()

    assert event_log.count("event_type IN ('deposit', 'withdraw')") == Event.objects.count() == 8
    assert event_log.count("event_type = 'alert_raised'") == Alert.objects.count() == 4
    assert event_log.count("event_type = 'user_created'") == User.objects.count() == 5
    assert event_log.keys_seen_more_than_once() == []


def test_an_event_row_carries_its_ids_and_exact_amount(post_event, event_log):
    post_event("withdraw", "150.10", 7, user_id=3)
    outbox_relay()

    [(user_id, tenant, context)] = event_log.rows(
        "SELECT user_id, tenant_id, event_context FROM event_log WHERE event_type = 'withdraw'"
    )
    assert (user_id, tenant) == (3, "default")
    assert json.loads(context) == {
        "amount": "150.10",
        "event_id": "txn:3:7",
        "properties": {},
        "source": "transactions",
    }
    [(alert,)] = event_log.rows(
        "SELECT event_context FROM event_log WHERE event_type = 'alert_raised'"
    )
    assert json.loads(alert) == {"code": 1100, "event_id": "txn:3:7"}


def test_a_refused_transaction_publishes_nothing(post_event):
    post_event("deposit", "10", 5)
    published = OutboxMessage.objects.count()

    assert post_event("deposit", "11", 5).status_code == 409
    assert post_event("deposit", "11", 4).status_code == 400
    assert post_event("deposit", "11", 6, user_id=99).status_code == 400
    assert OutboxMessage.objects.count() == published


def test_a_registered_user_is_published_with_email_and_names(api_client, db):
    response = api_client.post(
        "/users", {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "L"}, format="json"
    )

    [message] = OutboxMessage.objects.filter(topic="user_created")
    assert message.payload["user_id"] == response.json()["id"]
    assert message.payload["context"] == {
        "email": "Ada@Example.com",
        "first_name": "Ada",
        "last_name": "L",
    }


def test_users_made_by_the_admin_and_the_demo_command_are_published(client, db):
    call_command("create_test_users")
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)

    client.post("/admin/users/user/add/", {"email": "grace@example.com", "traits": "{}"})

    assert User.objects.filter(email="grace@example.com").exists()
    assert OutboxMessage.objects.filter(topic="user_created").count() == 5


@pytest.mark.usefixtures("broker")  # no wake-up an earlier test left pending, no stale task
def test_a_running_worker_ships_a_new_event_and_user_within_2_seconds(
    api_client, post_event, event_log, settings
):
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        post_event("deposit", "42.00", 10)
        api_client.post(
            "/users",
            {"email": "new@example.com", "first_name": "N", "last_name": "U"},
            format="json",
        )
        committed = time.monotonic()
        while event_log.count("event_type IN ('deposit', 'user_created')") < 6:
            assert time.monotonic() - committed < 2, "not in ClickHouse within 2 s"
            time.sleep(0.02)


def test_post_event_sends_the_broker_nothing_the_consumers_read_it_on_their_tick(
    broker, post_event, settings  # noqa: F811 - the fixture imported above
):
    settings.OUTBOX_WAKEUP_INTERVAL = 0
    broker.delete("celery", *broker.keys("wakeup-pending:*"))  # the users' fixture's wake-up

    assert post_event("deposit", "42.00", 10).status_code == 200

    assert (broker.llen("celery"), broker.keys("wakeup-pending:*")) == (0, [])


class _Ticks:
    """The worker schedule's ticks (`outbox.outbox_tick`) the worker has started and finished."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0

    def on_start(self, task, **kwargs) -> None:
        if task.name == outbox_tick_task.name:
            self.started += 1

    def on_finish(self, task, **kwargs) -> None:
        if task.name == outbox_tick_task.name:
            self.finished += 1


@pytest.mark.usefixtures("broker")  # no stale task
def test_a_running_worker_ships_an_event_on_its_next_tick_with_no_beat(post_event, event_log):
    """POST /event sends no wake-up: the consumers' tick, which the worker runs itself
    (OUTBOX_RELAY_INTERVAL_SECONDS, on its schedule thread; no beat runs), finds the event, the
    first tick that starts after it committed.

    Counted in ticks, not seconds: under load the worker's first tick, which also ships the
    demo users' messages with a cold ClickHouse client, took 1.2 s, and an event committed just
    after it had claimed the event log waited for it and the next tick (the 0.5 s schedule and
    the drain within 1 s are bench/deployed_throughput.py's to measure).
    """
    ticks = _Ticks()
    task_prerun.connect(ticks.on_start, weak=False)
    task_postrun.connect(ticks.on_finish, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            assert post_event("deposit", "42.00", 10).status_code == 200
            started_before = ticks.started  # one schedule thread runs one tick at a time
            next_tick_done = wait_until(
                lambda: ticks.finished > started_before, seconds=TICK_TIMEOUT_SECONDS
            )
            shipped = event_log.count("event_type = 'deposit'")
    finally:
        task_prerun.disconnect(ticks.on_start)
        task_postrun.disconnect(ticks.on_finish)

    assert next_tick_done, "no tick ran after the event committed"
    assert shipped == 1, "not in ClickHouse after the first tick that started after the commit"
