#!/usr/bin/env python
"""POST /event as deployed, the worker running against the same web tier with it paused.

On a fresh PostgreSQL database: the web tier under granian with the production worker count
(`servers.PRODUCTION_WORKERS`), Redis as the Celery broker, and `celery worker` (which runs the
periodic sweeps itself: no beat) as bench/deployed_load.py starts it (chDB for ClickHouse, so the
worker's slots are threads).
The worker tier is started once and stays up; runs alternate between it paused (SIGSTOP: its
processes hold their connections but take no CPU, so the web tier has the box to itself) and it
running, `--rounds` times each. Each run loads POST /event for `--duration` s at
`--connections` connections with wrk (one user per connection), then resumes a paused worker
and times, from the end of the load, until the outbox backlog is empty (looked at every 0.1 s
through /healthz/status). It prints each run, then the medians: req/s, p50, p99 and the drain,
the CPU per request of the web tier, the worker tier and PostgreSQL's backends (each tier's
apart), and the ratio of req/s with the worker running to req/s with it paused. Each run's
line also gives the 1-minute load average at its start, the PostgreSQL sessions opened
during it, and the cores the worker tier (its processes and backends) used in each 0.1 s of
the load, as percentiles: a tick that bursts onto both cores shows in the p99 and the max.

    .venv/bin/python bench/deployed_throughput.py                 # 2 rounds x 20 s
    .venv/bin/python bench/deployed_throughput.py --rounds 3 --duration 30
"""

import argparse
import os
import shutil
import signal
import statistics
import sys
import threading
import time

import psycopg
import redis
from deployed_load import (
    deployment_environment,
    backlog_drained_at,
    deployment_prepare,
    next_t,
    web_start,
    worker_start,
    worker_stop,
)
from process_cpu import cpu_seconds, cpu_spent, process_tree
from servers import PRODUCTION_WORKERS, wrk_run

# How often the drain looks at the backlog: the goal is a drain within 1 s.
DRAIN_POLL_SECONDS = 0.1
# The application_name of the worker tier's PostgreSQL sessions (libpq reads PGAPPNAME), so its
# backends' CPU is told apart from the web tier's.
WORKER_APPLICATION = "bench-worker-tier"
TIERS = ("web", "worker", "pg_web", "pg_worker", "pg_other")
# The window over which the worker tier's cores in use are read (/proc counts 10 ms ticks).
CORES_WINDOW_SECONDS = 0.1


def main() -> int:
    args = _arguments()
    var_dir, database_url, env = deployment_environment(
        args.database, prefix="deployed-throughput-"
    )
    env["CELERY_BROKER_URL"] = args.broker
    redis.Redis.from_url(args.broker).flushdb()
    deployment_prepare(env, database_url, users=args.connections)
    base = f"http://127.0.0.1:{args.port}"
    web = web_start(env, port=args.port, workers=args.workers)
    worker = []
    results: dict[str, list[dict]] = {"paused": [], "running": []}
    try:
        worker = worker_start("broker", {**env, "PGAPPNAME": WORKER_APPLICATION}, base)
        # Warm-up, not counted: connections, caches, and a table past its first pages.
        _load(args, base, database_url, duration=args.warmup)
        _drained(base)
        for _ in range(args.rounds):
            for state in results:
                results[state].append(_run(args, base, database_url, web, worker, state))
                print(_line(state, results[state][-1]), flush=True)
    finally:
        worker_stop(worker)
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        shutil.rmtree(var_dir / "clickhouse", ignore_errors=True)
        print(f"the service's output: {var_dir}/web.log and worker-*.log")
    _report(args, results)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind, interleaved")
    parser.add_argument("--warmup", type=int, default=20, help="seconds of load not counted")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (users)")
    parser.add_argument("--workers", type=int, default=PRODUCTION_WORKERS, help="granian's")
    parser.add_argument("--port", type=int, default=8785)
    parser.add_argument("--database", default="midnite_deployed_throughput")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12", help="a Redis db to own")
    return parser.parse_args()


