"""`make run`'s one worker: the worker schedule, and requests from a socket.

The embedded mode has no broker (outbox/worker_channel.py says why). This process runs the
worker schedule and each request that arrives on EMBEDDED_WORKER_SOCKET with a ScheduleRunner
(outbox/schedule_runner.py, as a Celery worker runs the schedule), through the code a Celery
worker runs (`Task.apply`). `task_always_eager` makes a task's own `apply_async` (the wake-up's
fan-out to one relay per consumer) run here too. The answer of a task that keeps one (a
ClickHouse query) goes to the result backend, where its caller waits.

It is the one process that opens the embedded ClickHouse store. Requests that arrive while a
task runs are read together, and each distinct one runs once. `stop()` (SIGTERM, SIGINT)
ends the loop after the task in hand.
"""

import json
import os
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from celery import Celery
from django.db import connections

from outbox.schedule_runner import ScheduleRunner, TaskRequest

log = structlog.get_logger(__name__)

# The longest a datagram may be: a request names a task and its few arguments.
REQUEST_MAX_BYTES = 64 * 1024
# Sun paths are at most 108 bytes on Linux, 104 on macOS.
SOCKET_PATH_MAX_BYTES = 103


class EmbeddedWorker:
    def __init__(self, *, app: Celery, socket_path: str) -> None:
        if len(os.fsencode(socket_path)) > SOCKET_PATH_MAX_BYTES:
            raise ValueError(
                f"the worker's socket path {socket_path!r} is longer than "
                f"{SOCKET_PATH_MAX_BYTES} bytes; set VAR_DIR to a shorter folder"
            )
        self._app = app
        self._socket_path = socket_path
        self.runner = ScheduleRunner(app=app, schedule=app.conf.worker_schedule)
        # Set once requests sent to the socket reach this worker.
        self.listening = threading.Event()

    def stop(self, *signal_args) -> None:
        """End the loop after the task in hand; a signal handler."""
        self.runner.stop()

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
        stopping = self.runner.stopping
        with self._listening() as channel:
            log.info("worker.ready", socket=self._socket_path)
            while not stopping.is_set():
                wait = self.runner.run_due()
                if stopping.is_set():
                    break
                readable, _, _ = select.select([channel], [], [], wait)
                if readable:
                    for request in _requests_drain(channel):
                        self.runner.task_run(request)
                        if stopping.is_set():
                            break

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
