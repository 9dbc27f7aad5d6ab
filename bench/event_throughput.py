#!/usr/bin/env python
"""Benchmark POST /event on PostgreSQL against the liveness view and a bare WSGI floor.

Runs, in one go and on one machine: a fresh database, users with 10 and with 100,000 events of
history, the service and the floor (bench/wsgi_floor.py: the same writes from psycopg, no
Django) under the production WSGI server, and wrk as the load generator (one connection per
thread, one user per connection, so a user's transactions arrive in t order). For each of the
liveness view, the floor and POST /event for 10-event and 100,000-event users it prints req/s,
p50, p99 and the CPU per request of the server's processes and of PostgreSQL's backends (read
from /proc; the median of interleaved rounds), then the ratios and the goals.

    make bench                     # installs wrk if missing, then runs this
    python bench/event_throughput.py --duration 10 --rounds 3 --concurrency 16 --workers 3
    python bench/event_throughput.py --server gunicorn          # the other server
    python bench/event_throughput.py --reuse-database --without outbox   # A/B: the outbox's cost
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import psycopg
from process_cpu import cpu_seconds, cpu_spent, postgres_backends, process_tree
from servers import (
    POSTGRES_URL,
    PRODUCTION_WORKERS,
    ROOT,
    database_recreate,
    wrk_run,
    wsgi_server_start,
)

HISTORY_LONG = 100_000
HISTORY_SHORT = 10


@dataclass(frozen=True)
class Run:
    label: str
    port: int
    path: str
    first_user: int
    method: str = "POST"


def service_env(database_url: str) -> dict[str, str]:
    """The environment the service is served with against `database_url`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # Measure the request path, not API-key look-ups or the throttle's counters.
        "ALLOW_ANONYMOUS": "true",
        "API_THROTTLE_RATE": "",
    }


def main() -> int:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (or run `make bench`)")
    database_url = f"{POSTGRES_URL}/{args.database}"
    env = service_env(database_url)
    if args.without:
        env["BENCH_WITHOUT"] = args.without
    short_users = range(1, args.concurrency + 1)
    long_users = range(1001, 1001 + args.concurrency)
    if not args.reuse_database:
        database_recreate(args.database)
        migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True)
        seconds = _seed(database_url, short_users=short_users, long_users=long_users)
        print(f"seeded {args.concurrency} users x {HISTORY_LONG} events in {seconds:.0f} s")

    app = "bench.wsgi_without" if args.without else "midnite_test.wsgi"
    floor_port = args.port + 1
    servers = [
        wsgi_server_start(env, server=args.server, app=app, port=args.port, workers=args.workers),
        wsgi_server_start(
            env, server=args.server, app="bench.wsgi_floor", port=floor_port, workers=args.workers
        ),
    ]
    runs = [
        Run("liveness: GET /healthz/live", args.port, "/healthz/live", 1, method="GET"),
        Run("floor: bare WSGI + psycopg, same writes", floor_port, "/event", short_users.start),
        Run(f"POST /event, {HISTORY_SHORT}-event users", args.port, "/event", short_users.start),
        Run(f"POST /event, {HISTORY_LONG}-event users", args.port, "/event", long_users.start),
    ]
    try:
        for run in runs:
            _measure(args, run, servers, database_url, duration=3)
        results: dict[str, list[dict]] = {run.label: [] for run in runs}
        # Rounds interleave the runs, so a slow spell of the machine hits all of them alike.
        for _ in range(args.rounds):
            for run in runs:
                results[run.label].append(
                    _measure(args, run, servers, database_url, duration=args.duration)
                )
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
    _report(args, results)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs of each kind")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (and users)")
    parser.add_argument(
        "--workers", type=int, default=PRODUCTION_WORKERS, help="server worker processes"
    )
    parser.add_argument("--port", type=int, default=8765, help="the service; the floor: +1")
    parser.add_argument("--database", default="midnite_bench")
    parser.add_argument(
        "--reuse-database", action="store_true", help="skip creating and seeding the database"
    )
    parser.add_argument(
        "--without",
        choices=("outbox", "wakeup"),
        help="serve with the outbox write, or only its Celery wake-up, switched off (A/B)",
    )
    return parser.parse_args()


