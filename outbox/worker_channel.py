"""How a process asks a worker to run a task now: the broker, or the embedded worker's socket.

Production sends Celery messages through the broker (Redis, CELERY_BROKER_URL). `make run` has
no broker: its one worker (`manage.py run_embedded_worker`, outbox/embedded_worker.py) reads
datagrams from a Unix socket under VAR_DIR (EMBEDDED_WORKER_SOCKET). Every task sent this way
asks for now what a periodic sweep runs anyway, or waits for its own answer (a ClickHouse
query), so a datagram that finds no worker, or a full socket, is refused at once and never
queued: none of the service's state lives in it, and nothing can pile up or be half-written.

Wake-ups coalesce through the broker: a wake-up of a kind (one consumer's relay) is sent only
if none of that kind is pending, which a key per kind in the broker's Redis says
(`wakeups_reserve`). The task clears its key as it starts (`wakeup_started`), before it looks
for work, so a commit while it runs sends one more and the last commit is never left behind;
however many requests commit, each kind has at most one wake-up waiting in the queue, and the
periodic tasks wait behind no more than that. The embedded worker needs no key: requests that
arrive while it is busy are read together and each distinct one runs once.
"""

import functools
import json
import socket
from collections.abc import Sequence

import redis
import structlog
from celery import Task, current_app
from django.conf import settings

log = structlog.get_logger(__name__)

# A pending wake-up's key lives this long at most: a wake-up lost with its key still set (a
# worker killed before the task started) only leaves its kind to the periodic sweep meanwhile,
# and one that waits longer than this in a backed-up queue lets one more be sent.
WAKEUP_PENDING_SECONDS = 30
_PENDING_KEY = "wakeup-pending:{}"
# A wake-up through the broker runs this long after it is sent: the commits meanwhile find it
# pending and are coalesced into it, so under load a consumer claims a batch a few times a
# second, not as often as a worker can run it (each claim and ship costs the worker and
# PostgreSQL the same whether it takes 5 events or 500; docs/BENCHMARKS.md, "Issue 20 merged").
# Within the 1 s of the periodic sweep, which bounds the latency anyway.
WAKEUP_DELAY_SECONDS = 0.2


def task_send(
    task: Task, *, args: Sequence = (), task_id: str | None = None, countdown: float | None = None
) -> None:
    """Ask a worker to run `task` with `args` now, or `countdown` s from now through the broker
    (the embedded worker runs it now); raise OSError or the broker's error if it can't.

    Never waits: one connection attempt to the broker (CELERY_BROKER_TRANSPORT_OPTIONS), or one
    non-blocking datagram to the embedded worker. A request without `task_id` that finds the
    worker's socket full, or no worker, is dropped silently.
    """
    path = settings.EMBEDDED_WORKER_SOCKET
    if not path:
        task.apply_async(args=tuple(args), task_id=task_id, countdown=countdown, retry=False)
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


def wakeups_reserve(kinds: Sequence[str]) -> list[str]:
    """Mark each kind of wake-up pending; return those that were not: the ones to send now.

    One round trip to the broker's Redis for them all. Every kind without a broker (the
    embedded worker coalesces its own requests). Raises redis' error if Redis does not answer.
    """
    if settings.EMBEDDED_WORKER_SOCKET or not kinds:
        return list(kinds)
    pipeline = _broker_redis().pipeline(transaction=False)
    for kind in kinds:
        pipeline.set(_PENDING_KEY.format(kind), 1, nx=True, ex=WAKEUP_PENDING_SECONDS)
    return [kind for kind, reserved in zip(kinds, pipeline.execute()) if reserved]


def wakeups_release(kinds: Sequence[str]) -> None:
    """Clear the pending mark of wake-ups that were reserved but could not be sent."""
    if settings.EMBEDDED_WORKER_SOCKET or not kinds:
        return
    _broker_redis().delete(*(_PENDING_KEY.format(kind) for kind in kinds))


def wakeup_started(kind: str) -> None:
    """Clear `kind`'s pending mark: called by its task as it starts, before it looks for work.

    A commit from now on sends another wake-up, so no commit is left to the sweep. A Redis
    that does not answer leaves the key to expire (WAKEUP_PENDING_SECONDS).
    """
    if settings.EMBEDDED_WORKER_SOCKET:
        return
    try:
        _broker_redis().delete(_PENDING_KEY.format(kind))
    except redis.RedisError as exc:
        log.warning("worker.wakeup_mark_not_cleared", kind=kind, error=type(exc).__name__)


def _broker_redis() -> redis.Redis:
    conf = current_app.conf
    return _redis_at(conf.broker_write_url or conf.broker_url)


@functools.cache
def _redis_at(url: str) -> redis.Redis:
    # Gives up as soon as a broker publish does (CELERY_BROKER_TRANSPORT_OPTIONS).
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
