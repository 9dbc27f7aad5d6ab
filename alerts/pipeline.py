"""POST /event's transaction on PostgreSQL in two round trips, in psycopg's pipeline mode.

Round trip 1 (`transaction_event_insert`): BEGIN, lock the user, price sorts out (so the stream
is read in its index's order, alerts.stream), insert the event only when its `t` is after the
user's latest transaction, read which version of the alert rules is active,
and every history question the rule plan foresees. Round trip 2 (`transaction_alerts_queue`,
then the end of `pipelined_transaction`): the alerts, and COMMIT. No outbox row: the consumers
read the event table, alerts with their event (events.log). Statements go on
psycopg's own cursors (Django's when it logs queries), with Django's error translation; so
Django's query log (with DEBUG off) and the error tracker's database spans do not show them.
No health check round trip: `pipelined_transaction_run` replaces a broken connection instead.
"""

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import Cursor, Pipeline

from alerts.planned_history import Anchor, question_answer, question_statement
from alerts.stream import STREAM_ORDER_NEWEST, STREAM_SQL
from midnite_test.index_order import SORTS_PRICED_OUT
from rule_sets.active import ACTIVE_VERSION_SQL
from rule_sets.models import KIND_ALERTS
from rules.plan import Answer, Question

log = structlog.get_logger(__name__)
T = TypeVar("T")

# NO KEY UPDATE, not UPDATE: it queues the user's transactions all the same, but not the
# FOR KEY SHARE that the check of a foreign key to the user takes (notification evaluation
# committing its notifications), so the two never wait on each other. The same statement reads
# the active version of the alert rules (no row: none is), so knowing it costs no statement of
# its own; only the user's row is locked.
_USER_LOCK = f"""
    SELECT u.traits, active.version, active.sha256
    FROM events_user u LEFT JOIN ({ACTIVE_VERSION_SQL}) AS active ON true
    WHERE u.id = %s FOR NO KEY UPDATE OF u
"""

# Inserts nothing when the user's stream has a transaction at or after `t`: a replay, a conflict or
# out of order, which the caller tells apart. The check compares `t` with the stream's latest
# transaction of each type (LATEST: one `_LATEST_OF_TYPE` per type), not `NOT EXISTS (...
# occurred_at >= t)`: once the statement is prepared, PostgreSQL may switch to a generic plan, and
# its generic plan for NOT EXISTS scans all of the user's events through the user_id index when none
# matches (32 ms for 100,000 events; docs/BENCHMARKS.md). Nor max(): without statistics the planner
# may read every event of the type to aggregate them. ORDER BY ... LIMIT 1 in the stream's index
# order, with sorts priced out, is a backward scan of the user's own index that stops at its first
# row under any plan (alerts.stream).
_EVENT_INSERT = """
    INSERT INTO events_event
        (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, received_at)
    SELECT %s, %s, %s, %s, %s, %s, %s, '{}', '{}', %s
    WHERE COALESCE(GREATEST(LATEST), '-infinity') < %s
    ON CONFLICT (tenant_id, event_id) DO NOTHING
    RETURNING id
"""
_LATEST_OF_TYPE = (
    f"(SELECT occurred_at FROM events_event WHERE user_id = %s AND {STREAM_SQL}"
    f" AND event_type = %s ORDER BY {STREAM_ORDER_NEWEST} LIMIT 1)"
)

_ALERTS_INSERT = """
    INSERT INTO events_alert (event_id, code, rules_version, created_at)
    SELECT %s, code, %s, %s FROM unnest(%s::int[]) AS code
"""


@dataclass(frozen=True, kw_only=True)
class TransactionEvent:
    """A deposit or withdraw to store: the columns the insert writes."""

    tenant_id: str
    event_id: str
    user_id: int
    event_type: str
    source: str
    occurred_at: datetime
    amount: Decimal
    received_at: datetime


