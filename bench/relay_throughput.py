#!/usr/bin/env python
"""Benchmark the outbox relay: PostgreSQL outbox -> embedded ClickHouse, throughput and lag.

Runs, in one go and on one machine: a fresh PostgreSQL database, a fresh chDB directory, and
in this process the real relay (`outbox.relay.outbox_relay`) with the project's settings.
Prints:

- relay throughput: messages/s for draining a backlog of `--events` stored events with their
  `event_stored` outbox messages, in batches of OUTBOX_BATCH_SIZE (10,000), and where a
  batch's time goes (claim, lock, load rows, build columns, insert, mark);
- the baseline: the relay's own columns, in the same batches, inserted straight into an
  identical ClickHouse table with the relay's insert call, and the ratio relay / direct;
- with `--prototypes`: the same messages shipped again (after un-claiming them) by the relay's
  own load, build and insert with a claim that writes only the batch's id bounds ("range",
  a design sketch: safe only with a commit-order horizon; here nothing writes messages
  meanwhile), into its own table whose rows must equal the relay's;
- end-to-end lag: `--producers` processes commit events with their outbox rows (one event
  per transaction) at a steady `--lag-rate` for `--lag-seconds`, while this process calls
  outbox_relay every `--relay-interval` seconds (0.05 s: the wake-up throttle,
  OUTBOX_WAKEUP_INTERVAL; 1.0 s: the beat sweep alone). A message's lag is the time its
  ClickHouse insert returned minus the time its commit returned: p50, p99 and max.

Rounds interleave relay and direct insert (and the prototypes), each round on a new backlog.
`--retained N` first stores N shipped messages, as OUTBOX_RETENTION (7 days) keeps them in the
table in production.
The counts are checked: `SELECT count() FROM event_log` (not FINAL) must equal the number of
outbox messages, every message shipped.

    .venv/bin/python bench/relay_throughput.py
    .venv/bin/python bench/relay_throughput.py --events 100000 --rounds 3 --prototypes \\
        --lag-rate 1000 --lag-seconds 20 --relay-interval 0.05 --producers 2 --producer sql
"""

import argparse
import cProfile
import json
import os
import pstats
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from uuid import uuid4, uuid5

import psycopg
from servers import POSTGRES_URL, database_recreate, database_drop

