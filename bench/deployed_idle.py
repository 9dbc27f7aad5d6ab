#!/usr/bin/env python
"""The worker tier's fixed cost: what `celery worker` spends with nothing to do.

On a fresh PostgreSQL database, the worker tier as bench/deployed_throughput.py starts it
(Redis broker, chDB, `--pool threads --concurrency 2`, the periodic sweeps on the worker's own
schedule thread, no beat) beside one granian worker that only answers /healthz/status, and no
load: the CPU a second of the worker process and of the worker tier's PostgreSQL backends
(told apart by application_name), and the PostgreSQL sessions opened a second, whose
short-lived backends no CPU reading can catch.
This is what the tick costs whatever the load; under load it comes on top of the work per
event.

    .venv/bin/python bench/deployed_idle.py --seconds 30
"""

import argparse
import os
import shutil
import signal
import sys
import time

import psycopg
import redis
from deployed_load import (
    deployment_environment,
    deployment_prepare,
    web_start,
    worker_start,
    worker_stop,
)
from deployed_throughput import WORKER_APPLICATION, sessions_opened
from process_cpu import cpu_seconds, cpu_spent, process_tree

# After the worker's first heartbeat: its start-up's work is over.
SETTLE_SECONDS = 5


def main() -> int:
    args = _arguments()
    var_dir, database_url, env = deployment_environment(args.database, prefix="deployed-idle-")
    env["CELERY_BROKER_URL"] = args.broker
    redis.Redis.from_url(args.broker).flushdb()
    deployment_prepare(env, database_url, users=1)
    base = f"http://127.0.0.1:{args.port}"
    web = web_start(env, port=args.port, workers=1)
    worker = []
    try:
        worker = worker_start("broker", {**env, "PGAPPNAME": WORKER_APPLICATION}, base)
        time.sleep(SETTLE_SECONDS)
        spent = _idle(database_url, worker, seconds=args.seconds)
    finally:
        worker_stop(worker)
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)
    print(
        f"idle {args.seconds} s, load average {os.getloadavg()[0]:.1f}: CPU a second: worker"
        f" {spent['worker']:.1f} ms, the worker tier's PostgreSQL"
        f" backends {spent['postgres']:.1f} ms; PostgreSQL sessions opened a second:"
        f" {spent['sessions']:.1f}"
    )
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="seconds measured")
    parser.add_argument("--port", type=int, default=8786)
    parser.add_argument("--database", default="midnite_deployed_idle")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12", help="a Redis db to own")
    return parser.parse_args()


def _idle(database_url: str, worker: list, *, seconds: int) -> dict[str, float]:
    """The worker tier's CPU milliseconds a second, and sessions opened a second, over
    `seconds`."""
    [celery_worker] = worker
    processes = {"worker": process_tree(celery_worker.pid)}
    with psycopg.connect(database_url, autocommit=True) as monitor:
        before = {tier: cpu_seconds(pids) for tier, pids in processes.items()}
        before["postgres"] = cpu_seconds(_worker_backends(monitor))
        sessions = sessions_opened(monitor)
        time.sleep(seconds)
        after = {tier: cpu_seconds(pids) for tier, pids in processes.items()}
        after["postgres"] = cpu_seconds(_worker_backends(monitor))
        sessions = sessions_opened(monitor) - sessions
    spent = {tier: 1000 * cpu_spent(before[tier], after[tier]) / seconds for tier in after}
    return spent | {"sessions": sessions / seconds}


def _worker_backends(monitor: psycopg.Connection) -> list[int]:
    rows = monitor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = %s",
        [WORKER_APPLICATION],
    )
    return [pid for (pid,) in rows]


if __name__ == "__main__":
    sys.exit(main())
