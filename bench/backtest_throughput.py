#!/usr/bin/env python
"""Benchmark the alerts backtest against reading the same rows with a server-side cursor.

Runs, in one process and on one machine: a fresh database, migrated, seeded in SQL
(generate_series) with `--users` users and `--transactions` POST /event transactions spread
evenly over them, stored in time order as POST /event stores them, then ANALYZEd. Each round
interleaves two runs over the whole history: the floor, a psycopg named cursor reading the rows
the replay reads (alerts.backtest.REPLAY_SQL, the same fetch size) and nothing else; and the
replay of the default alert rules against a candidate with the withdraw threshold lowered to 50
(alerts.backtest.alerts_replay). Prints events/s of each run, the CPU seconds this process
used, the medians over rounds, and the ratio replay / read.

    python bench/backtest_throughput.py
    python bench/backtest_throughput.py --users 1000 --transactions 100000 --rounds 3
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime

import django
import psycopg
from servers import POSTGRES_URL, ROOT, database_recreate

FIRST_T = 1_700_000_000


def main() -> int:
    args = _arguments()
    database_url = f"{POSTGRES_URL}/{args.database}"
    os.environ.update(
        DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="midnite_test.settings", DEBUG="false"
    )
    if not args.reuse:
        database_recreate(args.database)
        migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=os.environ, check=True)
        started = time.perf_counter()
        _seed(database_url, users=args.users, transactions=args.transactions)
        print(f"seeded {args.transactions:,} transactions in {time.perf_counter() - started:.1f} s")
    sys.path.insert(0, str(ROOT))
    django.setup()
    runs = {"read": _read, "replay": _replay}
    results: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        for name, run in runs.items():
            if name not in args.only:
                continue
            wall, cpu, events = _timed(run)
            results[name].append(events / wall)
            print(
                f"round {round_ + 1} {name:6}: {events:,} events in {wall:.2f} s "
                f"({events / wall:,.0f} events/s; this process {cpu:.2f} s CPU)"
            )
    medians = {name: statistics.median(rates) for name, rates in results.items() if rates}
    for name, rate in medians.items():
        print(f"median {name:6}: {rate:,.0f} events/s")
    if len(medians) == 2:
        print(f"replay / read: {medians['replay'] / medians['read']:.3f} (goal: at least 0.2)")
    return 0


def _window() -> tuple[datetime, datetime]:
    """The whole seeded history: every transaction is judged."""
    return datetime.fromtimestamp(FIRST_T, tz=UTC), datetime(9999, 1, 1, tzinfo=UTC)


def _timed(run) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    events = run()
    return time.perf_counter() - wall, time.process_time() - cpu, events


def _read() -> int:
    """Read REPLAY_SQL's rows through a named cursor, as the replay does; return how many."""
    from alerts.backtest import FETCH_ROWS, replay_connection, replay_rows
    from alerts.stream import TRANSACTION_TYPES

    start, end = _window()
    rows = 0
    params = {"types": list(TRANSACTION_TYPES), "start": start, "end": end}
    with replay_connection() as reading, replay_rows(reading, params) as cursor:
        while batch := cursor.fetchmany(FETCH_ROWS):
            rows += len(batch)
    return rows


def _replay() -> int:
    """Replay the whole history: the default rules against the threshold lowered to 50."""
    from django.conf import settings

    from alerts.backtest import alerts_replay
    from alerts.engine import AlertRuleEngine
    from rule_sets.replay import ReplayTally

    source = settings.ALERT_RULES_PATH.read_text()
    lowered = source.replace("value: 100\n", "value: 50\n")
    assert lowered != source
    start, end = _window()
    tally = ReplayTally()
    alerts_replay(
        active=AlertRuleEngine.from_source(source),
        candidate=AlertRuleEngine.from_source(lowered),
        start=start,
        end=end,
        tally=tally,
        progress=lambda done, total: None,
    )
    return tally.events


def _seed(database_url: str, *, users: int, transactions: int) -> None:
    """Users 1..users and their transactions: one every 1 to 20 s per user, in time order."""
    per_user = transactions // users
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SELECT setseed(0.18)")
        connection.execute(
            "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
            " updated_at) SELECT g, 'bench', g::text, '', '{}', now(), now()"
            " FROM generate_series(1, %s::int) g",
            [users],
        )
        connection.execute(
            """
            INSERT INTO events_event
                (tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
                 properties, user_traits, received_at)
            SELECT 'default', 'txn:' || u || ':' || t, u,
                   CASE WHEN random() < 0.5 THEN 'deposit' ELSE 'withdraw' END, 'transactions',
                   to_timestamp(t), round((random() * 250)::numeric + 0.01, 2), '{}', '{}', now()
            FROM (
                SELECT u, %(first)s + n * 20 + floor(random() * 20)::int AS t
                FROM generate_series(0, %(per_user)s - 1) n, generate_series(1, %(users)s) u
            ) AS transactions
            ORDER BY t, u
            """,
            {"users": users, "per_user": per_user, "first": FIRST_T},
        )
        connection.execute("VACUUM ANALYZE events_event")
        connection.execute("VACUUM ANALYZE events_user")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", default="midnite_bench_backtest")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database a previous run seeded"
    )
    parser.add_argument("--only", nargs="+", default=["read", "replay"], choices=["read", "replay"])
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(main())