@dataclass(frozen=True, kw_only=True)
class EventInserted:
    """What round trip 1 found: the user's traits (None: no such user), the event's id (None:
    nothing inserted), the answers to the planned questions (meaningful only when inserted),
    and the active version of the alert rules, (version, sha256) (None: none is)."""

    user_traits: dict[str, Any] | None
    event_pk: int | None
    answers: dict[Question, Answer]
    active_rules: tuple[int, str] | None = None


@dataclass
class PipelinedTransaction:
    """The pipeline a transaction's statements are queued on, and what to run after COMMIT."""

    pipeline: Pipeline
    # Makes the cursor each statement is queued on (`_cursor_maker`), chosen once.
    cursor: Callable[[], Any]
    on_commit: list[Callable[[], None]] = field(default_factory=list)
    # Set once the COMMIT is queued: from then on the transaction may have been applied.
    committing: bool = False

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        """Queue `sql` on a cursor of its own (a cursor keeps only its last result)."""
        cursor = self.cursor()
        cursor.execute(sql, params)
        return cursor


def pipelined_transaction_run(
    body: Callable[[PipelinedTransaction], T], *, database: BaseDatabaseWrapper
) -> T:
    """Return `body(pipelined)`, run in `pipelined_transaction` on Django's `database`.

    Stands in for Django's per-request health check (CONN_HEALTH_CHECKS, a `SELECT 1` round
    trip before a request's first query on a reused connection), which is not run: a reused
    connection that broke while idle (the server restarted, a proxy dropped it) fails the
    transaction before its COMMIT is sent, so nothing was written; it is closed and `body`
    runs once more on a new connection. A connection lost once the COMMIT was sent is not
    retried, since the COMMIT may have been applied: that request fails.
    """
    if database.in_atomic_block:
        with pipelined_transaction(database) as pipelined:
            return body(pipelined)
    reused = database.connection is not None
    # Django would check the connection before its first statement, queued in the pipeline.
    database.health_check_done = True
    pipelined = None
    try:
        with pipelined_transaction(database) as pipelined:
            return body(pipelined)
    except DatabaseError:
        committing = pipelined is not None and pipelined.committing
        if not reused or committing or not _lost(database):
            raise
    log.warning("transaction.connection_lost", retried=True)
    database.close()
    with pipelined_transaction(database) as pipelined:
        return body(pipelined)


@contextmanager
def pipelined_transaction(database: BaseDatabaseWrapper) -> Iterator[PipelinedTransaction]:
    """Run the body in one transaction on Django's `database` whose statements are sent in
    pipeline mode.

    Statements the body executes are queued until it calls `pipeline.sync()` or reads a result;
    what is still queued when it ends is sent with the COMMIT (or ROLLBACK, when it raises).
    The callables the body adds to `on_commit` run after the COMMIT. Like
    `transaction.atomic(durable=True)`, refuses to run inside another transaction, except
    inside a test's (Django's TestCase), where it is Django's savepoint. Runs no health check
    of the connection: see `pipelined_transaction_run`.
    """
    if database.in_atomic_block:
        with transaction.atomic(using=database.alias, durable=True):
            with _pipeline(database) as pipeline:
                pipelined = PipelinedTransaction(pipeline, _cursor_maker(database))
                yield pipelined
            for callback in pipelined.on_commit:
                transaction.on_commit(callback, using=database.alias)
        return
    with _pipeline(database) as pipeline:
        pipelined = PipelinedTransaction(pipeline, _cursor_maker(database))
        try:
            pipelined.execute("BEGIN")
            yield pipelined
        except BaseException:
            if not _lost(database):
                pipelined.execute("ROLLBACK")
            raise
        pipelined.committing = True
        pipelined.execute("COMMIT")
    for callback in pipelined.on_commit:
        callback()


