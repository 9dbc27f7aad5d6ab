#!/usr/bin/env python
"""Benchmark POST /event under gunicorn on PostgreSQL against a bare Django JSON view.

Runs, in one go and on one machine: a fresh database, users with 10 and with 100,000 events of
history, gunicorn serving the service, and wrk as the load generator (one connection per thread,
one user per connection, so a user's transactions arrive in t order). Prints requests/s, p50 and
p99 for the ceiling view, for POST /event with short histories and with 100,000-event histories
(each the median of interleaved rounds), and the ratios between them.

    make bench                     # installs wrk if missing, then runs this
    python bench/event_throughput.py --duration 10 --rounds 3 --concurrency 16 --workers 2
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

import psycopg
from servers import ROOT, gunicorn_start, wrk_run

SERVER_URL = "postgres://postgres@127.0.0.1:5432"
HISTORY_LONG = 100_000
HISTORY_SHORT = 10


def main() -> int:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (or run `make bench`)")
    database_url = f"{SERVER_URL}/{args.database}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # Measure the request path, not API-key look-ups or the throttle's counters.
        "ALLOW_ANONYMOUS": "true",
        "API_THROTTLE_RATE": "",
    }
    if args.without:
        env["BENCH_WITHOUT"] = args.without
    short_users = range(1, args.concurrency + 1)
    long_users = range(1001, 1001 + args.concurrency)
    if not args.reuse_database:
        _recreate_database(args.database)
        migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=env, check=True)
        seconds = _seed(database_url, short_users=short_users, long_users=long_users)
        print(f"seeded {args.concurrency} users x {HISTORY_LONG} events in {seconds:.0f} s")

    app = "bench.wsgi_without" if args.without else "midnite_test.wsgi"
    server = gunicorn_start(env, app=app, port=args.port, workers=args.workers)
    try:
        runs = [
            ("ceiling: bare Django JSON view", "/bench/ceiling", short_users.start),
            (f"POST /event, {HISTORY_SHORT}-event users", "/event", short_users.start),
            (f"POST /event, {HISTORY_LONG}-event users", "/event", long_users.start),
        ]
        _wrk(args, path="/bench/ceiling", first_user=short_users.start, first_t=0, duration=3)
        results = {label: [] for label, _, _ in runs}
        # Rounds interleave the runs, so a slow spell of the machine hits all of them alike.
        for _ in range(args.rounds):
            for label, path, first_user in runs:
                first_t = _latest_t(database_url) + 1
                results[label].append(
                    _wrk(
                        args,
                        path=path,
                        first_user=first_user,
                        first_t=first_t,
                        duration=args.duration,
                    )
                )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    _report(args, results)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs of each kind")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (and users)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
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


def _recreate_database(name: str) -> None:
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _seed(database_url: str, *, short_users: range, long_users: range) -> float:
    """Insert the users and their histories with set-based SQL; return the seconds it took."""
    started = time.monotonic()
    history = """
        INSERT INTO events_event
            (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
             received_at)
        SELECT 'default', 'txn:' || u || ':' || s, u,
               CASE WHEN s %% 3 = 0 THEN 'withdraw' ELSE 'deposit' END, 'transactions',
               to_timestamp(s), (s %% 50 + 1)::numeric, '{}', now()
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


def _latest_t(database_url: str) -> int:
    """Return the latest transaction time in the database, so each run's t values are new."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT extract(epoch FROM max(occurred_at)) FROM events_event")
        return int(row.fetchone()[0])


def _wrk(args, *, path: str, first_user: int, first_t: int, duration: int) -> dict:
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_FIRST_USER": str(first_user),
        "BENCH_FIRST_T": str(first_t),
    }
    url = f"http://127.0.0.1:{args.port}{path}"
    return wrk_run(url=url, connections=args.concurrency, duration=duration, env=env)


def _report(args, results: dict[str, list[dict]]) -> None:
    """Print the median of each figure over the rounds, and the ratios of the medians."""
    print(
        f"\nmachine: {os.cpu_count()} cores; gunicorn {args.workers} sync workers; "
        f"wrk {args.concurrency} connections; median of {args.rounds} runs x {args.duration} s\n"
    )
    print(f"{'run':44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}")
    medians = {}
    for label, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        medians[label] = median
        print(
            f"{label:44} {median['rps']:8.0f} {median['p50_us'] / 1000:8.2f} "
            f"{median['p99_us'] / 1000:8.2f} {sum(r['non_2xx'] for r in runs):8d} "
            f"{sum(r['socket_errors'] for r in runs):7d}"
        )
    ceiling, short, long_ = medians.values()
    print(f"\nPOST /event / ceiling, req/s: {short['rps'] / ceiling['rps']:.2f}")
    ratio = long_["rps"] / short["rps"]
    print(f"{HISTORY_LONG}-event / {HISTORY_SHORT}-event users, req/s: {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
