#!/usr/bin/env python
"""Benchmark POST /events/bulk on PostgreSQL against a bare COPY of the same rows.

Runs, in one go and on one machine: a fresh database, the service (throttling off, an API key
sent with every request) under gunicorn (2 sync workers, the default, as the benchmarks before
measured it) or under granian as the Dockerfile deploys it (`--server granian --workers 3`: one
blocking thread a worker process, one worker more than the cores), and a load generator of a few
Python threads that POST pre-serialized bodies of 5,000 events each with http.client (bounded
by a number of requests and a time limit). Each round interleaves three runs over the same
rows: a bare `COPY ... FROM STDIN` into a table `LIKE events_event INCLUDING ALL` (so indexed
as events_event is, whatever its indexes are; constraints and the user's foreign key included)
from as many connections, the ceiling; the same rows as new events over HTTP; and the same
requests again, every event a duplicate. Prints events/s (the median over
rounds), request latency, the CPU each side used per 1,000 events, and the ratios.

    python bench/ingest_throughput.py
    python bench/ingest_throughput.py --requests 24 --concurrency 4 --rounds 3 --workers 2
    python bench/ingest_throughput.py --server granian --workers 3
"""

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from servers import POSTGRES_URL, ROOT, database_recreate, gunicorn_start, wsgi_server_start

BATCH = 5_000
USERS = 1_000
TENANTS = ("acme", "globex", "initech", "umbrella")
SOURCES = ("web", "ios", "android", "api")
TYPES = ("page_view", "click", "signup", "add_to_cart", "purchase", "deposit")
WITH_AMOUNT = {"purchase", "deposit"}
COPY_TABLE = "bench_copy_event"
COPY_COLUMNS = (
    "tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties, "
    "received_at"
)
TICKS = os.sysconf("SC_CLK_TCK")


def main() -> int:
    args = _arguments()
    database_url = f"{POSTGRES_URL}/{args.database}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "midnite_test.settings",
        "API_THROTTLE_RATE": "",
        "ALLOW_ANONYMOUS": "false",
        "DEBUG": "false",
    }
    database_recreate(args.database)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    _prepare(database_url)
    key = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "--name", "bench"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    if args.server == "gunicorn":
        server = gunicorn_start(
            env, port=args.port, workers=args.workers, options=("--timeout=300",)
        )
    else:
        server = wsgi_server_start(
            env,
            server=args.server,
            app="midnite_test.wsgi",
            port=args.port,
            workers=args.workers,
            output=subprocess.DEVNULL,
        )
    try:
        client = Client(args, key=key)
        warm = [_body(_events(rng=random.Random(-1), round_="warm", count=BATCH))]
        client.run(warm * (2 * args.workers), expect=None)
        results = {"copy": [], "new": [], "duplicates": []}
        for round_ in range(args.rounds):
            events = _events(rng=random.Random(round_), round_=round_, count=args.requests * BATCH)
            batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
            bodies = [_body(batch) for batch in batches]
            copies = [_copy_text(batch) for batch in batches]
            del events, batches
            processes = Processes(server.pid, database_url)
            results["copy"].append(_copy(database_url, copies, args.concurrency, processes))
            results["new"].append(client.run(bodies, expect="accepted", processes=processes))
            results["duplicates"].append(
                client.run(bodies, expect="duplicates", processes=processes)
            )
            for name, runs in results.items():
                print(f"round {round_ + 1}: {name:10} {runs[-1]['eps']:9,.0f} events/s", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    _report(args, results)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24, help=f"requests of {BATCH:,} a run")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds of the three runs")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="client threads (and COPY connections)"
    )
    parser.add_argument("--server", choices=("gunicorn", "granian"), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--max-seconds", type=float, default=120, help="time limit of one run")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database", default="midnite_bench_ingest")
    return parser.parse_args()


