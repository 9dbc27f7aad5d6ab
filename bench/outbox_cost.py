#!/usr/bin/env python
"""What the outbox costs POST /event: before/after commits, and the outbox switched off, A/B.

Serves four targets at once with gunicorn on PostgreSQL, each idle while another is measured:

- before: a checkout of the commit before the outbox (`--before`, e.g. a git worktree);
- after: this checkout (`--after`), as it is;
- after, without outbox: the same checkout with `transaction_ingest`'s outbox write (and so its
  Celery wake-up) switched off by `bench/wsgi_without.py`, so that only the outbox differs;
- after, without wake-up: the outbox rows written, the Celery wake-up after commit not sent.

Each target has its own database. Then drives them in turn with wrk (`bench/transactions.lua`,
POST /event, 16 users with short histories, one connection each) for `--duration` seconds per
run, `--rounds` times, rotating the order every round. Runs this short and this interleaved
share the machine's slow swings in load, so each round's ratio compares like with like; the
report gives the median of each figure and of the per-round ratios. Besides req/s and latency
it counts CPU per request, from /proc/<pid>/stat of the target's gunicorn processes and of its
PostgreSQL backends: on a machine shared with other work, CPU per request moves much less than
throughput does.

    git worktree add ../pre-outbox c8afc54      # from the top of this checkout
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 .venv/bin/python bench/outbox_cost.py \\
        --before ../pre-outbox --rounds 10 --duration 5
    redis-cli -n 14 flushdb; git worktree remove --force ../pre-outbox
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from servers import ROOT, gunicorn_start, wrk_run

SERVER_URL = "postgres://postgres@127.0.0.1:5432"
USERS = range(1, 17)
HISTORY = 10


def main() -> int:
    args = _arguments()
    targets = [
        {"label": "before", "root": args.before, "database": f"{args.database}_before"},
        {"label": "after", "root": args.after, "database": f"{args.database}_after"},
        {
            "label": "after, without outbox",
            "root": args.after,
            "database": f"{args.database}_without",
            "without": "outbox",
        },
        {
            "label": "after, without wake-up",
            "root": args.after,
            "database": f"{args.database}_nowake",
            "without": "wakeup",
        },
    ]
    for port, target in enumerate(targets, start=args.port):
        target["port"] = port
        target["url"] = f"{SERVER_URL}/{target['database']}"
    for target in targets:
        _prepare(target["database"], target["root"])
    servers = [_start_gunicorn(target, workers=args.workers) for target in targets]
    for target, server in zip(targets, servers):
        target["server"] = server
        target["workers"] = _children(server.pid)
    results: dict[str, list[dict]] = {target["label"]: [] for target in targets}
    try:
        for target in targets:
            _wrk(target, duration=2)  # warm up
        for round_ in range(args.rounds):
            shift = round_ % len(targets)
            for target in targets[shift:] + targets[:shift]:
                time.sleep(1)  # let the last target finish the requests still queued
                backends = _backend_pids(target)
                cpu_before = _cpu_ticks([target["server"].pid, *target["workers"], *backends])
                result = _wrk(target, duration=args.duration)
                backends |= _backend_pids(target)
                gunicorn = _cpu_ticks([target["server"].pid, *target["workers"]])
                postgres = _cpu_ticks(backends)
                ticks = os.sysconf("SC_CLK_TCK")
                result["web_cpu_ms"] = (
                    _spent(cpu_before, gunicorn) / ticks * 1000 / result["requests"]
                )
                result["db_cpu_ms"] = (
                    _spent(cpu_before, postgres) / ticks * 1000 / result["requests"]
                )
                results[target["label"]].append(result)
            print(
                f"round {round_ + 1}: "
                + ", ".join(f"{label} {runs[-1]['rps']:.0f}" for label, runs in results.items()),
                flush=True,
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
    parser.add_argument("--before", type=Path, required=True, help="checkout before the outbox")
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout with the outbox")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per target")
    parser.add_argument("--port", type=int, default=8771, help="first of four ports")
    parser.add_argument("--database", default="midnite_bench_outbox_cost", help="name prefix")
    return parser.parse_args()


def _prepare(database: str, root: Path) -> None:
    """Create, migrate (with `root`'s own migrations) and seed 16 users with 10 events each."""
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')
    env = {**os.environ, "DATABASE_URL": f"{SERVER_URL}/{database}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=root, env=env, check=True
    )
    with psycopg.connect(f"{SERVER_URL}/{database}", autocommit=True) as connection:
        columns = {
            row[0]
            for row in connection.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'events_user'"
            )
        }
        # The user's name became first_name and last_name with the outbox commit.
        names = (
            ("name", "'bench ' || g")
            if "name" in columns
            else ("first_name, last_name", "'bench', g::text")
        )
        connection.execute(
            f"INSERT INTO events_user (id, {names[0]}, email, traits, created_at, updated_at)"
            f" SELECT g, {names[1]}, '', '{{}}', now(), now()"
            " FROM generate_series(%(first)s::int, %(last)s::int) g",
            {"first": USERS.start, "last": USERS.stop - 1},
        )
        # Events keep the user's traits since the notifications commit.
        traits = (
            (", user_traits", ", '{}'")
            if _has_column(connection, "events_event", "user_traits")
            else ("", "")
        )
        connection.execute(
            "INSERT INTO events_event (tenant_id, event_id, user_id, event_type, source,"
            f" occurred_at, amount, properties, received_at{traits[0]})"
            " SELECT 'default', 'txn:' || u || ':' || s, u,"
            " CASE WHEN s %% 3 = 0 THEN 'withdraw' ELSE 'deposit' END, 'transactions',"
            f" to_timestamp(s), (s %% 50 + 1)::numeric, '{{}}', now(){traits[1]}"
            " FROM generate_series(%(first)s::int, %(last)s::int) u,"
            " generate_series(1, %(events)s::int) s",
            {"first": USERS.start, "last": USERS.stop - 1, "events": HISTORY},
        )
        connection.execute("VACUUM ANALYZE")


