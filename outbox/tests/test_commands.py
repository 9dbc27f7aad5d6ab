"""The operators' commands: clickhouse_migrate, clickhouse_query and outbox.

They run in this process against the session's embedded store, PostgreSQL and Redis; a store
held by another process is held by a real child process.
"""

import json
import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
import redis
from django.core.management import CommandError, call_command
from django.utils import timezone

from outbox.clickhouse.client import clickhouse_command, clickhouse_insert, clickhouse_rows
from outbox.clickhouse.sql import (
    EVENT_LOG_COLUMNS,
    EVENT_LOG_INSERT_COLUMNS,
    EVENT_LOG_INSERT_TYPES,
    SCHEMA_MIGRATIONS,
    event_log_create,
    schema_migrations_create,
)
from outbox.exceptions import ClickHouseRejected
from outbox.models import OutboxBatch, OutboxMessage
from outbox.relay import outbox_relay
from outbox.selectors import clickhouse_query_readonly, outbox_backlog
from outbox.tests.conftest import record


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def unmigrated_store():
    """The session's store without the service's tables, as on a first deployment."""
    clickhouse_command("DROP TABLE IF EXISTS event_log SYNC")
    clickhouse_command("DROP TABLE IF EXISTS schema_migrations SYNC")


def _event_log_engine() -> tuple[str, str]:
    _, [row] = clickhouse_rows(
        "SELECT engine, engine_full FROM system.tables "
        "WHERE database = currentDatabase() AND name = 'event_log'"
    )
    return row


def test_clickhouse_migrate_applies_each_migration_once_in_order(unmigrated_store):
    first = _run("clickhouse_migrate")
    second = _run("clickhouse_migrate")

    assert first.splitlines() == [
        "Applied 0001_create_event_log",
        "Applied 0002_derive_event_id_from_key",
    ]
    assert second.splitlines() == ["No ClickHouse migrations to apply."]
    assert clickhouse_rows("SELECT version FROM schema_migrations ORDER BY version")[1] == [
        ("0001_create_event_log",),
        ("0002_derive_event_id_from_key",),
    ]


def test_clickhouse_migrate_creates_event_log_as_a_deduplicating_replacing_merge_tree(
    unmigrated_store,
):
    _run("clickhouse_migrate")

    engine, engine_full = _event_log_engine()
    assert engine == "ReplacingMergeTree"
    assert engine_full.startswith("ReplacingMergeTree(metadata_version)")
    assert "non_replicated_deduplication_window = 10000" in engine_full
    [[ddl]] = clickhouse_rows("SHOW CREATE TABLE event_log")[1]
    assert "non_replicated_deduplication_window = 10000" in ddl


def test_the_migrated_event_log_keeps_an_insert_retried_with_the_same_token_once(
    unmigrated_store,
):
    _run("clickhouse_migrate")
    row = (
        record().event_log_id,
        "test_happened",
        timezone.now(),
        "test",
        "{}",
        1,
        "tenant_1",
        None,
    )

    for token in ("batch-1", "batch-1", "batch-2"):
        clickhouse_insert("event_log", [row], column_names=EVENT_LOG_COLUMNS, token=token)

    assert clickhouse_rows("SELECT count() FROM event_log")[1] == [(2,)]


def test_a_row_shipped_before_0002_and_its_replay_after_share_the_event_id(unmigrated_store):
    """A store upgraded in place: ClickHouse's id for a key is the id the relay used to send."""
    clickhouse_command(schema_migrations_create())
    clickhouse_command(event_log_create())
    clickhouse_insert(
        SCHEMA_MIGRATIONS, [("0001_create_event_log",)], column_names=("version",), token="v1"
    )
    shipped = record()
    by_id = (shipped.event_log_id, "test_happened", timezone.now(), "test", "{}", 1, "t", None)
    clickhouse_insert("event_log", [by_id], column_names=EVENT_LOG_COLUMNS, token="before")

    assert _run("clickhouse_migrate").splitlines() == ["Applied 0002_derive_event_id_from_key"]
    by_key = (shipped.key, *by_id[1:])
    clickhouse_insert(
        "event_log",
        [by_key],
        column_names=EVENT_LOG_INSERT_COLUMNS,
        column_types=EVENT_LOG_INSERT_TYPES,
        token="after",
    )

    assert clickhouse_rows("SELECT count(), uniqExact(event_id) FROM event_log")[1] == [(2, 1)]