def _seed(database_url: str, *, short_users: range, long_users: range) -> float:
    """Insert the users and their histories with set-based SQL; return the seconds it took."""
    started = time.monotonic()
    history = """
        INSERT INTO events_event
            (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
             user_traits, received_at)
        SELECT 'default', 'txn:' || u || ':' || s, u,
               CASE WHEN s %% 3 = 0 THEN 'withdraw' ELSE 'deposit' END, 'transactions',
               to_timestamp(s), (s %% 50 + 1)::numeric, '{}', '{}', now()
        FROM generate_series(%(first)s::int, %(last)s::int) u,
             generate_series(1, %(events)s::int) s
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        for users in (short_users, long_users):
            connection.execute(
                "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
                " updated_at) SELECT g, 'bench', g::text, '', '{}', now(), now() "
                "FROM generate_series(%(first)s::int, %(last)s::int) g",
                {"first": users.start, "last": users.stop - 1},
            )
        for users, events in ((short_users, HISTORY_SHORT), (long_users, HISTORY_LONG)):
            params = {"first": users.start, "last": users.stop - 1, "events": events}
            connection.execute(history, params)
        connection.execute("VACUUM ANALYZE")
    return time.monotonic() - started


def _measure(args, run: Run, servers, database_url: str, *, duration: int) -> dict:
    """Load `run` for `duration` s; return wrk's figures and the CPU spent per request."""
    with psycopg.connect(database_url, autocommit=True) as monitor:
        first_t = _latest_t(monitor) + 1
        server_pids = [pid for server in servers for pid in process_tree(server.pid)]
        workers_before = cpu_seconds(server_pids)
        postgres_before = cpu_seconds(postgres_backends(monitor))
        env = {
            **os.environ,
            "BENCH_PATH": run.path,
            "BENCH_METHOD": run.method,
            "BENCH_FIRST_USER": str(run.first_user),
            "BENCH_FIRST_T": str(first_t),
        }
        url = f"http://127.0.0.1:{run.port}{run.path}"
        result = wrk_run(url=url, connections=args.concurrency, duration=duration, env=env)
        workers = cpu_seconds(server_pids)
        postgres = cpu_seconds(postgres_backends(monitor))
        result["alerts_per_event"] = _alerts_per_event(monitor, first_t=first_t)
    requests = max(result["requests"], 1)
    result["worker_cpu_ms"] = 1000 * cpu_spent(workers_before, workers) / requests
    result["postgres_cpu_ms"] = 1000 * cpu_spent(postgres_before, postgres) / requests
    return result


def _latest_t(connection: psycopg.Connection) -> int:
    """Return the latest transaction time in the database, so each run's t values are new."""
    row = connection.execute("SELECT extract(epoch FROM max(occurred_at)) FROM events_event")
    return int(row.fetchone()[0])


def _alerts_per_event(connection: psycopg.Connection, *, first_t: int) -> float:
    """Return the alerts stored per event stored since `first_t` (the run's), 0 when none:
    the floor and the service must raise the same alerts for the same mix."""
    row = connection.execute(
        "SELECT count(DISTINCT e.id), count(a.id) FROM events_event e "
        "LEFT JOIN events_alert a ON a.event_id = e.id "
        "WHERE e.tenant_id = 'default' AND e.occurred_at >= to_timestamp(%s)",
        [first_t],
    ).fetchone()
    events, alerts = row
    return alerts / events if events else 0.0


def _report(args, results: dict[str, list[dict]]) -> None:
    """Print the median of each figure over the rounds, the ratios and the goals."""
    print(
        f"\nmachine: {os.cpu_count()} cores; {args.server}, {args.workers} workers; "
        f"wrk {args.concurrency} connections; median of {args.rounds} runs x {args.duration} s\n"
    )
    print(
        f"{'run':46} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'worker CPU':>11} "
        f"{'PG CPU':>7} {'alerts/ev':>9} {'non-2xx':>8} {'errors':>7}"
    )
    medians = {}
    for label, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        medians[label] = median
        print(
            f"{label:46} {median['rps']:7.0f} {median['p50_us'] / 1000:7.2f} "
            f"{median['p99_us'] / 1000:7.2f} {median['worker_cpu_ms']:8.2f} ms "
            f"{median['postgres_cpu_ms']:4.2f} ms {median['alerts_per_event']:9.3f} "
            f"{sum(r['non_2xx'] for r in runs):8d} "
            f"{sum(r['socket_errors'] for r in runs):7d}"
        )
    _liveness, floor, short, long_ = medians.values()
    to_floor = short["rps"] / floor["rps"]
    long_to_short = long_["rps"] / short["rps"]
    worst_p99 = max(short["p99_us"], long_["p99_us"]) / 1000
    print(f"\nPOST /event / floor, req/s: {to_floor:.2f} (goal >= 0.75)")
    print(f"POST /event, req/s: {short['rps']:.0f} (goal >= 600)")
    print(f"POST /event, worst p99: {worst_p99:.1f} ms (goal < 50)")
    print(
        f"{HISTORY_LONG}-event / {HISTORY_SHORT}-event users, req/s: {long_to_short:.2f} "
        "(goal >= 0.90)"
    )


if __name__ == "__main__":
    sys.exit(main())
