#!/usr/bin/env python
"""Load POST /event on the service as deployed, with and without its worker tier, on one box.

Runs, on a fresh PostgreSQL database: the web tier under granian (3 workers, as the
Dockerfile's `nproc + 1` on 2 cores), Redis as the Celery broker, and, in the runs "with the
worker", `celery worker` as docker-compose runs it (it runs the periodic sweeps itself: no
beat). There is no ClickHouse server on this box, so ClickHouse is the embedded chDB store,
which only one process may open: the worker runs its two slots as threads of one process
(`--pool threads --concurrency 2`) rather than compose's two prefork processes. `--mode
embedded` runs `make run`'s tier instead: no broker, `manage.py run_embedded_worker` fed
through its socket.

Each run loads POST /event for `--duration` s at `--connections` connections with wrk (one user
per connection, as bench/event_throughput.py), and samples every second: /healthz/ready's
status, the length of the broker's Celery queue (LLEN of `celery`) and, from /healthz/status,
the outbox backlog and the age of the worker's heartbeat. After the load it times until the
backlog drains (a run without the worker starts the worker for that). Runs alternate, web tier
alone then with the worker, `--rounds` times each.

    .venv/bin/python bench/deployed_load.py                        # 2 rounds x 60 s
    .venv/bin/python bench/deployed_load.py --mode embedded --rounds 1
"""

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from event_throughput import service_env
from servers import POSTGRES_URL, PRODUCTION_WORKERS, ROOT, database_recreate, wrk_run
from servers import wsgi_server_start

BIN = Path(sys.executable).parent
# How long a backlog may take to drain before the run says it did not.
DRAIN_LIMIT_SECONDS = 180


@dataclass
class Samples:
    """What the sampler saw, once a second."""

    ready: collections.Counter = field(default_factory=collections.Counter)
    queue: list[int] = field(default_factory=list)
    backlog: list[int] = field(default_factory=list)
    heartbeat_age: list[float] = field(default_factory=list)


