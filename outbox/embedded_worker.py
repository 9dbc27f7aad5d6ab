"""`make run`'s one worker: the Celery tasks on their beat schedule, and requests from a socket.

The embedded mode has no broker (outbox/worker_channel.py says why). This process runs the
project's beat schedule (`app.conf.beat_schedule`, with Celery's own schedule objects) and
each request that arrives on EMBEDDED_WORKER_SOCKET, through the code a Celery worker runs
(`Task.apply`). `task_always_eager` makes a task's own `apply_async` (the wake-up's fan-out
to one relay per consumer) run here too. The answer of a task that keeps one (a ClickHouse
query) goes to the result backend, where its caller waits.

It is the one process that opens the embedded ClickHouse store. Requests that arrive while a
task runs are read together, and each distinct one runs once. `stop()` (SIGTERM, SIGINT)
ends the loop after the task in hand.

Every task hands the loop back within a couple of seconds (OUTBOX_RELAY_MAX_SECONDS), but one
declared `long_running` (a backtest, rule_sets.tasks) runs as long as its work takes: it runs
on a thread of its own, one at a time, so the relay and the notifications keep their turns.
A request for one while another runs is dropped: such a task's own periodic sweep finds the
work. One still running at a stop dies with the process; its work is claimed again later.
"""

import json
import os
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import structlog
from celery import Celery, Task
from celery.schedules import BaseSchedule, maybe_schedule
from django.db import close_old_connections, connections

log = structlog.get_logger(__name__)

# The longest a datagram may be: a request names a task and its few arguments.
REQUEST_MAX_BYTES = 64 * 1024
# Sun paths are at most 108 bytes on Linux, 104 on macOS.
SOCKET_PATH_MAX_BYTES = 103


@dataclass
class _Entry:
    """One beat schedule entry and when it last ran."""

    name: str
    task: str
    args: tuple
    schedule: BaseSchedule
    last_run_at: datetime


@dataclass(frozen=True)
class TaskRequest:
    task: str
    args: tuple
    id: str | None = None


class EmbeddedWorker:
    def __init__(self, *, app: Celery, socket_path: str) -> None:
        if len(os.fsencode(socket_path)) > SOCKET_PATH_MAX_BYTES:
            raise ValueError(
                f"the worker's socket path {socket_path!r} is longer than "
                f"{SOCKET_PATH_MAX_BYTES} bytes; set VAR_DIR to a shorter folder"
            )
        self._app = app
        self._socket_path = socket_path
        self._stopping = False
        self._long_running: threading.Thread | None = None
        # Set once requests sent to the socket reach this worker.
        self.listening = threading.Event()
        now = app.now()
        self._entries = [
            _Entry(
                name=name,
                task=entry["task"],
                args=tuple(entry.get("args", ())),
                schedule=maybe_schedule(entry["schedule"], app=app),
                last_run_at=now,
            )
            for name, entry in app.conf.beat_schedule.items()
        ]

    def stop(self, *signal_args) -> None:
        """End the loop after the task in hand; a signal handler."""
        self._stopping = True

    def run(self) -> None:
        # What a Celery worker does at start: import every app's tasks module (autodiscovery).
        self._app.loader.import_default_modules()
        self._app.conf.task_always_eager = True
        try:
            self._serve()
        finally:
            connections.close_all()
        log.info("worker.stopped")

    def _serve(self) -> None:
        with self._listening() as channel:
            log.info("worker.ready", socket=self._socket_path, schedule=len(self._entries))
            # What readiness reads, reported at once rather than one interval later.
            self.task_run(TaskRequest(task="outbox.clickhouse_heartbeat_record", args=()))
            while not self._stopping:
                wait = self._run_due()
                if self._stopping:
                    break
                readable, _, _ = select.select([channel], [], [], wait)
                if readable:
                    for request in _requests_drain(channel):
                        self.task_run(request)
                        if self._stopping:
                            break

    def task_run(self, request: TaskRequest) -> None:
        """Run one task as a Celery worker would, logging a failure instead of raising it."""
        task = self._app.tasks.get(request.task)
        if task is None:
            log.warning("worker.unknown_task", task=request.task)
            return
        if getattr(task, "long_running", False):
            self._long_running_start(task, request)
            return
        self._apply(task, request)

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
        # What the Celery worker does around each task (midnite_test/celery.py): drop the
        # connections that went stale, keep the others.
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

    def _run_due(self) -> float:
        """Run the schedule entries that are due; return the seconds until the next one is."""
        wait = 1.0
        for entry in self._entries:
            due, next_in = entry.schedule.is_due(entry.last_run_at)
            if due:
                entry.last_run_at = self._app.now()
                self.task_run(TaskRequest(task=entry.task, args=entry.args))
            wait = min(wait, next_in)
        return max(wait, 0.0)

    @contextmanager
    def _listening(self) -> Iterator[socket.socket]:
        # A socket file left by a worker that was killed would refuse the bind.
        try:
            os.unlink(self._socket_path)
        except FileNotFoundError:
            pass
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            channel.bind(self._socket_path)
            os.chmod(self._socket_path, 0o600)
            self.listening.set()
            yield channel
        finally:
            channel.close()
            try:
                os.unlink(self._socket_path)
            except FileNotFoundError:
                pass


def _requests_drain(channel: socket.socket) -> list[TaskRequest]:
    """Every request waiting on `channel`, each distinct one once, in arrival order."""
    requests: dict[TaskRequest, None] = {}
    while True:
        try:
            datagram = channel.recv(REQUEST_MAX_BYTES, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return list(requests)
        request = request_parse(datagram)
        if request is not None:
            requests[request] = None


def request_parse(datagram: bytes) -> TaskRequest | None:
    """The request a datagram carries (outbox.worker_channel.task_send), or None if malformed."""
    try:
        fields = json.loads(datagram)
        if not isinstance(fields, dict):
            raise TypeError("a request is a JSON object")
        task_id = fields.get("id")
        if not isinstance(fields["task"], str) or not isinstance(task_id, str | None):
            raise TypeError("a task's name and id are strings")
        request = TaskRequest(
            task=fields["task"], args=_frozen(fields.get("args") or []), id=task_id
        )
    except (ValueError, KeyError, TypeError):
        log.warning("worker.request_malformed", size=len(datagram))
        return None
    return request


def _frozen(value):
    """JSON arguments as hashable values: lists become tuples, so equal requests compare equal."""
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        raise TypeError("task arguments are positional values")
    return value