def _run(args, base: str, database_url: str, web, worker: list, state: str) -> dict:
    """One run with the worker tier `state` (paused or running); the drain after it. The CPU
    per request of the web tier, the worker tier and PostgreSQL's backends (the web tier's,
    the worker tier's and the others: autovacuum) is counted from the start of the load to
    the end of the drain, so a paused worker's catching up counts too; and the PostgreSQL
    sessions opened meanwhile, whose backends end before they can be counted."""
    if state == "paused":
        _pause(worker, database_url)
    load_average = os.getloadavg()[0]
    with psycopg.connect(database_url, autocommit=True) as monitor:
        processes = {
            "web": process_tree(web.pid),
            "worker": [pid for process in worker for pid in process_tree(process.pid)],
        }
        before = _cpu(monitor, processes)
        sessions = sessions_opened(monitor)
        cores = _Cores(processes["worker"] + _backends(monitor)["pg_worker"])
        cores.start()
        try:
            load = _load(args, base, database_url, duration=args.duration)
        finally:
            load_end = time.monotonic()
            worker_cores = cores.stop()
            _signal(worker, signal.SIGCONT)
        drained = _drained(base)
        after = _cpu(monitor, processes)
        sessions = sessions_opened(monitor) - sessions
    requests = max(load["requests"], 1)
    return {
        "rps": load["rps"],
        "p50_ms": load["p50_us"] / 1000,
        "p99_ms": load["p99_us"] / 1000,
        "non_2xx": load["non_2xx"],
        "errors": load["socket_errors"],
        "drain_s": None if drained is None else drained - load_end,
        "load_average": load_average,
        "sessions": sessions,
        **worker_cores,
        **{
            f"{tier}_cpu_ms": 1000 * cpu_spent(before[tier], after[tier]) / requests
            for tier in TIERS
        },
    }


def _cpu(monitor: psycopg.Connection, processes: dict[str, list[int]]) -> dict[str, dict]:
    """CPU seconds so far of each tier's processes, and of PostgreSQL's backends by client."""
    tiers = processes | _backends(monitor)
    return {tier: cpu_seconds(pids) for tier, pids in tiers.items()}


def _backends(monitor: psycopg.Connection) -> dict[str, list[int]]:
    """The pids of this database's PostgreSQL backends: the web tier's, the worker tier's, and
    the others (autovacuum)."""
    backends = {"pg_web": [], "pg_worker": [], "pg_other": []}
    for pid, application, backend_type in monitor.execute(
        "SELECT pid, application_name, backend_type FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ):
        if application == WORKER_APPLICATION:
            backends["pg_worker"].append(pid)
        elif backend_type == "client backend":
            backends["pg_web"].append(pid)
        else:
            backends["pg_other"].append(pid)
    return backends


class _Cores(threading.Thread):
    """The cores `pids` use, read every CORES_WINDOW_SECONDS until stopped: whether the worker
    tier's work comes in bursts that take both cores from the web tier for a while."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.used, self.stopping = pids, [], threading.Event()

    def run(self) -> None:
        last, at = cpu_seconds(self.pids), time.monotonic()
        while not self.stopping.wait(CORES_WINDOW_SECONDS):
            now, now_at = cpu_seconds(self.pids), time.monotonic()
            self.used.append(cpu_spent(last, now) / (now_at - at))
            last, at = now, now_at

    def stop(self) -> dict:
        """Stop; return the percentiles of the cores used per window."""
        self.stopping.set()
        self.join()
        used = sorted(self.used) or [0.0]
        return {
            f"cores_{name}": used[min(int(share * len(used)), len(used) - 1)]
            for name, share in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        }


def sessions_opened(monitor: psycopg.Connection) -> int:
    """The sessions ever opened on this database, as PostgreSQL's statistics say now."""
    monitor.execute("SELECT pg_stat_clear_snapshot()")
    return monitor.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()[0]


def _load(args, base: str, database_url: str, *, duration: int) -> dict:
    env = {
        **os.environ,
        "BENCH_PATH": "/event",
        "BENCH_FIRST_USER": "1",
        "BENCH_FIRST_T": str(next_t(database_url)),
    }
    return wrk_run(url=f"{base}/event", connections=args.connections, duration=duration, env=env)


def _drained(base: str) -> float | None:
    return backlog_drained_at(base, every=DRAIN_POLL_SECONDS)


def _pause(worker: list, database_url: str) -> None:
    """Stop the worker tier between transactions: stopped inside one, it would hold its locks
    (a user's row, which POST /event locks too) for the whole run."""
    deadline = time.monotonic() + 30
    with psycopg.connect(database_url, autocommit=True) as monitor:
        while time.monotonic() < deadline:
            _signal(worker, signal.SIGSTOP)
            in_transaction = monitor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            ).fetchone()[0]
            if not in_transaction:
                return
            _signal(worker, signal.SIGCONT)
            time.sleep(0.05)
    raise RuntimeError("the worker tier was never outside a transaction for 30 s")