def deployment_environment(database: str, *, prefix: str) -> tuple[Path, str, dict]:
    """Return a fresh directory for the service's files, the database's URL and the service's
    environment (embedded ClickHouse in that directory); exit when wrk is missing."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (or run `make bench`)")
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    database_url = f"{POSTGRES_URL}/{database}"
    env = service_env(database_url) | {
        "VAR_DIR": str(var_dir),
        "CLICKHOUSE_URL": f"chdb://{var_dir / 'clickhouse'}",
        "LOG_LEVEL": "WARNING",
    }
    return var_dir, database_url, env


def main() -> int:
    args = _arguments()
    var_dir, database_url, env = deployment_environment(args.database, prefix="deployed-load-")
    broker = None
    if args.mode == "broker":
        env["CELERY_BROKER_URL"] = args.broker
        broker = redis.Redis.from_url(args.broker)
    else:
        env.pop("CELERY_BROKER_URL", None)
    deployment_prepare(env, database_url, users=args.connections)
    web = web_start(env, port=args.port, workers=args.workers)
    base = f"http://127.0.0.1:{args.port}"
    results = []
    try:
        for _ in range(args.rounds):
            for with_worker in (False, True):
                results.append(_run(args, env, base, database_url, broker, with_worker))
                print(_line(results[-1]), flush=True)
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        shutil.rmtree(var_dir / "clickhouse", ignore_errors=True)
        print(f"the service's output: {var_dir}/web.log and worker-*.log")
    print(
        f"\nmachine: {os.cpu_count()} cores; granian {args.workers} workers; mode {args.mode}; "
        f"wrk {args.connections} connections x {args.duration} s"
    )
    for result in results:
        print(_line(result))
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("broker", "embedded"), default="broker")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind, interleaved")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (users)")
    parser.add_argument("--workers", type=int, default=PRODUCTION_WORKERS, help="granian's")
    parser.add_argument("--port", type=int, default=8775)
    parser.add_argument("--database", default="midnite_deployed")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/4", help="a Redis db to own")
    return parser.parse_args()


def web_start(env: dict, *, port: int, workers: int):
    """The web tier as deployed: granian serving the service, its access log in VAR_DIR."""
    with (Path(env["VAR_DIR"]) / "web.log").open("ab") as access_log:
        return wsgi_server_start(
            env,
            server="granian",
            app="midnite_test.wsgi",
            port=port,
            workers=workers,
            output=access_log,
        )


def deployment_prepare(env: dict, database_url: str, *, users: int) -> None:
    """A fresh database with users 1 to `users`, and the embedded ClickHouse store migrated."""
    database_recreate(database_url.rsplit("/", 1)[1])
    for command in ("migrate", "clickhouse_migrate"):
        manage = [sys.executable, "manage.py", command, "-v", "0"]
        subprocess.run(manage, cwd=ROOT, env=env, check=True)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
            " updated_at) SELECT g, 'load', g::text, '', '{}', now(), now() "
            "FROM generate_series(1, %s) g",
            [users],
        )


def _run(args, env: dict, base: str, database_url: str, broker, with_worker: bool) -> dict:
    """One run: load for `args.duration` s while sampling, then time the drain."""
    if broker is not None:
        broker.flushdb()  # no queued task or pending wake-up left by the run before
    worker = worker_start(args.mode, env, base) if with_worker else []
    samples, stop = Samples(), threading.Event()
    sampler = threading.Thread(target=_sample, args=(base, broker, samples, stop))
    sampler.start()
    try:
        load = wrk_run(
            url=f"{base}/event",
            connections=args.connections,
            duration=args.duration,
            env={
                **os.environ,
                "BENCH_PATH": "/event",
                "BENCH_FIRST_USER": "1",
                "BENCH_FIRST_T": str(next_t(database_url)),
            },
        )
    finally:
        stop.set()
        sampler.join()
    # The drain is timed from the end of the load, or from the start of a worker that was not
    # running during it.
    drain_from = time.monotonic()
    worker = worker or worker_start(args.mode, env, base)
    drained = backlog_drained_at(base)
    drain_seconds = None if drained is None else drained - drain_from
    worker_stop(worker)
    return {
        "worker": with_worker,
        "rps": load["rps"],
        "p99_ms": load["p99_us"] / 1000,
        "non_2xx": load["non_2xx"],
        "errors": load["socket_errors"],
        "ready": dict(samples.ready),
        "queue_max": max(samples.queue, default=None),
        "queue_last": samples.queue[-1] if samples.queue else None,
        "backlog_max": max(samples.backlog, default=None),
        "heartbeat_age_max": max(samples.heartbeat_age, default=None),
        "drain_s": drain_seconds,
        "queue_trace": samples.queue[::10],
        "backlog_trace": samples.backlog[::10],
    }


def worker_start(mode: str, env: dict, base: str) -> list[subprocess.Popen]:
    """Start the worker tier; return it once it has reported its first heartbeat (60 s)."""
    if mode == "broker":
        celery = [str(BIN / "celery"), "--app", "midnite_test"]
        commands = [
            [*celery, "worker", "--loglevel", "WARNING", "--pool", "threads", "--concurrency", "2"]
        ]
    else:
        commands = [[sys.executable, "manage.py", "run_embedded_worker"]]
    started = time.monotonic()
    processes = []
    for n, command in enumerate(commands):
        # Each process's output, kept after the run.
        with (Path(env["VAR_DIR"]) / f"worker-{n}.log").open("ab") as log:
            processes.append(
                subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
    while time.monotonic() < started + 60:
        heartbeat = (status_read(base) or {}).get("worker_heartbeat")
        if heartbeat is not None and heartbeat["age_seconds"] < time.monotonic() - started:
            return processes
        time.sleep(0.5)
    worker_stop(processes)
    raise RuntimeError("the worker did not report within 60 s")


def worker_stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _sample(base: str, broker, samples: Samples, stop: threading.Event) -> None:
    """Once a second until `stop`: readiness, the Celery queue's length, backlog, heartbeat."""
    while not stop.wait(1.0):
        samples.ready[_get(f"{base}/healthz/ready")[0]] += 1
        if broker is not None:
            samples.queue.append(broker.llen("celery"))
        status = status_read(base)
        if status is not None:
            samples.backlog.append(sum(b["unshipped"] for b in status["outbox"]))
            heartbeat = status["worker_heartbeat"]
            if heartbeat is not None:
                samples.heartbeat_age.append(heartbeat["age_seconds"])


def backlog_drained_at(base: str, *, every: float = 0.5) -> float | None:
    """Return when the outbox backlog was first seen empty, looking every `every` s, or None
    after DRAIN_LIMIT_SECONDS."""
    deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
    while time.monotonic() < deadline:
        status = status_read(base)
        if status is not None and not sum(b["unshipped"] for b in status["outbox"]):
            return time.monotonic()
        time.sleep(every)
    return None


def status_read(base: str) -> dict | None:
    code, body = _get(f"{base}/healthz/status")
    return json.loads(body) if code == 200 else None


def _get(url: str) -> tuple[int | str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return "conn", repr(error).encode()


def next_t(database_url: str) -> int:
    """A `t` after every stored transaction and after now, so each run's requests are new."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT extract(epoch FROM max(occurred_at)) FROM events_event")
        latest = row.fetchone()[0]
    return int(max(latest or 0, time.time())) + 1


def _line(result: dict) -> str:
    drain = "not drained" if result["drain_s"] is None else f"{result['drain_s']:.1f} s"
    return (
        f"{'with the worker' if result['worker'] else 'web tier alone':16} "
        f"{result['rps']:6.0f} req/s  p99 {result['p99_ms']:6.1f} ms  "
        f"non-2xx {result['non_2xx']} errors {result['errors']}  ready {result['ready']}  "
        f"queue max {result['queue_max']} (every 10 s: {result['queue_trace']})  "
        f"backlog max {result['backlog_max']} (every 10 s: {result['backlog_trace']})  "
        f"heartbeat age max {result['heartbeat_age_max']}  drain {drain}"
    )


if __name__ == "__main__":
    sys.exit(main())
