#!/usr/bin/env python
"""POST /event for one user over one connection, with a short and a long history, never analyzed.

A fresh deployment serves before its first ANALYZE (this machine runs PostgreSQL with autovacuum
off): the planner knows the table's size but nothing of its contents. This measures what a
user's history then costs `POST /event`: a fresh database, migrated and never analyzed, one user
with `--history` transactions and, for each round, a new user with HISTORY_SHORT of them (a
loaded user's history grows by thousands a run); after a 3 s warm-up, each is loaded in turn by
wrk over one connection, `--rounds` times. Prints req/s and p99 of each run, then the medians
and the long / short ratio.

    python bench/history_growth.py                       # 33,000 events, 3 rounds of 10 s
    python bench/history_growth.py --history 100000 --rounds 5
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys

import psycopg
from servers import POSTGRES_URL, ROOT, database_recreate, wrk_run, wsgi_server_start

HISTORY_SHORT = 10
LONG_USER = 1


def main() -> int:
    args = _arguments()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (or run `make bench`)")
    database_url = f"{POSTGRES_URL}/{args.database}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "ALLOW_ANONYMOUS": "true",
        "API_THROTTLE_RATE": "",
    }
    database_recreate(args.database)
    migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    # One more short user warms the workers up (3 s, not counted).
    short_users = range(LONG_USER + 1, LONG_USER + 2 + args.rounds)
    _seed(database_url, history=args.history, short_users=short_users)
    server = wsgi_server_start(
        env, server="granian", app="midnite_test.wsgi", port=args.port, workers=args.workers
    )
    results: dict[str, list[dict]] = {"short": [], "long": []}
    try:
        _load(database_url, env, port=args.port, user=short_users[-1], duration=3)
        for short_user in short_users[:-1]:
            for label, user in (("short", short_user), ("long", LONG_USER)):
                result = _load(database_url, env, port=args.port, user=user, duration=args.duration)
                results[label].append(result)
                print(
                    f"{label:5} {result['rps']:8.0f} req/s  p99 {result['p99_us'] / 1000:6.1f} ms"
                    f"  non-2xx {result['non_2xx']}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait()
    short, long = (statistics.median(r["rps"] for r in results[k]) for k in ("short", "long"))
    print(f"median req/s: {HISTORY_SHORT} events {short:.0f}, {args.history:,} events {long:.0f}")
    print(f"long / short: {long / short:.2f}")
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=33_000, help="the long user's events")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each user")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--database", default="midnite_bench_history")
    return parser.parse_args()


def _seed(database_url: str, *, history: int, short_users: range) -> None:
    """The users and their transactions, as POST /event stores them; no ANALYZE."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
            " updated_at) SELECT g, 'bench', g::text, '', '{}', now(), now()"
            " FROM generate_series(%s::int, %s::int) g",
            [LONG_USER, short_users.stop - 1],
        )
        histories = [(LONG_USER, history), *((user, HISTORY_SHORT) for user in short_users)]
        for user, events in histories:
            connection.execute(
                """
                INSERT INTO events_event
                    (tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
                     properties, user_traits, received_at)
                SELECT 'default', 'txn:' || %(user)s || ':' || s, %(user)s,
                       CASE WHEN s %% 3 = 0 THEN 'withdraw' ELSE 'deposit' END, 'transactions',
                       to_timestamp(s), (s %% 50 + 1)::numeric, '{}', '{}', now()
                FROM generate_series(1, %(events)s::int) s
                """,
                {"user": user, "events": events},
            )


def _load(database_url: str, env: dict, *, port: int, user: int, duration: int) -> dict:
    with psycopg.connect(database_url, autocommit=True) as connection:
        (latest,) = connection.execute(
            "SELECT coalesce(max(extract(epoch FROM occurred_at)), 0)::bigint FROM events_event"
        ).fetchone()
    script_env = {
        **env,
        "BENCH_PATH": "/event",
        "BENCH_FIRST_USER": str(user),
        "BENCH_FIRST_T": str(latest + 1),
    }
    return wrk_run(url=f"http://127.0.0.1:{port}", connections=1, duration=duration, env=script_env)


if __name__ == "__main__":
    raise SystemExit(main())