def test_clickhouse_query_prints_a_tab_separated_header_and_rows():
    out = _run(
        "clickhouse_query",
        "SELECT number AS n, concat('row ', toString(number)) AS label FROM numbers(3)",
    )

    assert out.splitlines() == ["n\tlabel", "0\trow 0", "1\trow 1", "2\trow 2"]


def test_clickhouse_query_prints_a_null_as_tab_separated_does():
    out = _run("clickhouse_query", "SELECT 1 AS n, NULL AS nothing, 'None' AS word")

    assert out.splitlines() == ["n\tnothing\tword", "1\t\\N\tNone"]


def test_clickhouse_query_refuses_a_write_and_the_table_stays(event_log):
    with pytest.raises(CommandError, match="(?i)readonly"):
        _run("clickhouse_query", "DROP TABLE event_log")

    assert clickhouse_rows("EXISTS TABLE event_log")[1] == [(1,)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELEC 1", r"^ClickHouse refused the query: Code: 62\. .*\(line 1, col 7\): 1\. Expected"),
        ("SELECT nosuch FROM system.one", r"In scope SELECT nosuch FROM system\.one\. \(UNKNOWN_"),
    ],
)
def test_clickhouse_query_with_a_mistake_says_what_clickhouse_said_of_that_query_in_one_line(
    query, expected
):
    with pytest.raises(CommandError) as raised:
        _run("clickhouse_query", query)

    message = str(raised.value)
    assert re.search(expected, message), message
    assert "\n" not in message and ":." not in message
    assert "FORMAT Native" not in message and "readonly" not in message


def test_clickhouse_query_mistake_past_its_end_is_told_of_the_text_as_written(event_log):
    """Before: `failed at position 59 (FORMAT) (line 3, col 2):.`, text the command appends."""
    query = "SELEC event_type FROM event_log"

    with pytest.raises(CommandError) as raised:
        _run("clickhouse_query", query)

    assert str(raised.value) == (
        "ClickHouse refused the query: Code: 47. DB::Exception: Unknown expression identifier "
        "`SELEC`. In scope SELECT SELEC AS event_type FROM event_log. (UNKNOWN_IDENTIFIER)"
    )


def test_clickhouse_query_valid_as_written_but_not_before_a_format_clause_says_so():
    with pytest.raises(CommandError) as raised:
        _run("clickhouse_query", "SELECT 1 FORMAT JSON")

    message = str(raised.value)
    assert message.startswith(
        "ClickHouse refused the query: the query has a FORMAT clause of its own; leave it out "
    ), message
    assert "position" not in message and "Native" not in message


