"""The backtest runner: rows are the queue, each claimed by one worker under a lease that its
progress renews; a dead worker's backtest is claimed again, then failed; the progress is
visible to other connections while the replay runs."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from midnite_test.celery import app as celery_app
from midnite_test.tests.waiting import wait_until
from outbox.embedded_worker import EmbeddedWorker
from rule_sets import backtests
from rule_sets.backtests import (
    BACKTEST_ATTEMPTS_MAX,
    rule_set_backtest_create,
    rule_set_backtest_run,
    rule_set_backtests_run_pending,
)
from rule_sets.models import KIND_ALERTS, RuleSetBacktest
from rule_sets.services import rule_set_version_get_or_create
from rule_sets.tests.conftest import LOWER_THRESHOLD

START = datetime(2026, 11, 1, tzinfo=UTC)
DEADLINE_SECONDS = 10


def _backtest() -> RuleSetBacktest:
    rule_set_version_get_or_create(kind=KIND_ALERTS, source=LOWER_THRESHOLD, created_by="risk")
    return rule_set_backtest_create(
        kind=KIND_ALERTS, version=2, start=START, end=START + timedelta(days=1), created_by="r"
    )


def _lease(backtest: RuleSetBacktest, *, seconds: float, attempts: int) -> None:
    RuleSetBacktest.objects.filter(pk=backtest.pk).update(
        lease_until=timezone.now() + timedelta(seconds=seconds), attempts=attempts
    )


@pytest.mark.django_db
def test_a_backtest_another_worker_holds_is_left_to_it(fake_replay):
    backtest = _backtest()
    _lease(backtest, seconds=60, attempts=1)

    assert rule_set_backtests_run_pending() == 0
    assert rule_set_backtest_run(backtest.pk) is None
    assert fake_replay.calls == []


@pytest.mark.django_db
def test_a_backtest_whose_worker_died_is_claimed_again_once_its_lease_is_over(fake_replay):
    backtest = _backtest()
    _lease(backtest, seconds=-1, attempts=1)

    assert rule_set_backtests_run_pending() == 1

    backtest.refresh_from_db()
    assert (backtest.status, backtest.attempts, backtest.lease_until) == ("done", 2, None)


@pytest.mark.django_db
def test_a_backtest_whose_workers_keep_dying_is_failed_not_left_running(fake_replay):
    backtest = _backtest()
    _lease(backtest, seconds=-1, attempts=BACKTEST_ATTEMPTS_MAX)

    rule_set_backtests_run_pending()

    backtest.refresh_from_db()
    assert backtest.status == "failed"
    assert backtest.error == f"The worker running it stopped {BACKTEST_ATTEMPTS_MAX} times."
    assert fake_replay.calls == []


@pytest.mark.django_db
def test_a_finished_backtest_is_not_run_again(fake_replay):
    backtest = _backtest()
    rule_set_backtest_run(backtest.pk)

    assert rule_set_backtest_run(backtest.pk) is None
    assert rule_set_backtests_run_pending() == 0
    assert len(fake_replay.calls) == 1


@pytest.mark.django_db(transaction=True)
def test_the_progress_is_written_while_the_replay_runs_and_seen_by_other_connections(
    fake_replay, monkeypatch
):
    monkeypatch.setattr(backtests, "BACKTEST_PROGRESS_SECONDS", 0.01)
    backtest = _backtest()
    seen = {}

    def wait_for_half_done() -> None:
        # The replay's own thread and connection: what any reader of the row sees.
        def half_done() -> bool:
            row = RuleSetBacktest.objects.values("progress", "events", "status").get(pk=backtest.pk)
            seen.update(row)
            return row["progress"] == 0.5

        assert wait_until(half_done, seconds=DEADLINE_SECONDS), "the progress was never written"

    fake_replay.during = wait_for_half_done
    printed = []

    rule_set_backtest_run(backtest.pk, on_progress=lambda done, total: printed.append(done))

    assert seen == {"progress": 0.5, "events": 1, "status": "running"}
    assert 1 in printed
    backtest.refresh_from_db()
    assert (backtest.status, backtest.progress, backtest.events) == ("done", 1.0, 2)


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_lost_its_lease_writes_nothing_of_the_replay(fake_replay, monkeypatch):
    monkeypatch.setattr(backtests, "BACKTEST_PROGRESS_SECONDS", 0.01)
    backtest = _backtest()

    def another_worker_takes_it() -> None:
        RuleSetBacktest.objects.filter(pk=backtest.pk).update(lease_token=None)

    fake_replay.during = another_worker_takes_it

    rule_set_backtest_run(backtest.pk)

    backtest.refresh_from_db()
    assert (backtest.status, backtest.result, backtest.finished_at) == ("running", None, None)


def test_the_sweep_is_on_the_worker_schedule_and_both_tasks_run_long():
    entry = celery_app.conf.worker_schedule["rule-sets-backtests"]

    assert entry["task"] == "rule_sets.backtests_run_pending"
    assert celery_app.tasks["rule_sets.backtests_run_pending"].long_running
    assert celery_app.tasks["rule_sets.backtest_run"].long_running


@pytest.fixture
def embedded_worker(settings, tmp_path):
    """`make run`'s worker without a broker, in a thread; Celery's eager setting restored."""
    settings.EMBEDDED_WORKER_SOCKET = str(tmp_path / "worker.sock")
    saved = celery_app.conf.task_always_eager
    worker = EmbeddedWorker(app=celery_app, socket_path=settings.EMBEDDED_WORKER_SOCKET)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert worker.listening.wait(timeout=DEADLINE_SECONDS), "the worker never listened"
    yield worker
    worker.stop()
    thread.join(timeout=DEADLINE_SECONDS)
    celery_app.conf.task_always_eager = saved
    assert not thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_under_make_run_the_embedded_worker_runs_a_new_backtest(
    embedded_worker, fake_replay, event_log
):
    backtest = _backtest()

    def finished() -> bool:
        backtest.refresh_from_db()
        return backtest.status != "running"

    wait_until(finished, seconds=DEADLINE_SECONDS)
    assert (backtest.status, backtest.events) == ("done", 2)
