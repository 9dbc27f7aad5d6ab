"""The periodic sweeps, run by the worker itself: no beat, no message per sweep.

Each Celery worker (a bootstep of midnite_test/celery.py, on a thread of its own) and `make
run`'s embedded worker (outbox/embedded_worker.py, in its loop) run the worker schedule
(`app.conf.worker_schedule`, Celery's schedule objects) with a ScheduleRunner: each entry's
task runs when due, in this process, through the code a Celery worker runs (`Task.apply`),
with the stale database connections closed around it as Django does around a request. Every
entry runs once when the runner starts (what readiness reads is reported at once, and a
restarted worker catches up at once), then on its schedule.

Any number of runners may run at once, one per worker: every sweep is safe beside itself (the
consumers claim batches behind a locked cursor and lease them with SKIP LOCKED, notifications
are leased with SKIP LOCKED, a backtest's lease is a conditional UPDATE, the heartbeat is an
update-or-create of one row, the purge a DELETE).

Every task hands the runner back within a couple of seconds (OUTBOX_RELAY_MAX_SECONDS), but one
declared `long_running` (a backtest, rule_sets.tasks) runs as long as its work takes, so the
runner does not run it itself. A Celery worker's runner (`queue_long_running`) queues it for the
worker's pool, as beat did (one message every 10 s, where beat sent about four a second): a
backtest never runs in a prefork worker's parent, and keeps its slot's database connection.
`make run`'s, which has no broker, runs it on a thread of its own, one at a time; a request for
one while another runs is dropped (such a task's own periodic sweep finds the work), and one
still running at a stop dies with the process (its lease lets a worker claim it again).
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime

import structlog
from celery import Celery, Task
from celery.schedules import BaseSchedule, maybe_schedule
from django.db import close_old_connections, connections

log = structlog.get_logger(__name__)

# The name of a Celery worker's schedule thread (ScheduleRunner.start).
THREAD_NAME = "worker-schedule"


@dataclass(frozen=True)
class TaskRequest:
    task: str
    args: tuple
    id: str | None = None


@dataclass
class _Entry:
    """One schedule entry; when it last ran (wall clock, as its schedule reckons) and when it
    is next due (time.monotonic(), so that only a due entry asks its schedule)."""

    task: str
    args: tuple
    schedule: BaseSchedule
    last_run_at: datetime | None = None
    due_at: float = 0.0


class ScheduleRunner:
    def __init__(
        self, *, app: Celery, schedule: dict[str, dict], queue_long_running: bool = False
    ) -> None:
        self._app = app
        self._queue_long_running = queue_long_running
        self._entries = [
            _Entry(
                task=entry["task"],
                args=tuple(entry.get("args", ())),
                schedule=maybe_schedule(entry["schedule"], app=app),
            )
            for entry in schedule.values()
        ]
        self._long_running: threading.Thread | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def start(self) -> None:
        """Run the schedule on a thread of its own until stop()."""
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self, *signal_args) -> None:
        """Stop after the task in hand, and wait for it when it runs on start()'s thread; a
        signal handler too (embedded, with no thread to wait for)."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.stopping.wait(self.run_due())
        finally:
            connections.close_all()  # this thread's own
        log.info("worker.schedule_stopped")

    def run_due(self) -> float:
        """Run the entries that are due; return the seconds until the next one is."""
        for entry in self._entries:
            if self.stopping.is_set():
                break
            if time.monotonic() < entry.due_at:
                continue
            entry.last_run_at = self._app.now()
            self.task_run(TaskRequest(task=entry.task, args=entry.args))
            due, next_in = entry.schedule.is_due(entry.last_run_at)
            entry.due_at = time.monotonic() + (0.0 if due else next_in)
        return max(min(entry.due_at for entry in self._entries) - time.monotonic(), 0.0)

    def task_run(self, request: TaskRequest) -> None:
        """Run one task as a Celery worker would, logging a failure instead of raising it."""
        task = self._app.tasks.get(request.task)
        if task is None:
            log.warning("worker.unknown_task", task=request.task)
            return
        if getattr(task, "long_running", False):
            if self._queue_long_running:
                self._long_running_queue(task, request)
            else:
                self._long_running_start(task, request)
            return
        self._apply(task, request)

    def _long_running_queue(self, task: Task, request: TaskRequest) -> None:
        """Queue a long-running task for the worker's pool; with the broker down, log it and go
        on (one connection attempt, as a web process's wake-up): the next sweep queues it."""
        try:
            task.apply_async(args=request.args, retry=False)
        except Exception as exc:  # noqa: BLE001 - any broker failure; the next sweep retries
            log.warning(
                "worker.long_running_not_queued", task=request.task, error=type(exc).__name__
            )

    def _long_running_start(self, task: Task, request: TaskRequest) -> None:
        """Run a long-running task on a thread of its own, unless one is running already."""
        if self._long_running is not None and self._long_running.is_alive():
            log.info("worker.long_running_busy", task=request.task)
            return

        def run() -> None:
            try:
                self._apply(task, request)
            finally:
                connections.close_all()  # this thread's own

        self._long_running = threading.Thread(target=run, name=request.task, daemon=True)
        self._long_running.start()

    def _apply(self, task: Task, request: TaskRequest) -> None:
        # What the Celery worker does around each task it receives (midnite_test/celery.py),
        # which skips an applied task (an eager one): drop the connections that went stale,
        # keep the others.
        close_old_connections()
        try:
            result = task.apply(args=request.args, task_id=request.id)
        finally:
            close_old_connections()
        if request.id is not None and not task.ignore_result:
            task.backend.store_result(
                request.id, result.result, result.state, traceback=result.traceback
            )
        if result.failed():
            log.error(
                "worker.task_failed",
                task=request.task,
                error=f"{type(result.result).__name__}: {result.result}",
                traceback=result.traceback,
            )