def _cursor_maker(database: BaseDatabaseWrapper) -> Callable[[], Any]:
    """Return what makes a cursor for each of a transaction's statements, chosen once.

    psycopg's own cursor, not Django's wrapper, unless Django logs queries (DEBUG, or a test
    counting them): the wrapper's bookkeeping per statement is a measurable share of the
    request (docs/BENCHMARKS.md). Errors are still Django's: `_pipeline` translates them.
    Chosen once per transaction, as the database is looked up once per request: each read of
    `queries_logged` reads Django's lazy settings, and each look-up of the connection goes
    through Django's per-thread store, a few microseconds each, per statement.
    """
    return database.cursor if database.queries_logged else database.connection.cursor


def _lost(database: BaseDatabaseWrapper) -> bool:
    """Whether Django's connection holds a psycopg connection that is broken."""
    return database.connection is not None and database.connection.closed


@contextmanager
def _pipeline(database: BaseDatabaseWrapper) -> Iterator[Pipeline]:
    database.ensure_connection()
    with database.wrap_database_errors, database.connection.pipeline() as pipeline:
        yield pipeline


def transaction_event_insert(
    *,
    pipelined: PipelinedTransaction,
    event: TransactionEvent,
    transaction_types: Sequence[str],
    questions: Sequence[Question],
) -> EventInserted:
    """Lock the user, insert `event` unless it is not new, read the active version of the alert
    rules and answer `questions`: one round trip.

    The questions are about the user's history with `event` in it; their answers are
    meaningless when nothing was inserted. The version is read by the statement that locks the
    user: the one active when that statement started.
    """
    anchor = Anchor(user_id=event.user_id, occurred_at=event.occurred_at)
    user = pipelined.execute(_USER_LOCK, [KIND_ALERTS, event.user_id])
    # For the rest of the transaction: the stream's reads take the user's index (alerts.stream).
    pipelined.execute(SORTS_PRICED_OUT)
    inserted = pipelined.execute(
        _event_insert_sql(len(transaction_types)),
        [
            event.tenant_id,
            event.event_id,
            event.user_id,
            event.event_type,
            event.source,
            event.occurred_at,
            event.amount,
            event.received_at,
            *[param for event_type in transaction_types for param in (event.user_id, event_type)],
            event.occurred_at,
        ],
    )
    asked = [
        (question, pipelined.execute(*question_statement(question, anchor=anchor)))
        for question in questions
    ]
    pipelined.pipeline.sync()
    user_row = user.fetchone()
    if user_row is None:
        return EventInserted(user_traits=None, event_pk=None, answers={})
    user_traits = json.loads(user_row[0]) if isinstance(user_row[0], str) else user_row[0]
    inserted_row = inserted.fetchone()
    if inserted_row is None:
        return EventInserted(user_traits=user_traits, event_pk=None, answers={})
    answers = {
        question: question_answer(
            question, cursor.fetchall(), anchor_pk=inserted_row[0], user_traits=user_traits
        )
        for question, cursor in asked
    }
    version, sha256 = user_row[1:]
    return EventInserted(
        user_traits=user_traits,
        event_pk=inserted_row[0],
        answers=answers,
        active_rules=None if version is None else (version, sha256),
    )


def transaction_alerts_queue(
    *,
    pipelined: PipelinedTransaction,
    event_pk: int,
    codes: Sequence[int],
    rules_version: int,
    created_at: datetime,
) -> None:
    """Queue the alerts `codes` of event `event_pk`, raised under the alert rules'
    `rules_version`; analytics reads them with their event.

    Sent with the COMMIT that ends `pipelined_transaction`.
    """
    if not codes:
        return
    pipelined.execute(_ALERTS_INSERT, [event_pk, rules_version, created_at, list(codes)])


@functools.lru_cache(maxsize=8)
def _event_insert_sql(types: int) -> str:
    """Return `_EVENT_INSERT` comparing `t` with the user's latest of `types` types."""
    return _EVENT_INSERT.replace("LATEST", ", ".join([_LATEST_OF_TYPE] * types))
