#!/usr/bin/env python
"""Benchmark the outbox relay: PostgreSQL outbox -> embedded ClickHouse, throughput and lag.

Runs, in one go and on one machine: a fresh PostgreSQL database, a fresh chDB directory, and
in this process the real relay (`outbox.relay.outbox_relay`) with the project's settings.
Prints:

- relay throughput: messages/s for draining a backlog of `--events` stored events (the event
  table is the relay's log: no outbox row), in batches of OUTBOX_BATCH_SIZE (10,000), and where a
  batch's time goes (claim, lock, render, build columns when PostgreSQL would not render,
  the insert token with the rows' digest, insert, mark);
- the baseline: the relay's own rows, in the same batches, inserted straight into an identical
  ClickHouse table, both as the relay's TabSeparated blocks with the relay's insert call and
  as typed columns (clickhouse-connect's Native format); the ratio relay / direct is against
  the faster of the two;
- end-to-end lag: `--producers` processes commit events (one event per transaction) at a
  steady `--lag-rate` for `--lag-seconds`, while this process calls outbox_relay every
  `--relay-interval` seconds (0.05 s: the wake-up throttle, OUTBOX_WAKEUP_INTERVAL; 1.0 s: the
  beat sweep alone). An event's lag is the time its ClickHouse insert returned minus the time
  its commit returned: p50, p99 and max.

Rounds interleave relay and direct insert, each round on a new backlog.
`--retained N` first stores N shipped messages, as OUTBOX_RETENTION (7 days) keeps them in the
table in production.
The counts are checked: `SELECT count() FROM event_log` (not FINAL) must equal the number of
events, every event shipped.

    .venv/bin/python bench/relay_throughput.py
    .venv/bin/python bench/relay_throughput.py --events 100000 --rounds 3 \\
        --lag-rate 1000 --lag-seconds 20 --relay-interval 0.05 --producers 2 --producer sql
"""

import argparse
import cProfile
import json
import os
import pstats
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import psycopg
from servers import POSTGRES_URL, database_recreate, database_drop

ROOT = Path(__file__).resolve().parent.parent
DIRECT_TABLE = "event_log_direct"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PHASES = (
    "claim",
    "lock batch",
    "render (COPY)",
    "build columns",
    "token (digest)",
    "insert",
    "mark + commit",
)

sys.path.insert(0, str(ROOT))


def main() -> int:
    args = _arguments()
    if args.produce:
        return _produce(args)
    database_url = f"{POSTGRES_URL}/{args.database}"
    store = Path(tempfile.mkdtemp(prefix="relay-bench-chdb-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="midnite_test.settings",
        DATABASE_URL=database_url,
        CLICKHOUSE_URL=f"chdb://{store}",
        CELERY_BROKER_URL=args.broker,
        LOG_LEVEL="WARNING",
    )
    try:
        database_recreate(args.database)
        migrate = [sys.executable, "manage.py", "migrate", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=os.environ, check=True)
        return _bench(args, database_url)
    finally:
        _close()
        shutil.rmtree(store, ignore_errors=True)
        if not args.keep_database:
            database_drop(args.database)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="backlog per round")
    parser.add_argument("--rounds", type=int, default=3, help="relay/direct rounds")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument(
        "--retained",
        type=int,
        default=0,
        help="shipped messages already in the table, as OUTBOX_RETENTION keeps them",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the last relay round (slows it)"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print each phase of the last relay round in time"
    )
    parser.add_argument("--lag-rate", type=float, default=1_000, help="events/s for the lag run")
    parser.add_argument("--lag-seconds", type=float, default=20, help="0 skips the lag run")
    parser.add_argument(
        "--relay-interval", type=float, default=0.05, help="seconds between relay calls (lag)"
    )
    parser.add_argument("--producers", type=int, default=2, help="producer processes (lag run)")
    parser.add_argument(
        "--producer",
        choices=("sql", "orm"),
        default="sql",
        help="producers write with raw SQL or through Django and the outbox service (lag run)",
    )
    parser.add_argument("--database", default="midnite_bench_relay")
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/13", help="Celery broker; flushed at the end"
    )
    parser.add_argument("--keep-database", action="store_true")
    # Internal: a producer process of the lag run.
    parser.add_argument("--produce", metavar="OUTPUT", help=argparse.SUPPRESS)
    parser.add_argument("--produce-tag", help=argparse.SUPPRESS)
    return parser.parse_args()