def _has_column(connection: psycopg.Connection, table: str, column: str) -> bool:
    return bool(
        connection.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [table, column],
        ).fetchone()
    )


def _start_gunicorn(target: dict, *, workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": target["url"],
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # Both sides serve requests without an API key and unthrottled (the "before" side
        # predates keys and ignores these).
        "ALLOW_ANONYMOUS": "true",
        "API_THROTTLE_RATE": "",
    }
    app = "midnite_test.wsgi"
    if target.get("without"):
        env["BENCH_WITHOUT"] = target["without"]
        app = "bench.wsgi_without"
    return gunicorn_start(
        env, app=app, port=target["port"], workers=workers, cwd=Path(target["root"])
    )


def _wrk(target: dict, *, duration: int) -> dict:
    with psycopg.connect(target["url"]) as connection:
        row = connection.execute("SELECT extract(epoch FROM max(occurred_at)) FROM events_event")
        first_t = int(row.fetchone()[0]) + 1
    env = {
        **os.environ,
        "BENCH_PATH": "/event",
        "BENCH_FIRST_USER": str(USERS.start),
        "BENCH_FIRST_T": str(first_t),
    }
    url = f"http://127.0.0.1:{target['port']}/event"
    return wrk_run(url=url, connections=len(USERS), duration=duration, env=env)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def _backend_pids(target: dict) -> set[int]:
    """The PostgreSQL backends serving the target's database, this connection's excepted."""
    with psycopg.connect(target["url"]) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in rows}


def _cpu_ticks(pids) -> dict[int, int]:
    """User plus system CPU ticks of each live process in `pids`."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def _spent(before: dict[int, int], after: dict[int, int]) -> int:
    return sum(value - before.get(pid, 0) for pid, value in after.items())


def _report(args: argparse.Namespace, results: dict[str, list[dict]]) -> None:
    print(
        f"\nmachine: {os.cpu_count()} cores; gunicorn {args.workers} sync workers per target; "
        f"wrk {len(USERS)} connections, POST /event; median of {args.rounds} runs x "
        f"{args.duration} s, interleaved\n"
    )
    print(
        f"{'target':24} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'web CPU':>8} {'db CPU':>7}"
        f" {'non-2xx':>8} {'errors':>7}   (CPU: ms per request)"
    )
    for label, runs in results.items():
        print(
            f"{label:24} {statistics.median(r['rps'] for r in runs):7.0f}"
            f" {statistics.median(r['p50_us'] for r in runs) / 1000:7.2f}"
            f" {statistics.median(r['p99_us'] for r in runs) / 1000:7.2f}"
            f" {statistics.median(r['web_cpu_ms'] for r in runs):8.2f}"
            f" {statistics.median(r['db_cpu_ms'] for r in runs):7.2f}"
            f" {sum(r['non_2xx'] for r in runs):8d} {sum(r['socket_errors'] for r in runs):7d}"
        )
    before, after, without, nowake = results.values()
    for name, numerator, denominator in (
        ("after / before", after, before),
        ("after / after without outbox", after, without),
        ("after without wake-up / without outbox", nowake, without),
        ("after without outbox / before", without, before),
    ):
        ratios = [a["rps"] / b["rps"] for a, b in zip(numerator, denominator)]
        cpu = [
            (a["web_cpu_ms"] + a["db_cpu_ms"]) / (b["web_cpu_ms"] + b["db_cpu_ms"])
            for a, b in zip(numerator, denominator)
        ]
        print(
            f"{name:38} req/s: median {statistics.median(ratios):.2f}"
            f" (rounds {min(ratios):.2f} to {max(ratios):.2f});"
            f" CPU per request: median {statistics.median(cpu):.2f}"
            f" (rounds {min(cpu):.2f} to {max(cpu):.2f})"
        )


if __name__ == "__main__":
    sys.exit(main())