def _prepare(database_url: str) -> None:
    """Add the users events name, and the COPY target: events_event's shape, keys included."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
            " updated_at) SELECT g, 'bench', g::text, '', '{}', now(), now() "
            "FROM generate_series(1, %s) g",
            [USERS],
        )
        # LIKE copies the columns, defaults, indexes and checks; the foreign key is added.
        connection.execute(f"CREATE TABLE {COPY_TABLE} (LIKE events_event INCLUDING ALL)")
        connection.execute(
            f"ALTER TABLE {COPY_TABLE} ADD FOREIGN KEY (user_id) REFERENCES events_user (id)"
            " DEFERRABLE INITIALLY DEFERRED"
        )


def _events(*, rng: random.Random, round_, count: int) -> list[dict]:
    """Return `count` events as a client would send them, each about 300 bytes of JSON."""
    start = datetime(2025, 3, 1, tzinfo=UTC)
    events = []
    for n in range(count):
        event_type = rng.choice(TYPES)
        moment = start + timedelta(milliseconds=n * 37 + rng.randrange(1000))
        section = rng.choice(("products", "pricing", "blog", "account"))
        payload = {
            "page": f"/{section}/{rng.randrange(10**5)}",
            "session_id": f"s_{rng.getrandbits(64):016x}",
            "device": {"os": rng.choice(("ios", "android", "macos", "windows")), "v": "5.12.3"},
            "ab_group": rng.choice("ABC"),
            "items": rng.randrange(1, 6),
            "score": round(rng.random() * 100, 2),
        }
        event = {
            "event_id": f"{round_}-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "tenant_id": rng.choice(TENANTS),
            "source": rng.choice(SOURCES),
            "event_type": event_type,
            "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "payload": payload,
        }
        if rng.random() < 0.7:
            event["user_id"] = rng.randrange(1, USERS + 1)
        if event_type in WITH_AMOUNT:
            event["amount"] = f"{rng.randrange(100, 100_000) / 100:.2f}"
        events.append(event)
    return events


def _body(events: list[dict]) -> bytes:
    return json.dumps({"events": events}, separators=(",", ":")).encode()


def _copy_text(events: list[dict]) -> bytes:
    """The rows the service would store for `events`, in COPY's text format."""
    received_at = datetime.now(UTC).isoformat()
    lines = []
    for event in events:
        values = (
            event["tenant_id"],
            event["event_id"],
            event.get("user_id"),
            event["event_type"],
            event["source"],
            event["timestamp"],
            event.get("amount"),
            json.dumps(event["payload"], separators=(",", ":")),
            received_at,
        )
        lines.append("\t".join(_copy_field(value) for value in values))
    return ("\n".join(lines) + "\n").encode()


def _copy_field(value) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _copy(database_url: str, copies: list[bytes], concurrency: int, processes) -> dict:
    """COPY each batch in its own transaction from `concurrency` connections at once."""
    connections = [psycopg.connect(database_url) for _ in range(concurrency)]
    pending = list(reversed(copies))
    lock = threading.Lock()
    latencies: list[float] = []

    def work(connection) -> None:
        while True:
            with lock:
                if not pending:
                    return
                text = pending.pop()
            started = time.monotonic()
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY {COPY_TABLE} ({COPY_COLUMNS}) FROM STDIN") as copy:
                    copy.write(text)
            connection.commit()
            latencies.append(time.monotonic() - started)

    before = processes.ticks()
    result = _threads(work, connections, latencies, events=len(copies) * BATCH)
    result |= processes.ms_per_1k(before, result["events"])
    for connection in connections:
        connection.close()
    return result


class Client:
    """POST pre-serialized bodies from a few threads, one connection a request."""

    def __init__(self, args, *, key: str) -> None:
        self.args = args
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

    def run(self, bodies: list[bytes], *, expect: str | None, processes=None) -> dict:
        pending = list(reversed(bodies))
        lock = threading.Lock()
        latencies: list[float] = []
        counted = {"sent": 0, "counted": 0, "errors": 0}
        deadline = time.monotonic() + self.args.max_seconds

        def work(_) -> None:
            while time.monotonic() < deadline:
                with lock:
                    if not pending:
                        return
                    body = pending.pop()
                started = time.monotonic()
                connection = http.client.HTTPConnection("127.0.0.1", self.args.port, timeout=300)
                try:
                    connection.request("POST", "/events/bulk", body=body, headers=self.headers)
                    response = connection.getresponse()
                    answer = response.read()
                finally:
                    connection.close()
                latencies.append(time.monotonic() - started)
                with lock:
                    counted["sent"] += BATCH
                    if response.status != 200:
                        counted["errors"] += 1
                    elif expect:
                        counted["counted"] += json.loads(answer)[expect]

        before = processes.ticks() if processes else None
        result = _threads(work, range(self.args.concurrency), latencies, events=0)
        result["events"] = counted["sent"]
        result["eps"] = counted["sent"] / result["seconds"]
        result["errors"] = counted["errors"]
        # Events the answers did not count as `expect` (accepted, or duplicates): must be 0.
        result["miscounted"] = counted["sent"] - counted["counted"] if expect else 0
        if processes:
            result |= processes.ms_per_1k(before, counted["sent"])
        return result


