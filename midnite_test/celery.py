"""The Celery app and the worker schedule: the periodic sweeps every worker runs itself.

Production uses Redis as the broker (CELERY_BROKER_URL) and Celery's workers, with no beat:
each worker runs the worker schedule on a thread of its own (WorkerScheduleStep, below), so no
sweep costs a message. `make run` has no broker: its one worker (`manage.py
run_embedded_worker`) runs the same tasks on this same schedule (outbox/embedded_worker.py).
Both run it with outbox/schedule_runner.py.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

from celery import Celery, bootsteps
from celery.schedules import crontab
from celery.signals import setup_logging, task_postrun, task_prerun, worker_init
from django.conf import settings
from django.db import close_old_connections

from midnite_test.check_tags import ACTIVE_RULES
from outbox.schedule_runner import ScheduleRunner

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")

app = Celery("midnite_test")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fixup closes every database connection of a task's thread before and after
# each task, unless told to keep them for DB_REUSE_MAX tasks: each tick then opened a
# PostgreSQL session of its own, 7 a second on an idle worker, and never reused a prepared
# statement. Connections are kept, and closed when stale, as around a request (below).
app.conf.update(CELERY_DB_REUSE_MAX=sys.maxsize)


@task_prerun.connect
@task_postrun.connect
def _stale_connections_close(task, **kwargs) -> None:
    """Close the database connections past CONN_MAX_AGE or unusable, as Django does around
    each request (and outbox/embedded_worker.py around each task); not in an eager task, which
    runs inside its caller's transaction."""
    if not getattr(task.request, "is_eager", False):
        close_old_connections()


@setup_logging.connect
def _keep_django_logging(**kwargs) -> None:
    """Leave logging as settings configured it (structlog), instead of Celery's own."""


@app.on_after_configure.connect
def _embedded_result_folder(sender: Celery, **kwargs) -> None:
    """Create the folder of the file result backend (`make run`'s ClickHouse query answers)."""
    if sender.conf.result_backend.startswith("file://"):
        Path(sender.conf.result_backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


@worker_init.connect
def _system_checks(**kwargs) -> None:
    """Refuse to start on a bad rules or templates file, as gunicorn does (`wsgi.py`), or on an
    active notification rules version the templates file no longer covers.

    Celery's Django fixup runs the checks too but ignores what they report, and it logs and
    ignores an exception a signal handler raises; only SystemExit stops the worker.
    """
    from django.core.management.base import BaseCommand, SystemCheckError

    try:
        BaseCommand().check(display_num_errors=False)
        # And the active rules against the files they need: checks that read the database.
        BaseCommand().check(tags=[ACTIVE_RULES], databases=["default"])
    except SystemCheckError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(1) from exc


class WorkerScheduleStep(bootsteps.StartStopStep):
    """Run the worker schedule on a thread of the worker's main process, from the worker's
    start to its stop, which waits for the task in hand (warm and cold shutdown alike: the
    task in hand ends within OUTBOX_RELAY_MAX_SECONDS or NOTIFICATION_SEND_MAX_SECONDS).

    The main process whatever the pool: with `--pool threads` (embedded chDB, which only one
    process may open) the process that holds the store and runs the slots; with prefork
    (docker-compose) the parent, so a worker runs one schedule whatever its concurrency, and a
    sweep never waits in a busy child's buffer behind the wake-ups. After the pool, so the
    prefork children are forked before the thread opens any connection; a child forked later
    (to replace one that died) drops the connections it inherits (Celery's Django fixup), and
    psycopg never closes a connection in a process that did not open it. A long-running task
    (the backtest sweep) is queued for the pool, not run beside the parent's dispatching.
    """

    requires = {"celery.worker.components:Pool"}

    def create(self, worker) -> ScheduleRunner:
        return ScheduleRunner(
            app=worker.app, schedule=worker.app.conf.worker_schedule, queue_long_running=True
        )


app.steps["worker"].add(WorkerScheduleStep)


@app.on_after_configure.connect
def _worker_schedule(sender: Celery, **kwargs) -> None:
    """The sweeps every worker runs itself, and no beat schedule: a `celery beat` an older
    deployment left running sends nothing (the old task names stay registered, so what it
    queued before still runs)."""
    sender.conf.beat_schedule = {}
    sender.conf.worker_schedule = {
        # The consumers' tick: their table logs' rows (the events, sent no wake-up) and what a
        # lost or throttled wake-up of their messages left behind, all in a batch per stream.
        "outbox-tick": {
            "task": "outbox.outbox_tick",
            "schedule": timedelta(seconds=settings.OUTBOX_RELAY_INTERVAL_SECONDS),
        },
        # Notifications that became due (a delay ended, a retry's backoff passed).
        "notifications-send-due": {
            "task": "notifications.send_due",
            "schedule": timedelta(seconds=settings.NOTIFICATION_SEND_INTERVAL_SECONDS),
        },
        # What /healthz/status reports about an embedded ClickHouse only the worker may open.
        "clickhouse-heartbeat": {
            "task": "outbox.clickhouse_heartbeat_record",
            "schedule": timedelta(seconds=5),
        },
        # Backtests whose request to a worker was lost, or whose worker died (rule_sets).
        "rule-sets-backtests": {
            "task": "rule_sets.backtests_run_pending",
            "schedule": timedelta(seconds=10),
        },
        # Shipped rows older than OUTBOX_RETENTION leave the outbox table.
        "outbox-purge-shipped": {
            "task": "outbox.outbox_shipped_purge",
            "schedule": crontab(minute="*/15"),
        },
    }