def _close() -> None:
    registry = sys.modules.get("django.apps")
    if registry is None or not registry.apps.ready:
        return
    from django.db import connections

    from outbox.clickhouse.client import clickhouse_close

    clickhouse_close()
    connections.close_all()


def _bench(args: argparse.Namespace, database_url: str) -> int:
    import django

    django.setup()
    from django.conf import settings

    from outbox.clickhouse.client import clickhouse_command
    from outbox.clickhouse.migrate import clickhouse_migrate
    from outbox.clickhouse.sql import EVENT_LOG

    clickhouse_migrate()
    for table in (DIRECT_TABLE, f"{DIRECT_TABLE}_columns"):
        clickhouse_command(f"CREATE TABLE IF NOT EXISTS {table} AS {EVENT_LOG}")
    _seed_users(database_url, args.users)
    retained = _seed_retained(database_url, args.retained)

    probe = _Probe()
    probe.install()
    relay, direct, phases = [], [], []
    for round_ in range(args.rounds):
        _seed_backlog(database_url, events=args.events, tag=f"r{round_}", users=args.users)
        profiler = cProfile.Profile() if args.profile and round_ == args.rounds - 1 else None
        probe.reset()
        _merges_settle()
        cpu_before = _cpu_now(database_url)
        round_started = time.perf_counter()
        seconds, report = _relay_drain(profiler)
        cpu = [after - before for before, after in zip(cpu_before, _cpu_now(database_url))]
        assert report.messages == args.events and not report.failed, report
        relay.append({"s": seconds, "batches": report.batches, "cpu": cpu})
        phases.append(probe.phase_totals())
        _check_counts(database_url, EVENT_LOG, retained)
        _merges_settle()
        direct.append(_direct_insert(probe.shipped_rows, DIRECT_TABLE))
        _check_same_rows(DIRECT_TABLE, EVENT_LOG)
        _check_same_rows(f"{DIRECT_TABLE}_columns", EVENT_LOG)
        line = (
            f"round {round_ + 1}: relay {args.events / seconds:,.0f} msg/s, direct "
            f"{args.events / direct[-1]['blocks']:,.0f} rows/s (blocks), "
            f"{args.events / direct[-1]['columns']:,.0f} rows/s (columns)"
        )
        if profiler is not None:
            _print_profile(profiler)
        if args.timeline and round_ == args.rounds - 1:
            _print_timeline(probe.spans, round_started, seconds)
        print(line, flush=True)

    lag = None
    if args.lag_seconds > 0:
        with psycopg.connect(database_url, autocommit=True) as connection:
            _vacuum(connection)  # as autovacuum would after this many updates
        lag = _lag_run(args, probe)
        _check_counts(database_url, EVENT_LOG, retained)
    _flush_broker(args.broker)
    _report(args, settings, relay, direct, phases, lag)
    return 0


def _seed_users(database_url: str, users: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
            " updated_at) SELECT g, 'bench', g::text, '', '{}', now(), now()"
            " FROM generate_series(1, %(users)s::int) g",
            {"users": users},
        )
        connection.execute(
            "SELECT setval(pg_get_serial_sequence('events_user', 'id'), %(users)s)",
            {"users": users},
        )