def test_clickhouse_query_read_by_a_reader_that_stops_early_exits_quietly(tmp_path, settings):
    """`clickhouse_query ... | head`: head closes the pipe after the lines it wanted."""
    environment = {
        **os.environ,
        "CLICKHOUSE_URL": f"chdb://{tmp_path / 'store'}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    query = "SELECT number FROM numbers(200000)"  # far more than a pipe's buffer holds
    command = subprocess.Popen(
        [sys.executable, "manage.py", "clickhouse_query", query],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    assert command.stdout.readline() == b"number\n"
    command.stdout.close()
    stderr = command.stderr.read()
    command.stderr.close()

    assert (command.wait(timeout=60), stderr.decode()) == (0, "")


@pytest.fixture
def held_store(tmp_path):
    """A store under tmp_path, opened by a child process that holds it until killed."""
    path = tmp_path / "store"
    code = (
        "import signal, sys, clickhouse_connect\n"
        "client = clickhouse_connect.get_client(dsn=sys.argv[1])\n"
        "client.query('SELECT 1')\n"
        "print('READY', flush=True)\n"
        "signal.pause()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, f"chdb://{path}"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "READY"
        yield path, holder.pid
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        holder.stdout.close()


@pytest.fixture
def broker(settings):
    """The test broker's default queue, emptied before and after the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    yield client
    client.delete("celery")


def test_clickhouse_query_on_a_held_store_asks_the_worker_and_times_out_without_one(
    held_store, broker, settings
):
    path, holder_pid = held_store
    settings.CLICKHOUSE_URL = f"chdb://{path}"
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match=r"^No worker answered within 1 s"):
        call_command("clickhouse_query", "SELECT 1", "--timeout", "1", stdout=out, stderr=err)

    assert f"store at {path} is held by another process (PID: {holder_pid}" in err.getvalue()
    assert "Asking the worker to run the query." in err.getvalue()
    assert out.getvalue() == ""
    [queued] = broker.lrange("celery", 0, -1)
    message = json.loads(queued)
    assert message["headers"]["task"] == "outbox.clickhouse_query_readonly"
    assert message["headers"]["argsrepr"] == "('SELECT 1',)"


def test_clickhouse_migrate_on_a_held_store_says_to_stop_make_run_first(held_store, settings):
    """The worker of `make run` holds the store: it cannot run migrations as it runs queries."""
    path, holder_pid = held_store
    settings.CLICKHOUSE_URL = f"chdb://{path}"

    with pytest.raises(CommandError) as refused:
        _run("clickhouse_migrate")

    message = str(refused.value)
    assert f"store at {path} is held by another process (PID: {holder_pid}" in message
    assert message.endswith(
        "Stop `make run` (or the worker holding the store) and run clickhouse_migrate again; "
        "`make run` itself applies the migrations as it starts."
    )


@pytest.mark.django_db(transaction=True)
def test_outbox_backlog_prints_unshipped_and_dead_lettered_counts_per_consumer(publish):
    publish(3)
    dead = OutboxMessage.objects.order_by("id").first()
    OutboxMessage.objects.filter(pk=dead.pk).update(dead_lettered_at=timezone.now())

    out = _run("outbox", "backlog")

    analytics, metrics, notifications = out.splitlines()
    assert re.fullmatch(r"analytics: 2 unshipped, oldest \d+\.\d+ s, 1 dead-lettered", analytics)
    assert metrics == "metrics: 0 unshipped, 0 dead-lettered"
    assert notifications == "notifications: 0 unshipped, 0 dead-lettered"


@pytest.mark.django_db(transaction=True)
def test_outbox_backlog_of_an_empty_outbox_prints_zeroes():
    assert _run("outbox", "backlog").splitlines() == [
        "analytics: 0 unshipped, 0 dead-lettered",
        "metrics: 0 unshipped, 0 dead-lettered",
        "notifications: 0 unshipped, 0 dead-lettered",
    ]


@pytest.mark.django_db(transaction=True)
def test_outbox_relay_ships_the_backlog_and_says_how_much(event_log, publish, settings):
    settings.OUTBOX_BATCH_SIZE = 2
    publish(3)

    out = _run("outbox", "relay")

    assert out.splitlines() == ["shipped 3 messages in 2 batches"]
    assert event_log.count() == 3


@pytest.mark.django_db(transaction=True)
def test_outbox_relay_fails_and_names_the_batch_that_waits_while_clickhouse_refuses_it(
    event_log, publish
):
    """An operator's "ship now": a batch that did not ship is an exit status of 1 and a line
    saying what waits and why, on the run that failed and on each run before it is due."""
    publish(1)
    clickhouse_command("ALTER TABLE event_log ADD CONSTRAINT refuse_all CHECK 0")
    try:
        failed, waiting = StringIO(), StringIO()
        with pytest.raises(CommandError) as failure:
            call_command("outbox", "relay", stdout=failed)
        with pytest.raises(CommandError) as still:
            call_command("outbox", "relay", stdout=waiting)
    finally:
        clickhouse_command("ALTER TABLE event_log DROP CONSTRAINT refuse_all")

    assert failed.getvalue() == "shipped 0 messages in 0 batches (stopped at a failed batch)\n"
    assert waiting.getvalue() == "shipped 0 messages in 0 batches\n"
    retry_at = OutboxBatch.objects.get().next_attempt_at.isoformat(timespec="seconds")
    retry_at = retry_at.replace("+00:00", "Z")
    for error in (failure.value, still.value):
        assert str(error).startswith(
            f"1 message in 1 batch waits to be retried, the next at {retry_at}, after 1 failed "
            "attempt: ClickHouseRejected: "
        ), str(error)
    assert outbox_relay().messages == 0  # not due yet either way
    assert event_log.count() == 0


@pytest.fixture
def dead_letter(event_log, publish, settings):
    """One message ClickHouse rejected until it was dead-lettered; ClickHouse accepts it now."""
    settings.OUTBOX_MAX_ATTEMPTS = 1
    publish(1)
    clickhouse_command("ALTER TABLE event_log ADD CONSTRAINT refuse_all CHECK 0")
    try:
        assert outbox_relay().failed
    finally:
        clickhouse_command("ALTER TABLE event_log DROP CONSTRAINT refuse_all")
    [message] = OutboxMessage.objects.filter(dead_lettered_at__isnull=False)
    return message


@pytest.mark.django_db(transaction=True)
def test_outbox_retry_dead_requeues_dead_letters_and_the_relay_then_ships_them(
    dead_letter, event_log
):
    assert outbox_relay().messages == 0  # a dead letter is never relayed on its own

    out = _run("outbox", "retry-dead")
    shipped = outbox_relay()

    assert out.splitlines() == ["re-queued 1 dead-lettered messages"]
    assert shipped.messages == 1
    assert event_log.count() == 1
    dead_letter.refresh_from_db()
    assert dead_letter.dead_lettered_at is None
    [analytics] = [backlog for backlog in outbox_backlog() if backlog.consumer == "analytics"]
    assert (analytics.unshipped, analytics.dead_lettered) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_outbox_retry_dead_with_nothing_dead_requeues_nothing(event_log, publish):
    publish(2)
    outbox_relay()

    assert _run("outbox", "retry-dead").splitlines() == ["re-queued 0 dead-lettered messages"]
    assert outbox_relay().messages == 0


@pytest.mark.django_db(transaction=True)
def test_outbox_purge_prints_the_number_of_old_shipped_messages_deleted(
    event_log, publish, settings
):
    settings.OUTBOX_RETENTION_SECONDS = 3600
    publish(3)
    outbox_relay()
    OutboxBatch.objects.update(shipped_at=timezone.now() - timedelta(hours=2))
    publish(1)  # not shipped: kept

    out = _run("outbox", "purge")

    assert out.splitlines() == ["deleted 3 shipped messages"]
    assert OutboxMessage.objects.count() == 1
    assert OutboxBatch.objects.count() == 0


def test_a_refused_query_leaves_the_session_the_relay_inserts_through_writable(event_log):
    """Before: readonly stayed on the process's one session, and every later insert failed."""
    with pytest.raises(ClickHouseRejected):
        clickhouse_query_readonly("INSERT INTO event_log (event_type) VALUES ('x')")

    clickhouse_command("INSERT INTO event_log (event_key, event_type) VALUES ('k', 'written')")

    assert event_log.count("event_type = 'written'") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("consumer", ["analytics", "metrics", "notifications"])
def test_every_consumer_the_tick_runs_can_be_named_to_retry_dead_and_relay(event_log, consumer):
    """`outbox backlog` and the console list the notifications' dead letters, but
    `retry-dead --consumer notifications` was refused as an invalid choice."""
    assert _run("outbox", "retry-dead", "--consumer", consumer).splitlines() == [
        "re-queued 0 dead-lettered messages"
    ]
    assert _run("outbox", "relay", "--consumer", consumer).startswith("shipped 0 messages")