ROOT = Path(__file__).resolve().parent.parent
DIRECT_TABLE = "event_log_direct"
PROTOTYPE_TABLES = {"range": "event_log_proto_range"}
PHASES = (
    "claim",
    "lock batch",
    "load rows (SQL)",
    "build columns",
    "insert",
    "mark + commit",
)
PROTOTYPE_PHASES = ("claim", "lock batch", "load", "build columns", "insert", "mark + commit")

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
        "--prototypes",
        action="store_true",
        help="also ship each backlog with the relay claiming id ranges (a design sketch)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the last relay round (slows it)"
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
    from outbox.clickhouse.sql import EVENT_LOG, event_log_create

    clickhouse_migrate()
    for table in (DIRECT_TABLE, *PROTOTYPE_TABLES.values()):
        clickhouse_command(event_log_create().replace(f"EXISTS {EVENT_LOG} (", f"EXISTS {table} ("))
    _seed_users(database_url, args.users)
    retained = _seed_retained(database_url, args.retained)
    if args.prototypes:
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(RANGE_TABLE_SQL)

    probe = _Probe()
    probe.install()
    relay, direct, phases = [], [], []
    prototypes: dict[str, list[dict]] = defaultdict(list)
    for round_ in range(args.rounds):
        first_id = _seed_backlog(
            database_url, events=args.events, tag=f"r{round_}", users=args.users
        )
        profiler = cProfile.Profile() if args.profile and round_ == args.rounds - 1 else None
        probe.reset()
        seconds, report = _relay_drain(profiler)
        assert report.messages == args.events and not report.failed, report
        relay.append({"s": seconds, "batches": report.batches})
        phases.append(probe.phase_totals())
        _check_counts(database_url, EVENT_LOG, retained)
        direct.append(_direct_insert(probe.shipped_rows, DIRECT_TABLE))
        _check_same_rows(DIRECT_TABLE, EVENT_LOG)
        line = (
            f"round {round_ + 1}: relay {args.events / seconds:,.0f} msg/s, "
            f"direct {args.events / direct[-1]:,.0f} rows/s"
        )
        if args.prototypes:
            for mode, table in PROTOTYPE_TABLES.items():
                _unclaim(database_url, first_id)
                result = _range_relay(table, first_id)
                assert result["messages"] == args.events, result
                _check_counts(database_url, EVENT_LOG, retained)
                _check_same_rows(table, DIRECT_TABLE)
                prototypes[mode].append(result)
                line += f", {mode} {args.events / result['s']:,.0f} msg/s"
        if profiler is not None:
            _print_profile(profiler)
        print(line, flush=True)

    lag = None
    if args.lag_seconds > 0:
        with psycopg.connect(database_url, autocommit=True) as connection:
            _vacuum(connection)  # as autovacuum would after this many updates
        lag = _lag_run(args, probe)
        _check_counts(database_url, EVENT_LOG, retained)
    _flush_broker(args.broker)
    _report(args, settings, relay, direct, phases, prototypes, lag)
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

    They stand for earlier traffic: one shipped batch, no events behind them, never loaded.
    """
    if not messages:
        return 0
    batch_id = uuid4()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO outbox_outboxbatch (id, consumer, created_at, attempts, last_error,"
            " next_attempt_at, shipped_at) VALUES (%s, 'analytics', now(), 1, '', now(), now())",
            [batch_id],
        )
        connection.execute(
            "INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts,"
            " last_error, batch_id) SELECT 'analytics', 'event_stored', -s, now(), 0, '', %s"
            " FROM generate_series(1, %s::int) s",
            [batch_id, messages],
        )
        _vacuum(connection)
        (last,) = connection.execute("SELECT max(id) FROM outbox_outboxmessage").fetchone()
    return last


def _seed_backlog(database_url: str, *, events: int, tag: str, users: int) -> int:
    """Store `events` events and their outbox messages in one statement, then VACUUM ANALYZE.

    Returns the id below every new message.
    """
    with psycopg.connect(database_url, autocommit=True) as connection:
        (first_id,) = connection.execute(
            "SELECT coalesce(max(id), 0) FROM outbox_outboxmessage"
        ).fetchone()
        connection.execute(
            """
            WITH event AS (
                INSERT INTO events_event
                    (tenant_id, event_id, user_id, event_type, source, occurred_at, amount,
                     properties, user_traits, received_at)
                SELECT 'default', 'bench:' || %(tag)s || ':' || s, 1 + s %% %(users)s,
                       CASE WHEN s %% 3 = 0 THEN 'withdraw' ELSE 'deposit' END, 'transactions',
                       now() - s * interval '10 ms', (s %% 50000 + 1) / 100.0, '{}', '{}', now()
                FROM generate_series(1, %(events)s::int) s
                ORDER BY s
                RETURNING id
            )
            INSERT INTO outbox_outboxmessage
                (consumer, topic, subject_id, created_at, attempts, last_error)
            SELECT 'analytics', 'event_stored', id, now(), 0, '' FROM event ORDER BY id
            """,
            {"tag": tag, "users": users, "events": events},
        )
        _vacuum(connection)
    return first_id


def _vacuum(connection: psycopg.Connection) -> None:
    for table in ("events_event", "outbox_outboxmessage", "outbox_outboxbatch"):
        connection.execute(f"VACUUM ANALYZE {table}")


class _Probe:
    """Times each phase of every relayed batch and keeps the rows it inserted.

    Wraps names the relay looks up at call time; the relay's behaviour is unchanged.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.batches: list[dict[str, float]] = []
        self.shipped_rows: list[list[tuple]] = []
        self.shipped_batches: list[str] = []
        self.visible: list[tuple[float, list[int]]] = []  # (when, event_log ids)
        self.claims: list[float] = []
        self._current: dict[str, float] = {}

    def install(self) -> None:
        from outbox import analytics, relay

        def timed(function, name):
            def wrapper(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self._current[name] = self._current.get(name, 0.0) + (
                        time.perf_counter() - started
                    )
                    self._current[f"{name}_end"] = time.perf_counter()

            return wrapper

        original_claim = relay._batch_claim

        def claim(consumer):
            started = time.perf_counter()
            try:
                return original_claim(consumer)
            finally:
                self.claims.append(time.perf_counter() - started)

        original_ship = relay._batch_ship_next

        def ship(consumer):
            self._current = {"start": time.perf_counter()}
            size = original_ship(consumer)
            if size is not None:
                current, end = self._current, time.perf_counter()
                build = current.get("build", 0.0)
                self.batches.append(
                    {
                        "lock batch": current["lock"],
                        "load rows (SQL)": current["columns"] - build,
                        "build columns": build,
                        "insert": current["insert"],
                        "mark + commit": end - current["insert_end"],
                        "ship": end - current["start"],
                    }
                )
            return size

        original_insert = relay.clickhouse_insert

        def insert(table, data, **kwargs):
            started = time.perf_counter()
            original_insert(table, data, **kwargs)
            self._current["insert_end"] = time.perf_counter()
            self._current["insert"] = self._current["insert_end"] - started
            self.visible.append((time.time(), data[0]))
            self.shipped_rows.append(data)
            self.shipped_batches.append(kwargs["token"])

        relay._batch_claim = claim
        relay._batch_ship_next = ship
        relay._batch_lock_next_due = timed(relay._batch_lock_next_due, "lock")
        relay.batch_event_log_columns = timed(analytics.batch_event_log_columns, "columns")
        analytics._extend_from_source = timed(analytics._extend_from_source, "build")
        relay.clickhouse_insert = insert

    def phase_totals(self) -> dict[str, float]:
        totals = {phase: sum(batch[phase] for batch in self.batches) for phase in PHASES[1:]}
        totals["claim"] = sum(self.claims)
        totals["ship"] = sum(batch["ship"] for batch in self.batches)
        return totals


def _relay_drain(profiler: cProfile.Profile | None):
    from outbox.relay import outbox_relay

    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = outbox_relay(consumer="analytics")
    if profiler is not None:
        profiler.disable()
    return time.perf_counter() - started, report


def _direct_insert(batches: list[list[list]], table: str) -> float:
    """Insert the relay's columns, batch by batch, with the relay's own insert call."""
    from outbox.clickhouse.client import clickhouse_insert
    from outbox.clickhouse.sql import EVENT_LOG_COLUMN_TYPES, EVENT_LOG_COLUMNS

    started = time.perf_counter()
    for columns in batches:
        clickhouse_insert(
            table,
            columns,
            column_names=EVENT_LOG_COLUMNS,
            column_types=EVENT_LOG_COLUMN_TYPES,
            column_oriented=True,
            token=str(uuid4()),
        )
    return time.perf_counter() - started


def _check_counts(database_url: str, table: str, retained: int) -> None:
    """Every outbox message is shipped, and `table` holds exactly one row per message.

    The `retained` first messages stand for earlier traffic and were never sent to `table`.
    """
    from outbox.clickhouse.client import clickhouse_rows

    with psycopg.connect(database_url) as connection:
        messages, unshipped = connection.execute(
            "SELECT count(*), count(*) FILTER (WHERE b.shipped_at IS NULL)"
            " FROM outbox_outboxmessage m LEFT JOIN outbox_outboxbatch b ON b.id = m.batch_id"
            " WHERE m.id > %s",
            [retained],
        ).fetchone()
    assert unshipped == 0, f"{unshipped} messages not shipped"
    _, [(count,)] = clickhouse_rows(f"SELECT count() FROM {table}")
    assert count == messages, f"{table} holds {count} rows for {messages} messages"


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


def _unclaim(database_url: str, first_id: int) -> None:
    """Put the messages after `first_id` back in the queue, as if never claimed."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        with connection.transaction():
            connection.execute(
                "UPDATE outbox_outboxmessage SET batch_id = NULL WHERE id > %s", [first_id]
            )
            connection.execute(
                "DELETE FROM outbox_outboxbatch b WHERE NOT EXISTS"
                " (SELECT FROM outbox_outboxmessage m WHERE m.batch_id = b.id)"
            )
        _vacuum(connection)


# The "range" prototype: the relay with a claim that writes only the batch's id bounds (a side
# table standing in for two columns of outbox_outboxbatch), not every message. Safe only with a
# commit-order horizon (see docs/BENCHMARKS.md); here no transaction writes messages meanwhile.
RANGE_TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS bench_batch_range"
    " (batch_id uuid PRIMARY KEY, first_id bigint NOT NULL, last_id bigint NOT NULL)"
)
RANGE_CLAIM_SQL = (
    "INSERT INTO bench_batch_range (batch_id, first_id, last_id)"
    " SELECT %s, min(id), max(id) FROM (SELECT id FROM outbox_outboxmessage"
    " WHERE consumer = 'analytics' AND dead_lettered_at IS NULL AND id > greatest(%s,"
    " (SELECT coalesce(max(last_id), 0) FROM bench_batch_range)) ORDER BY id LIMIT %s) s"
    " HAVING count(*) > 0"
)
RANGE_RECORD_SQL = (
    "UPDATE outbox_outboxmessage m SET batch_id = r.batch_id FROM bench_batch_range r"
    " WHERE m.id > %s AND m.id BETWEEN r.first_id AND r.last_id"
)
BATCH_INSERT_SQL = (
    "INSERT INTO outbox_outboxbatch (id, consumer, created_at, attempts, last_error,"
    " next_attempt_at, shipped_at) VALUES (%s, 'analytics', now(), 0, '', now(), NULL)"
)
LOCK_SQL = (
    "SELECT id FROM outbox_outboxbatch WHERE consumer = 'analytics' AND shipped_at IS NULL"
    " AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
)
MARK_SQL = "UPDATE outbox_outboxbatch SET shipped_at = now(), attempts = attempts + 1 WHERE id = %s"
# The relay's own load (outbox.analytics._SOURCE_LOAD), over the id range instead of batch_id.
RANGE_LOAD_SQL = """
    SELECT m.id, s.key, s.event_type, s.occurred_at_us, s.tenant_id, s.user_id, s.context
    FROM bench_batch_range r
    JOIN outbox_outboxmessage m ON m.id BETWEEN r.first_id AND r.last_id
    LEFT JOIN ({source}) s ON s.subject_id = m.subject_id
    WHERE r.batch_id = %s AND m.consumer = 'analytics' AND m.dead_lettered_at IS NULL
    ORDER BY m.id
"""


def _range_relay(table: str, first_id: int) -> dict:
    """Drain the queue like outbox_relay, claiming id ranges; return the time and phase totals.

    Same protocol: the claim commits first; the ship transaction locks the batch row, loads
    the rows with the relay's row source, builds and inserts the relay's columns with the
    batch id as deduplication token, and marks the batch.
    """
    from django.conf import settings
    from django.db import connection, transaction

    from events.analytics import EVENT_ROW_SOURCE, TOPIC_EVENT_STORED
    from outbox import analytics
    from outbox.clickhouse.client import clickhouse_insert
    from outbox.clickhouse.sql import EVENT_LOG_COLUMN_TYPES, EVENT_LOG_COLUMNS

    load_sql = RANGE_LOAD_SQL.format(source=EVENT_ROW_SOURCE.sql)
    size_limit = settings.OUTBOX_BATCH_SIZE
    phases = dict.fromkeys(PROTOTYPE_PHASES, 0.0)
    messages = batches = 0
    started = time.perf_counter()
    while True:
        mark = time.perf_counter()
        batch_id = uuid4()
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(RANGE_CLAIM_SQL, [batch_id, first_id, size_limit])
            claimed = cursor.rowcount
            if claimed:
                cursor.execute(BATCH_INSERT_SQL, [batch_id])
        phases["claim"] += time.perf_counter() - mark
        if not claimed:
            break
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            mark = time.perf_counter()
            cursor.execute(LOCK_SQL)
            (locked,) = cursor.fetchone()
            now = time.perf_counter()
            phases["lock batch"] += now - mark
            mark = now
            cursor.execute(load_sql, [locked])
            rows = cursor.fetchall()
            now = time.perf_counter()
            phases["load"] += now - mark
            mark = now
            columns: list[list] = [[] for _ in EVENT_LOG_COLUMNS]
            analytics._extend_from_source(columns, TOPIC_EVENT_STORED, rows)
            now = time.perf_counter()
            phases["build columns"] += now - mark
            mark = now
            clickhouse_insert(
                table,
                columns,
                column_names=EVENT_LOG_COLUMNS,
                column_types=EVENT_LOG_COLUMN_TYPES,
                column_oriented=True,
                token=str(locked),
            )
            now = time.perf_counter()
            phases["insert"] += now - mark
            mark = now
            cursor.execute(MARK_SQL, [locked])
        phases["mark + commit"] += time.perf_counter() - mark
        messages += len(rows)
        batches += 1
    elapsed = time.perf_counter() - started
    # Bookkeeping outside the timing, so the outbox checks hold: every message is shipped.
    with connection.cursor() as cursor:
        cursor.execute(RANGE_RECORD_SQL, [first_id])
    return {"s": elapsed, "messages": messages, "batches": batches, "phases": phases}


def _lag_run(args: argparse.Namespace, probe: _Probe) -> dict:
    """Produce events at a steady rate in other processes; relay them here; measure lag."""
    from django.conf import settings

    from outbox.contracts import EVENT_LOG_NAMESPACE
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
    for at, event_log_ids in probe.visible:
        for event_log_id in event_log_ids:
            visible[event_log_id] = at
    commits = [commit for part in produced for commit in part["commits"]]
    lags = sorted(
        visible[uuid5(EVENT_LOG_NAMESPACE, f"event:default:{event_id}").int] - committed
        for event_id, committed in commits
    )
    assert len(lags) == relayed, (len(lags), relayed)
    batches = probe.batches
    return {
        "events": len(lags),
        "rate": sum(part["rate"] for part in produced),
        "calls": calls,
        "batches": len(batches),
        "batch_size": len(lags) / len(batches),
        "phases_ms": {
            name: 1000 * sum(batch[name] for batch in batches) / len(batches) for name in PHASES[1:]
        }
        | {"claim": 1000 * sum(probe.claims) / len(probe.claims)},
        "p50": _percentile(lags, 0.50),
        "p99": _percentile(lags, 0.99),
        "max": lags[-1],
    }


def _produce(args: argparse.Namespace) -> int:
    """A producer process: commit one event with its outbox message at a time, paced.

    `--producer orm` writes through Django (Event.objects.create and outbox_publish_subjects,
    which also sends the throttled Celery wake-up after commit); `--producer sql` sends the same two
    INSERTs from raw psycopg, so the producers take less of the CPU the relay also needs.
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

    from events.analytics import TOPIC_EVENT_STORED
    from events.models import Event
    from outbox.contracts import CONSUMER_ANALYTICS
    from outbox.services import outbox_publish_subjects

    def write(i: int, event_id: str) -> None:
        with transaction.atomic(durable=True):
            event = Event.objects.create(
                event_id=event_id,
                user_id=1 + i % args.users,
                event_type="deposit" if i % 3 else "withdraw",
                source="transactions",
                occurred_at=timezone.now(),
                amount=f"{i % 50000 + 1}.00",
            )
            # As events.ingestion publishes a stored event, for the one consumer relayed here.
            outbox_publish_subjects(
                topic=TOPIC_EVENT_STORED, subject_ids=[event.pk], consumers=[CONSUMER_ANALYTICS]
            )

    return write


def _sql_writer(args: argparse.Namespace):
    connection = psycopg.connect(os.environ["DATABASE_URL"], prepare_threshold=1)

    def write(i: int, event_id: str) -> None:
        with connection.transaction():
            (event_pk,) = connection.execute(
                "INSERT INTO events_event (tenant_id, event_id, user_id, event_type, source,"
                " occurred_at, amount, properties, user_traits, received_at) VALUES ('default', %s,"
                " %s, %s, 'transactions', now(), %s, '{}', '{}', now()) RETURNING id",
                [event_id, 1 + i % args.users, "deposit" if i % 3 else "withdraw", i % 50000 + 1],
            ).fetchone()
            connection.execute(
                "INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at,"
                " attempts, last_error) VALUES ('analytics', 'event_stored', %s, now(), 0, '')",
                [event_pk],
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


def _report(args, settings, relay, direct, phases, prototypes, lag) -> None:
    events = args.events
    batches = relay[0]["batches"]
    print(f"\ncommand: {shlex.join(['.venv/bin/python', *sys.argv])}")
    print(
        f"machine: {os.cpu_count()} cores, PostgreSQL at 127.0.0.1:5432, chDB in this process; "
        f"OUTBOX_BATCH_SIZE {settings.OUTBOX_BATCH_SIZE}; {events:,} messages per round; "
        f"{args.retained:,} shipped messages retained in the table\n"
    )
    header = f"{'round':>5} {'relay msg/s':>12} {'direct rows/s':>14} {'relay/direct':>13}"
    print(header + "".join(f" {mode + ' msg/s':>17}" for mode in prototypes))
    ratios = []
    for number, (run, seconds) in enumerate(zip(relay, direct)):
        ratios.append(seconds / run["s"])
        line = f"{number + 1:>5} {events / run['s']:>12,.0f} {events / seconds:>14,.0f}"
        line += f" {ratios[-1]:>13.2f}"
        line += "".join(f" {events / runs[number]['s']:>17,.0f}" for runs in prototypes.values())
        print(line)
    line = f"{'med.':>5} {statistics.median(events / run['s'] for run in relay):>12,.0f}"
    line += f" {statistics.median(events / seconds for seconds in direct):>14,.0f}"
    line += f" {statistics.median(ratios):>13.2f}"
    for runs in prototypes.values():
        line += f" {statistics.median(events / run['s'] for run in runs):>17,.0f}"
    print(line)

    print(f"\nwhere a relay batch's time goes (ms per batch of {events // batches:,}, median):")
    _print_phases(PHASES, phases, batches, statistics.median(run["s"] for run in relay))
    for mode, runs in prototypes.items():
        print(f"\nprototype relay '{mode}' (ms per batch, median):")
        wall = statistics.median(run["s"] for run in runs)
        _print_phases(PROTOTYPE_PHASES, [run["phases"] for run in runs], batches, wall)

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
    print("\nchecked: SELECT count() FROM event_log = outbox messages, every message shipped")


def _print_phases(names, runs: list[dict], batches: int, wall: float) -> None:
    total = statistics.median(sum(run[name] for name in names) for run in runs)
    for name in names:
        spent = statistics.median(run[name] for run in runs)
        print(f"  {name:16} {spent / batches * 1000:8.1f} ms  {spent / total:6.1%}")
    print(f"  {'sum of phases':16} {total / batches * 1000:8.1f} ms")
    print(f"  {'wall time':16} {wall / batches * 1000:8.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