def _threads(work, items, latencies: list[float], *, events: int) -> dict:
    threads = [threading.Thread(target=work, args=(item,)) for item in items]
    client_cpu, started = time.process_time(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    latencies.sort()
    return {
        "seconds": seconds,
        "events": events,
        "eps": events / seconds,
        "requests": len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "max_ms": 1000 * latencies[-1],
        "client_cpu": time.process_time() - client_cpu,
        "errors": 0,
        "miscounted": 0,
    }


class Processes:
    """CPU time of the web server's workers and of the PostgreSQL backends serving the database."""

    def __init__(self, master: int, database_url: str) -> None:
        self.master = master
        self.database_url = database_url

    def ticks(self) -> dict[str, dict[int, int]]:
        """Clock ticks (user + system) used so far by each process, by group and pid."""
        children = Path(f"/proc/{self.master}/task/{self.master}/children").read_text().split()
        with psycopg.connect(self.database_url) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            ).fetchall()
        groups = {"web": [int(pid) for pid in children], "postgres": [pid for pid, in rows]}
        return {name: {pid: _ticks(pid) for pid in pids} for name, pids in groups.items()}

    def ms_per_1k(self, before: dict[str, dict[int, int]], events: int) -> dict[str, float]:
        """CPU ms per 1,000 events of each group since `before` (a process that exited in
        between is not counted: connections live 60 s, longer than a run)."""
        after = self.ticks()
        result = {}
        for name, now in after.items():
            ticks = sum(max(t - before[name].get(pid, 0), 0) for pid, t in now.items() if t)
            result[f"{name}_ms_1k"] = 1e6 * ticks / TICKS / max(events, 1)
        return result


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _report(args, results: dict[str, list[dict]]) -> None:
    print(
        f"\nmachine: {os.cpu_count()} cores; {args.server} {args.workers} workers; "
        f"{args.concurrency} client threads (http.client) and {args.concurrency} COPY "
        f"connections; {args.requests} requests of {BATCH:,} events a run; "
        f"median of {args.rounds} rounds\n"
    )
    header = (
        f"{'run':34} {'events/s':>9} {'p50 ms':>7} {'max ms':>7} {'errors':>6} "
        f"{'web CPU':>8} {'PG CPU':>7} {'client':>7}"
    )
    print(header)
    print(f"{'':34} {'':>9} {'':>7} {'':>7} {'':>6} {'ms / 1,000 events':>24}")
    labels = {
        "copy": "COPY, same rows (ceiling)",
        "new": "POST /events/bulk, new events",
        "duplicates": "POST /events/bulk, duplicates",
    }
    medians = {}
    for name, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        medians[name] = median
        bad = sum(run["errors"] + run["miscounted"] for run in runs)
        web = f"{median['web_ms_1k']:8.1f}" if name != "copy" else f"{'-':>8}"
        client_ms = 1e6 * median["client_cpu"] / median["events"]
        print(
            f"{labels[name]:34} {median['eps']:9,.0f} {median['p50_ms']:7.0f} "
            f"{median['max_ms']:7.0f} {bad:6d} {web} {median['postgres_ms_1k']:7.1f} "
            f"{client_ms:7.1f}"
        )
    copy, new, dup = medians["copy"]["eps"], medians["new"]["eps"], medians["duplicates"]["eps"]
    print(f"\nnew / COPY: {new / copy:.3f} (1 / {copy / new:.1f})")
    print(f"duplicates / COPY: {dup / copy:.3f}; duplicates / new: {dup / new:.2f}")
    print(
        "goals (issue 20): new >= 0.75 x COPY: "
        + ("met" if new >= 0.75 * copy else "not met")
        + "; duplicates >= new: "
        + ("met" if dup >= new else "not met")
    )
    print("\ncommand: " + " ".join([Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    sys.exit(main())