def _signal(processes: list, signum: int) -> None:
    for process in processes:
        process.send_signal(signum)


def _line(state: str, result: dict) -> str:
    drain = "not drained" if result["drain_s"] is None else f"{result['drain_s']:.2f} s"
    return (
        f"worker {state:8} {result['rps']:6.0f} req/s  p50 {result['p50_ms']:5.1f} ms"
        f"  p99 {result['p99_ms']:6.1f} ms  non-2xx {result['non_2xx']} errors {result['errors']}"
        f"  drain {drain}  load {result['load_average']:.1f}  sessions {result['sessions']}"
        f"  {_cpu_line(result)}; the worker tier's cores a {CORES_WINDOW_SECONDS} s window:"
        f" p50 {result['cores_p50']:.2f}, p90 {result['cores_p90']:.2f}, p99"
        f" {result['cores_p99']:.2f}, max {result['cores_max']:.2f}"
    )


def _cpu_line(result: dict) -> str:
    return (
        f"CPU per request: web {result['web_cpu_ms']:.2f} ms, worker {result['worker_cpu_ms']:.2f}"
        f" ms, PostgreSQL web {result['pg_web_cpu_ms']:.2f} ms, worker"
        f" {result['pg_worker_cpu_ms']:.2f} ms, other {result['pg_other_cpu_ms']:.2f} ms"
    )


def _report(args, results: dict[str, list[dict]]) -> None:
    print(
        f"\nmachine: {os.cpu_count()} cores; granian {args.workers} workers; celery worker "
        f"(threads, 2), no beat; wrk {args.connections} connections; median of {args.rounds} "
        f"runs x {args.duration} s each"
    )
    medians = {}
    for state, runs in results.items():
        drains = [run["drain_s"] for run in runs]
        medians[state] = {
            "rps": statistics.median(run["rps"] for run in runs),
            "p50_ms": statistics.median(run["p50_ms"] for run in runs),
            "p99_ms": statistics.median(run["p99_ms"] for run in runs),
            "drain_s": None if None in drains else statistics.median(drains),
            **{
                f"{tier}_cpu_ms": statistics.median(run[f"{tier}_cpu_ms"] for run in runs)
                for tier in TIERS
            },
        }
        median = medians[state]
        drain = "not drained" if median["drain_s"] is None else f"{median['drain_s']:.2f} s"
        print(
            f"worker {state:8} {median['rps']:6.0f} req/s  p50 {median['p50_ms']:5.1f} ms  p99"
            f" {median['p99_ms']:6.1f} ms  drain after the load {drain}  {_cpu_line(median)}"
        )
    running, paused = medians["running"], medians["paused"]
    print(
        f"\nrunning / paused, req/s: {running['rps'] / paused['rps']:.2f} (goal >= 0.85); "
        f"p99 running {running['p99_ms']:.1f} ms (goal < 50); drain running "
        f"{running['drain_s'] if running['drain_s'] is None else round(running['drain_s'], 2)} s"
        " (goal <= 1)"
    )


if __name__ == "__main__":
    sys.exit(main())