def _seed_retained(database_url: str, messages: int) -> int:
    """Store `messages` shipped messages, as OUTBOX_RETENTION keeps them; return the last id.

    They stand for earlier traffic: one shipped batch (the analytics cursor after it), no
    events behind them, never loaded.
    """
    if not messages:
        return 0
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts,"
            " last_error) SELECT 'analytics', 'event_stored', -s, now(), 0, ''"
            " FROM generate_series(1, %s::int) s",
            [messages],
        )
        connection.execute(
            "INSERT INTO outbox_outboxbatch (id, consumer, first_xid, first_id, last_xid,"
            " last_id, size, oldest_at, created_at, attempts, last_error, next_attempt_at,"
            " shipped_at) SELECT %s, 'analytics', min(xid), min(id), max(xid), max(id),"
            " count(*), min(created_at), now(), 1, '', now(), now() FROM outbox_outboxmessage",
            [uuid4()],
        )
        connection.execute(
            "INSERT INTO outbox_outboxcursor (consumer, xid, id)"
            " SELECT 'analytics', max(xid), max(id) FROM outbox_outboxmessage"
        )
        _vacuum(connection)
        (last,) = connection.execute("SELECT max(id) FROM outbox_outboxmessage").fetchone()
    return last


def _seed_backlog(database_url: str, *, events: int, tag: str, users: int) -> None:
    """Store `events` events in one statement, then VACUUM ANALYZE: the relay's log."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            """
            INSERT INTO events_event
                (tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
                 properties, user_traits, received_at)
            SELECT 'default', 'bench:' || %(tag)s || ':' || s, 1 + s %% %(users)s,
                   CASE WHEN s %% 3 = 0 THEN 'withdraw' ELSE 'deposit' END, 'transactions',
                   now() - s * interval '10 ms', (s %% 50000 + 1) / 100.0, '{}', '{}', now()
            FROM generate_series(1, %(events)s::int) s
            ORDER BY s
            """,
            {"tag": tag, "users": users, "events": events},
        )
        _vacuum(connection)


def _vacuum(connection: psycopg.Connection) -> None:
    for table in (
        "events_event",
        "outbox_outboxmessage",
        "outbox_outboxbatch",
        "outbox_outboxcursor",
    ):
        connection.execute(f"VACUUM ANALYZE {table}")


class _Probe:
    """Times each phase of every relayed batch and keeps the rows it inserted.

    Wraps names the relay looks up at call time; the relay's behaviour is unchanged. The
    claim and the render run in the relay's claim-ahead thread for every batch but the first
    of a backlog, so those phases overlap the others: they add up to more than the wall time.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.batches = 0
        self.timings: list[tuple[str, float]] = []  # (phase, seconds), from either thread
        # (phase, thread, start, end), the perf_counter times of every phase, from either thread
        self.spans: list[tuple[str, str, float, float]] = []
        self.shipped_rows: list = []  # the relay's EventLogBlocks
        self.visible: list[tuple[float, object]] = []  # (when, the block inserted then)
        self._ship: dict[str, float] = {}  # the main thread's current batch

    def install(self) -> None:
        from outbox import relay

        def timed(function, name):
            def wrapper(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self._record(name, started)

            return wrapper

        original_ship = relay._batch_ship_next

        def ship(*args):
            size = original_ship(*args)
            if size is not None:
                self.batches += 1
                self._record("mark + commit", self._ship["insert_end"])
            return size

        original_insert = relay.event_log_insert

        def insert(block, **kwargs):
            started = time.perf_counter()
            original_insert(block, **kwargs)
            self._ship["insert_end"] = self._record("insert", started)
            self.visible.append((time.time(), block))  # its keys are read after the run
            self.shipped_rows.append(block)

        relay.batch_claim = timed(relay.batch_claim, "claim")
        relay.batch_take = timed(relay.batch_take, "claim")
        relay._batch_ship_next = ship
        relay.batch_lease_next_due = timed(relay.batch_lease_next_due, "lock batch")
        relay.batch_render = timed(relay.batch_render, "render (COPY)")
        relay.batch_columns_build = timed(relay.batch_columns_build, "build columns")
        relay.batch_token = timed(relay.batch_token, "token (digest)")
        relay.event_log_insert = insert

    def _record(self, name: str, started: float) -> float:
        ended = time.perf_counter()
        self.timings.append((name, ended - started))
        self.spans.append((name, threading.current_thread().name, started, ended))
        return ended

    def phase_totals(self) -> dict[str, float]:
        totals = dict.fromkeys(PHASES, 0.0)
        for name, seconds in self.timings:
            totals[name] += seconds
        return totals


def _cpu_now(database_url: str) -> tuple[float, float, float]:
    """CPU seconds used so far by this process's Python threads, by its other threads (chDB's
    insert and merge pools) and by PostgreSQL.

    PostgreSQL's is the whole server's, its exited backends included (the postmaster's
    children's time): run against a server of its own (BENCH_POSTGRES_URL) to read only the
    relay's share. Threads that ended are not counted (chDB keeps its pools).
    """
    with psycopg.connect(database_url) as connection:
        (backend,) = connection.execute("SELECT pg_backend_pid()").fetchone()
        postmaster = int(_stat(backend)[1])
    children = [
        int(path.parent.name)
        for path in Path("/proc").glob("[0-9]*/stat")
        if _stat(int(path.parent.name))[1:2] == [str(postmaster)]
    ]
    fields = _stat(postmaster)
    server = sum(int(value) for value in fields[11:15])  # its own time and reaped children's
    server += sum(sum(int(value) for value in _stat(pid)[11:13] or [0]) for pid in children)
    python = other = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        ticks = sum(int(value) for value in stat.rsplit(")", 1)[1].split()[11:13])
        # Python's threads keep the interpreter's name; chDB names its own.
        if stat[stat.index("(") + 1 : stat.rindex(")")] == Path(sys.executable).name[:15]:
            python += ticks
        else:
            other += ticks
    tick = os.sysconf("SC_CLK_TCK")
    return python / tick, other / tick, server / tick


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (empty if the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _relay_drain(profiler: cProfile.Profile | None):
    from outbox.relay import outbox_relay

    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = outbox_relay(consumer="analytics")
    if profiler is not None:
        profiler.disable()
    return time.perf_counter() - started, report


def _print_timeline(
    spans: list[tuple[str, str, float, float]], origin: float, seconds: float
) -> None:
    """Each phase of a relay round: its thread, its start and end in ms from `origin`."""
    print(f"\ntimeline of the last relay round ({seconds * 1000:.0f} ms):")
    for name, thread, started, ended in sorted(spans, key=lambda span: span[2]):
        start, end = (started - origin) * 1000, (ended - origin) * 1000
        print(f"  {start:8.1f} {end:8.1f} {end - start:7.1f}  {thread[:14]:14} {name}")


def _merges_settle(timeout: float = 30.0) -> None:
    """Wait until chDB merges no parts, so a timed phase pays for its own inserts' merges only.

    Every insert makes a part and ClickHouse merges parts in the background, in this process:
    left running, the merges of one phase's inserts would slow the next phase down.
    """
    from outbox.clickhouse.client import clickhouse_rows

    deadline = time.monotonic() + timeout
    while clickhouse_rows("SELECT count() FROM system.merges")[1][0][0]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"chDB kept merging for {timeout:g} s")
        time.sleep(0.05)


def _direct_insert(blocks: list, table: str) -> dict[str, float]:
    """Insert the relay's rows, batch by batch: as its blocks, with its call, and as columns.

    Returns the seconds each way took; the columns are built from the blocks beforehand.
    """
    from outbox.clickhouse.client import clickhouse_insert, clickhouse_insert_raw
    from outbox.clickhouse.sql import EVENT_LOG_INSERT_COLUMNS, EVENT_LOG_INSERT_TYPES
    from outbox.relay import TSV

    # Every stored event renders: a batch the relay built in Python would be a bug here.
    assert all(block.tsv is not None for block in blocks), "a batch was not rendered"
    seconds = {}
    started = time.perf_counter()
    for block in blocks:
        clickhouse_insert_raw(
            table, block.tsv, column_names=EVENT_LOG_INSERT_COLUMNS, fmt=TSV, token=str(uuid4())
        )
    seconds["blocks"] = time.perf_counter() - started
    columns = [_tsv_columns(block.tsv) for block in blocks]
    _merges_settle()
    started = time.perf_counter()
    for block_columns in columns:
        clickhouse_insert(
            f"{table}_columns",
            block_columns,
            column_names=EVENT_LOG_INSERT_COLUMNS,
            column_types=EVENT_LOG_INSERT_TYPES,
            column_oriented=True,
            token=str(uuid4()),
        )
    seconds["columns"] = time.perf_counter() - started
    return seconds


_TSV_ESCAPES = {
    "\\\\": "\\",
    "\\t": "\t",
    "\\n": "\n",
    "\\r": "\r",
    "\\b": "\b",
    "\\f": "\f",
    "\\v": "\v",
}
_TSV_ESCAPE = re.compile(r"\\[\\tnrbfv]")


def _tsv_columns(tsv: bytes) -> list[list]:
    """The event_log columns of TabSeparated rows, in the client's types."""
    rows = [line.split("\t") for line in tsv.decode().split("\n")[:-1]]
    key, event_type, times, environment, context, version, tenant, user = zip(*rows)
    key, event_type, environment, context, tenant = (
        [_TSV_ESCAPE.sub(lambda match: _TSV_ESCAPES[match.group()], value) for value in column]
        for column in (key, event_type, environment, context, tenant)
    )
    return [
        key,
        event_type,
        [_micros(value) for value in times],
        environment,
        context,
        [int(value) for value in version],
        tenant,
        [None if value == "\\N" else int(value) for value in user],
    ]


def _micros(utc_text: str) -> int:
    """Epoch microseconds of a `YYYY-MM-DD hh:mm:ss.ffffff` UTC time, as the client sends them."""
    moment = datetime.fromisoformat(utc_text).replace(tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


def _block_keys(block) -> list[str]:
    if block.columns is not None:
        return block.columns[0]
    return [line.split(b"\t", 1)[0].decode() for line in block.tsv.split(b"\n")[:-1]]


def _check_counts(database_url: str, table: str, retained: int) -> None:
    """Every event is shipped, and `table` holds exactly one row per event.

    The `retained` messages stand for earlier traffic and were never sent to `table`.
    """
    from outbox.clickhouse.client import clickhouse_rows

    with psycopg.connect(database_url) as connection:
        messages, unshipped = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT FROM outbox_outboxbatch b"
            " WHERE b.shipped_at IS NOT NULL AND b.consumer = 'analytics:events'"
            " AND (m.xid, m.id) >= (b.first_xid, b.first_id)"
            " AND (m.xid, m.id) <= (b.last_xid, b.last_id)))"
            " FROM events_event m"
        ).fetchone()
    assert unshipped == 0, f"{unshipped} events not shipped"
    _, [(count,)] = clickhouse_rows(f"SELECT count() FROM {table}")
    assert count == messages, f"{table} holds {count} rows for {messages} events"


def _check_same_rows(table: str, reference: str) -> None:
    """`table` holds exactly the rows of `reference`: same count, same multiset of hashes."""
    from outbox.clickhouse.client import clickhouse_rows
    from outbox.clickhouse.sql import EVENT_LOG_COLUMNS

    columns = ", ".join(EVENT_LOG_COLUMNS)
    digests = []
    for name in (table, reference):
        _, [digest] = clickhouse_rows(
            f"SELECT count(), sum(h), groupBitXor(h)"
            f" FROM (SELECT cityHash64({columns}) AS h FROM {name})"
        )
        digests.append(digest)
    assert digests[0] == digests[1], f"{table} {digests[0]} differs from {reference} {digests[1]}"


def _lag_run(args: argparse.Namespace, probe: _Probe) -> dict:
    """Produce events at a steady rate in other processes; relay them here; measure lag."""
    from django.conf import settings

    from outbox.relay import outbox_relay

    def relay() -> int:
        # What the worker's outbox_relay_task runs on each wake-up or beat.
        return outbox_relay(
            consumer="analytics", max_seconds=settings.OUTBOX_RELAY_MAX_SECONDS
        ).messages

    probe.reset()
    tag = f"lag{uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        producers = []
        for number in range(args.producers):
            command = [sys.executable, __file__, f"--produce={folder}/{number}.json"]
            command += [f"--produce-tag={tag}-{number}", f"--users={args.users}"]
            command += [f"--lag-rate={args.lag_rate / args.producers}"]
            command += [f"--lag-seconds={args.lag_seconds}", f"--producer={args.producer}"]
            producers.append(subprocess.Popen(command, cwd=ROOT, env=os.environ))
        started = time.monotonic()
        deadline = started + args.lag_seconds + 120
        next_call, calls, relayed = started, 0, 0
        while time.monotonic() < deadline:
            relayed += relay()
            calls += 1
            if all(producer.poll() is not None for producer in producers):
                relayed += relay()
                break
            next_call = max(next_call + args.relay_interval, time.monotonic())
            time.sleep(max(0.0, next_call - time.monotonic()))
        else:
            for producer in producers:
                producer.kill()
            raise RuntimeError("the lag run did not finish in time")
        if any(producer.returncode != 0 for producer in producers):
            raise RuntimeError("a producer failed")
        produced = [
            json.loads(Path(f"{folder}/{n}.json").read_text()) for n in range(len(producers))
        ]
    visible = {}
    for at, block in probe.visible:
        keys = _block_keys(block)
        for key in keys:
            visible[key] = at
    commits = [commit for part in produced for commit in part["commits"]]
    lags = sorted(
        visible[f"event:default:{event_id}"] - committed for event_id, committed in commits
    )
    assert len(lags) == relayed, (len(lags), relayed)
    totals = probe.phase_totals()
    return {
        "events": len(lags),
        "rate": sum(part["rate"] for part in produced),
        "calls": calls,
        "batches": probe.batches,
        "batch_size": len(lags) / probe.batches,
        "phases_ms": {name: 1000 * totals[name] / probe.batches for name in PHASES},
        "p50": _percentile(lags, 0.50),
        "p99": _percentile(lags, 0.99),
        "max": lags[-1],
    }


def _produce(args: argparse.Namespace) -> int:
    """A producer process: commit one event at a time, paced.

    `--producer orm` writes through Django (Event.objects.create, read by the relay on its
    tick); `--producer sql` sends the same INSERT
    from raw psycopg, so the producers take less of the CPU the relay also needs.
    """
    total = int(args.lag_rate * args.lag_seconds)
    write = _orm_writer(args) if args.producer == "orm" else _sql_writer(args)
    commits = []
    started = time.monotonic()
    for i in range(total):
        delay = started + i / args.lag_rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        event_id = f"{args.produce_tag}:{i}"
        write(i, event_id)
        commits.append((event_id, time.time()))
    rate = total / (time.monotonic() - started)
    Path(args.produce).write_text(json.dumps({"rate": rate, "commits": commits}))
    return 0


def _orm_writer(args: argparse.Namespace):
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from events.models import Event

    def write(i: int, event_id: str) -> None:
        with transaction.atomic(durable=True):
            Event.objects.create(
                event_id=event_id,
                user_id=1 + i % args.users,
                event_type="deposit" if i % 3 else "withdraw",
                source="transactions",
                occurred_at=timezone.now(),
                amount=f"{i % 50000 + 1}.00",
            )

    return write


def _sql_writer(args: argparse.Namespace):
    connection = psycopg.connect(os.environ["DATABASE_URL"], prepare_threshold=1)

    def write(i: int, event_id: str) -> None:
        with connection.transaction():
            connection.execute(
                "INSERT INTO events_event (tenant_id, event_id, user_id, event_type, source,"
                " occurred_at, amount, properties, user_traits, received_at) VALUES ('default', %s,"
                " %s, %s, 'transactions', now(), %s, '{}', '{}', now())",
                [event_id, 1 + i % args.users, "deposit" if i % 3 else "withdraw", i % 50000 + 1],
            )

    return write


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _flush_broker(url: str) -> None:
    """Drop the wake-ups the ORM producers sent (no worker consumes them here)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def _print_profile(profiler: cProfile.Profile) -> None:
    print("\ncProfile of one relay round (cumulative, top 30):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    print("cProfile of one relay round (own time, top 30):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def _report(args, settings, relay, direct, phases, lag) -> None:
    events = args.events
    batches = relay[0]["batches"]
    print(f"\ncommand: {shlex.join(['.venv/bin/python', *sys.argv])}")
    print(
        f"machine: {os.cpu_count()} cores, PostgreSQL at {POSTGRES_URL}, chDB in this process; "
        f"OUTBOX_BATCH_SIZE {settings.OUTBOX_BATCH_SIZE}; {events:,} events per round; "
        f"{args.retained:,} shipped messages retained in the table\n"
    )
    header = f"{'round':>5} {'relay msg/s':>12} {'direct rows/s: blocks':>22}"
    header += f" {'columns':>8} {'relay/direct':>13}"
    print(header)
    ratios = []
    for number, (run, seconds) in enumerate(zip(relay, direct)):
        ratios.append(min(seconds.values()) / run["s"])  # against the faster direct insert
        line = f"{number + 1:>5} {events / run['s']:>12,.0f} {events / seconds['blocks']:>22,.0f}"
        line += f" {events / seconds['columns']:>8,.0f} {ratios[-1]:>13.2f}"
        print(line)
    line = f"{'med.':>5} {statistics.median(events / run['s'] for run in relay):>12,.0f}"
    for way, width in (("blocks", 22), ("columns", 8)):
        line += f" {statistics.median(events / seconds[way] for seconds in direct):>{width},.0f}"
    line += f" {statistics.median(ratios):>13.2f}"
    print(line)

    python, chdb, server = (statistics.median(run["cpu"][i] for run in relay) for i in range(3))
    wall = statistics.median(run["s"] for run in relay)
    print(
        f"\nCPU per batch (median): relay process {(python + chdb) / batches * 1000:.1f} ms "
        f"(Python threads {python / batches * 1000:.1f}, chDB's threads "
        f"{chdb / batches * 1000:.1f}), PostgreSQL {server / batches * 1000:.1f} ms, together "
        f"{(python + chdb + server) / wall:.2f} cores busy over the relay's wall time"
    )
    print(f"\nwhere a relay batch's time goes (ms per batch of {events // batches:,}, median):")
    _print_phases(PHASES, phases, batches, statistics.median(run["s"] for run in relay))

    if lag is not None:
        print(
            f"\nlag: {lag['events']:,} events, one per transaction, committed by "
            f"{args.producers} {args.producer} producer processes at {lag['rate']:,.0f}/s "
            f"(asked {args.lag_rate:,.0f}/s) for {args.lag_seconds:g} s; outbox_relay every "
            f"{args.relay_interval:g} s: {lag['calls']} calls, {lag['batches']} batches of "
            f"{lag['batch_size']:.0f} on average"
        )
        phases = ", ".join(f"{name} {ms:.1f}" for name, ms in lag["phases_ms"].items())
        print(f"  ms per batch: {phases}")
        print(
            f"  commit -> visible in ClickHouse: p50 {lag['p50'] * 1000:.0f} ms, "
            f"p99 {lag['p99'] * 1000:.0f} ms, max {lag['max'] * 1000:.0f} ms"
        )
    print("\nchecked: SELECT count() FROM event_log = events, every event shipped")


def _print_phases(names, runs: list[dict], batches: int, wall: float) -> None:
    total = statistics.median(sum(run[name] for name in names) for run in runs)
    for name in names:
        spent = statistics.median(run[name] for run in runs)
        print(f"  {name:16} {spent / batches * 1000:8.1f} ms  {spent / total:6.1%}")
    print(f"  {'sum of phases':16} {total / batches * 1000:8.1f} ms")
    print(f"  {'wall time':16} {wall / batches * 1000:8.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
