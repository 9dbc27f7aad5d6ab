"""The worker runs the periodic sweeps itself (outbox/schedule_runner.py), with no beat: on a
thread that lives as long as the worker, and safely beside another worker's."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_prerun
from structlog.testing import capture_logs

from midnite_test.celery import app as celery_app
from midnite_test.tests.waiting import wait_until
from outbox.schedule_runner import THREAD_NAME, ScheduleRunner, TaskRequest
from outbox.tasks import outbox_tick_task
from outbox.tests.conftest import broker, broker_unreachable  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)
# A bound on a hung worker only.
TIMEOUT_SECONDS = 30


def _schedule_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


@pytest.mark.usefixtures("broker")  # no stale task
def test_a_worker_runs_its_schedule_on_a_thread_that_has_ended_when_its_stop_returns():
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        [running] = _schedule_threads()
        assert running.is_alive()

    assert not running.is_alive()
    assert _schedule_threads() == []


def test_beat_sends_nothing_and_every_sweep_is_on_the_worker_schedule():
    schedule = celery_app.conf.worker_schedule

    assert celery_app.conf.beat_schedule == {}
    assert [entry["task"] for entry in schedule.values()] == [
        "outbox.outbox_tick",
        "notifications.send_due",
        "outbox.clickhouse_heartbeat_record",
        "rule_sets.backtests_run_pending",
        "outbox.outbox_shipped_purge",
    ]


_long_task_runs: list[str] = []


@celery_app.task(name="tests.schedule_long_running", ignore_result=True, long_running=True)
def _long_running_task() -> None:
    _long_task_runs.append(threading.current_thread().name)


def test_a_celery_workers_runner_queues_a_long_running_task_for_the_pool(broker):  # noqa: F811
    """The backtest sweep runs as long as its work takes: not on the schedule thread (in a
    prefork worker's parent), but in a pool slot, as the message beat sent it."""
    _long_task_runs.clear()
    runner = ScheduleRunner(app=celery_app, schedule={}, queue_long_running=True)

    runner.task_run(TaskRequest(task=_long_running_task.name, args=()))

    assert (_long_task_runs, broker.llen("celery")) == ([], 1)


def test_a_long_running_task_the_broker_cannot_take_is_logged_and_the_runner_goes_on():
    """Redis down: the sweep's next run queues it again; the schedule thread must not die."""
    runner = ScheduleRunner(app=celery_app, schedule={}, queue_long_running=True)

    with broker_unreachable(), capture_logs() as logs:
        runner.task_run(TaskRequest(task=_long_running_task.name, args=()))

    assert [(log["event"], log["task"]) for log in logs] == [
        ("worker.long_running_not_queued", _long_running_task.name)
    ]


class _TicksByThread:
    """The ticks each thread has started."""

    def __init__(self) -> None:
        self.started: Counter[int] = Counter()

    def __call__(self, task, **kwargs) -> None:
        if task.name == outbox_tick_task.name:
            self.started[threading.get_ident()] += 1


def test_two_runners_ticking_at_once_ship_each_event_exactly_once(post_event, event_log):
    """Two workers' schedules, each ticking every 10 ms, against events committed meanwhile:
    every event reaches ClickHouse once, however many ticks each runner has run by the end.

    A tick relays for as long as it finds work (up to OUTBOX_RELAY_MAX_SECONDS), so one tick
    of each runner may ship every event: the runners run on until each has run a whole tick
    after the last event reached ClickHouse (two more have started), which ships nothing again."""
    tick_often = {"tick": {"task": outbox_tick_task.name, "schedule": timedelta(seconds=0.01)}}
    runners = [ScheduleRunner(app=celery_app, schedule=tick_often) for _ in range(2)]
    ticks = _TicksByThread()
    task_prerun.connect(ticks, weak=False)
    try:
        for runner in runners:
            runner.start()
        for t in range(10):
            assert post_event("deposit", "1.00", t, user_id=1 + t % 2).status_code == 200
        shipped = wait_until(
            lambda: event_log.count("event_type = 'deposit'") >= 10, seconds=TIMEOUT_SECONDS
        )
        ticks_when_shipped = ticks.started.copy()
        each_ticked_again = wait_until(
            lambda: len(ticks.started) == 2
            and all(
                count >= ticks_when_shipped[thread] + 2 for thread, count in ticks.started.items()
            ),
            seconds=TIMEOUT_SECONDS,
        )
    finally:
        for runner in runners:
            runner.stop()
        task_prerun.disconnect(ticks)

    assert shipped, "not every event reached ClickHouse"
    assert each_ticked_again, ticks.started
    assert event_log.count("event_type = 'deposit'") == 10
    assert event_log.keys_seen_more_than_once() == []
