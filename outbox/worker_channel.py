"""How a process asks a worker to run a task now: the broker, or the embedded worker's socket.

Production sends Celery messages through the broker (Redis, CELERY_BROKER_URL). `make run` has
no broker: its one worker (`manage.py run_embedded_worker`, outbox/embedded_worker.py) reads
datagrams from a Unix socket under VAR_DIR (EMBEDDED_WORKER_SOCKET). Every task sent this way
asks for now what a periodic sweep runs anyway, or waits for its own answer (a ClickHouse
query), so a datagram that finds no worker, or a full socket, is refused at once and never
queued: none of the service's state lives in it, and nothing can pile up or be half-written.
"""

import json
import socket
from collections.abc import Sequence

from celery import Task
from django.conf import settings


def task_send(task: Task, *, args: Sequence = (), task_id: str | None = None) -> None:
    """Ask a worker to run `task` with `args` now; raise OSError or the broker's error if it can't.

    Never waits: one connection attempt to the broker (CELERY_BROKER_TRANSPORT_OPTIONS), or one
    non-blocking datagram to the embedded worker. A request without `task_id` that finds the
    worker's socket full, or no worker, is dropped silently.
    """
    path = settings.EMBEDDED_WORKER_SOCKET
    if not path:
        task.apply_async(args=tuple(args), task_id=task_id, retry=False)
        return
    request = json.dumps({"task": task.name, "args": list(args), "id": task_id}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as channel:
        try:
            channel.sendto(request, socket.MSG_DONTWAIT, path)
        except (BlockingIOError, FileNotFoundError, ConnectionRefusedError):
            # A full socket (the busy worker has requests waiting) or none (the worker is
            # starting, or starting again: bin/run-embedded says so): its sweep of every
            # consumer finds the work. Only a caller that waits for its answer must know.
            if task_id is not None:
                raise
