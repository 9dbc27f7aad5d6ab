"""The commit horizon: which of a consumer's messages a claim may take, and who holds it back.

Below the horizon every transaction that can write this database's messages has ended, so no
message can appear there after a claim took a range in (xid, id) order (`outbox.batches`;
docs/architecture.md, "The commit horizon"). PostgreSQL only: SQLite runs one writing
transaction at a time.
"""

from dataclasses import dataclass
from datetime import datetime

import structlog
from django.db import connection

from outbox.logs import LogSql, log_sql

log = structlog.get_logger(__name__)


def messages_below_horizon(
    *, consumer: str, after: tuple[int, int], size: int
) -> tuple[int, datetime | None, list[int] | None, list[int] | None, tuple[int, int] | None]:
    """Take up to `size` of `consumer`'s messages after `after`, in (xid, id) order, below it.

    `consumer` names a stream (outbox.logs): a consumer's own messages, or a table log's rows.

    Returns their count, the oldest publication time, the first and last (xid, id) and the
    least and greatest id (in xid order ids are not in order: a table log's render joins other
    tables on this id range, outbox.analytics_copy). Runs in the caller's transaction, which
    holds the consumer's cursor, and moves the cursor to the last message taken in the same
    statement.

    Takes nothing, and logs `outbox.cursor_ahead`, while the cursor is ahead of every
    transaction id the server has given out (a restore, a move to another cluster): the
    messages written since have lower ids and would wait behind it unseen (cursors_ahead).
    The cursor never passes the claim's own transaction or the snapshot's xmax otherwise.
    """
    sql = log_sql(consumer)
    with connection.cursor() as db:
        db.execute(_statement(_HORIZON, sql), {"consumer": consumer})
        horizon, elsewhere, next_xid = db.fetchone()
        if after[0] >= next_xid:
            log.error(
                "outbox.cursor_ahead",
                consumer=consumer,
                cursor_xid=after[0],
                server_next_xid=next_xid,
                hint="manage.py outbox rebase-cursor",
            )
            return 0, None, None, None, None
        where = {"consumer": consumer, "xid": after[0], "id": after[1], "n": size}
        db.execute(_IN_INDEX_ORDER)
        db.execute(_statement(_CLAIM, sql), {**where, "horizon": horizon, "elsewhere": elsewhere})
        count, oldest_at, first, last, min_id, max_id = db.fetchone()
        if not count:
            _horizon_check(db, where, sql)
            return count, oldest_at, first, last, None
    return count, oldest_at, first, last, (min_id, max_id)


# Every session of the server as pg_stat_activity shows it, read afresh. PostgreSQL keeps one
# copy per transaction; the argument (NULL: every session) first drops it, so the sessions
# are read after the statement's snapshot was taken, whatever this transaction read before.
# A session's database and transaction id are shown to every role; its state and the start of
# its transaction only to the same role or a member of pg_read_all_stats (outbox.checks).
_SESSIONS = "pg_stat_get_activity((SELECT NULL::int FROM pg_stat_clear_snapshot()))"
_THIS_DATABASE = "(SELECT oid FROM pg_database WHERE datname = current_database())"

# The horizon: below it, every transaction that can write this database's messages has ended,
# this one aside. Found in two statements, each with a snapshot of its own.
#
# The first looks at each transaction its snapshot counts as running, below its xmax: it
# leaves out those a session of another database holds (a session writes in its own database
# only) and those that have ended since the snapshot was taken. Every other one holds the
# horizon: a session of this database, a prepared transaction, one whose session has just
# ended but that has not finished. A transaction that starts after the snapshot gets an id at
# or above its xmax, so the sessions read later cannot lower the horizon wrongly.
#
# A transaction that claims its own messages (tests claim inside the transaction that wrote)
# has an id at or above that xmax, and the ids between the two were given out before its own
# and had not ended at the snapshot: each of those is looked at too. Among them are other
# sessions' subtransactions (savepoints), which pg_stat_activity does not show, so these are
# placed by their session's transaction id or else by the lock every transaction takes on its
# own id (pg_locks), which names its session. A savepoint released is in progress until its
# transaction ends, but its lock went at RELEASE: an id that neither a session shows nor a
# lock names is such a savepoint's (or has ended), and its transaction, which a session does
# show and whose lower id is looked at too, holds the horizon or not in its place. Counted
# as this database's, another database's released savepoint held claims back at random.
#
# The second statement takes the messages below that horizon with a later snapshot, which sees
# what the transactions that ended meanwhile wrote. A transaction whose end the commit log
# shows before its snapshot does (a moment, during its commit) still holds it back. Had one
# statement done both, a transaction that ended between its snapshot and its look at the
# sessions would have held every claim back as if it were this database's: under other
# clients' short transactions, claims found nothing at random.
_HORIZON = f"""
    WITH snapshot AS (
        SELECT pg_snapshot_xmax(snap)::text::bigint AS xmax, own,
               EXISTS (
                   SELECT FROM {{table}}
                   WHERE {{where}} AND xid = own
               ) AS claims_own
        FROM (
            SELECT pg_current_snapshot() AS snap,
                   pg_current_xact_id_if_assigned()::text::bigint AS own
        ) AS current
    ), sessions AS MATERIALIZED (
        SELECT pid, backend_xid, datid <> {_THIS_DATABASE} AS elsewhere FROM {_SESSIONS}
    ), listed AS (
        SELECT running::text::bigint AS xid, EXISTS (
                   SELECT FROM sessions
                   WHERE sessions.backend_xid = running::xid AND sessions.elsewhere
               ) AS elsewhere, true AS named
        FROM pg_snapshot_xip(pg_current_snapshot()) AS running
    ), given_before_own AS (
        SELECT xid, EXISTS (
                   SELECT FROM sessions
                   WHERE sessions.backend_xid = xid::text::xid AND sessions.elsewhere
               ) OR EXISTS (
                   SELECT FROM pg_locks JOIN sessions USING (pid)
                   WHERE pg_locks.locktype = 'transactionid' AND pg_locks.granted
                     AND pg_locks.transactionid = xid::text::xid AND sessions.elsewhere
               ) AS elsewhere, EXISTS (
                   SELECT FROM sessions WHERE sessions.backend_xid = xid::text::xid
               ) OR EXISTS (
                   SELECT FROM pg_locks
                   WHERE pg_locks.locktype = 'transactionid'
                     AND pg_locks.transactionid = xid::text::xid
               ) AS named
        FROM snapshot, generate_series(xmax, own - 1) AS xid
        WHERE claims_own
    ), running AS (
        SELECT xid, elsewhere,
               named AND coalesce(pg_xact_status(xid::text::xid8), 'in progress') = 'in progress'
                   AS in_progress
        FROM (SELECT * FROM listed UNION ALL SELECT * FROM given_before_own) AS counted
    )
    SELECT least(
               CASE WHEN claims_own AND own >= xmax THEN own + 1 ELSE xmax END,
               (SELECT min(xid) FROM running WHERE in_progress AND NOT elsewhere)
           ),
           ARRAY(SELECT xid FROM running WHERE elsewhere),
           greatest(xmax, own + 1)
    FROM snapshot
"""
_CLAIM = """
    WITH horizon AS (
        SELECT least(%(horizon)s::bigint, (
            SELECT min(running::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS running
            WHERE running::text::bigint <> ALL (%(elsewhere)s::bigint[])
        )) AS xid
    ), taken AS (
        SELECT xid, id, {time} AS created_at FROM {table}
        WHERE {where} AND (xid, id) > (%(xid)s, %(id)s)
          AND xid < (SELECT xid FROM horizon)
        ORDER BY xid, id
        LIMIT %(n)s
    ), claimed AS (
        SELECT count(*) AS size, min(created_at), min(ARRAY[xid, id]),
               max(ARRAY[xid, id]) AS last, min(id), max(id)
        FROM taken
    ), moved AS (
        UPDATE outbox_outboxcursor SET xid = claimed.last[1], id = claimed.last[2]
        FROM claimed
        WHERE consumer = %(consumer)s AND claimed.size > 0
    )
    SELECT * FROM claimed
"""


def in_index_order() -> None:
    """Leave the planner no plan but index scans for the rest of the caller's transaction.

    For the reads of a range after a cursor (the claims, and the backlog of a table log that
    grows for ever): without statistics the planner takes such a range for a third of the
    table and reads all of it.
    """
    with connection.cursor() as db:
        db.execute(_IN_INDEX_ORDER)


# A claim reads its messages in the index's order and stops at its LIMIT, whatever the planner
# knows. Without statistics (a fresh deployment, before its first ANALYZE) it guessed a bitmap
# scan of every message after the cursor and a sort, or a sequential scan and a sort of the
# whole table; with no other way left, the one plan is an index scan of outbox_message_order
# from the cursor on. For the rest of the claim's transaction: its other statements find rows
# by key, and a batch rendered with the claim (outbox.analytics_copy) reads the same index range
# in the same order.
_IN_INDEX_ORDER = """
    SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off
"""
# The first and last (xid, id) come back as arrays, which compare as the row comparison does,
# so one pass finds them unsorted: half the time of the numeric xid * 2^63 + id it replaced.


@dataclass(frozen=True, kw_only=True)
class CursorAhead:
    """A consumer whose cursor is at or past the next transaction id the server gives out.

    Transaction ids never go back on one cluster, so the database was restored or moved to
    another: every message written since lies behind the cursor, and claims stop until
    `manage.py outbox rebase-cursor` (outbox.services.outbox_cursors_rebase).
    """

    consumer: str
    cursor_xid: int
    server_next_xid: int


def cursors_ahead() -> list[CursorAhead]:
    """The consumers whose cursor is ahead of the server's transaction ids. PostgreSQL only."""
    with connection.cursor() as db:
        db.execute(_AHEAD)
        return [
            CursorAhead(consumer=consumer, cursor_xid=xid, server_next_xid=next_xid)
            for consumer, xid, next_xid in db.fetchall()
        ]


# The next transaction id the server gives out, as this transaction knows it: its snapshot's
# xmax is one past the last transaction that ended, and its own id, if it has one, may be past
# that (a test claims inside the transaction that wrote its messages, and moves the cursor
# there).
_AHEAD = """
    SELECT consumer, xid, next_xid
    FROM outbox_outboxcursor, (
        SELECT greatest(
                   pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
                   pg_current_xact_id_if_assigned()::text::bigint + 1
               ) AS next_xid
    ) AS server
    WHERE xid >= next_xid
    ORDER BY consumer
"""


# A claim that finds messages only above the horizon this long says what holds it back.
HELD_BACK_WARNING_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True)
class HorizonHolder:
    """The session of this database whose open transaction holds the commit horizon back.

    `transaction_age_seconds` and `state` are None when the database role may not see them: a
    session of another role, without pg_read_all_stats (outbox.checks).
    """

    pid: int
    transaction_age_seconds: float | None
    state: str | None


def horizon_holder() -> HorizonHolder | None:
    """The session of this database, but this one, with the oldest transaction that has an id.

    Transactions of other databases never hold the horizon back, so they are never named.
    """
    with connection.cursor() as db:
        db.execute(_HOLDER)
        row = db.fetchone()
    if row is None:
        return None
    pid, seconds, state = row
    return HorizonHolder(
        pid=pid,
        transaction_age_seconds=None if seconds is None else round(seconds, 3),
        state=state,
    )


_HOLDER = f"""
    SELECT pid, extract(epoch FROM clock_timestamp() - xact_start)::float, state
    FROM {_SESSIONS} AS session
    WHERE datid = {_THIS_DATABASE} AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
    ORDER BY age(backend_xid) DESC
    LIMIT 1
"""


def _statement(template: str, sql: LogSql) -> str:
    """`template` reading the log `sql` describes (its braces doubled where they are SQL's)."""
    return template.format(table=sql.table, where=sql.where, time=sql.time)


def _horizon_check(db, where: dict, sql: LogSql) -> None:
    """Log the transaction that holds `where["consumer"]`'s committed messages back, if long.

    A transaction open in this database keeps the horizon at its id until it ends; nothing is
    lost meanwhile, but nothing after it ships. Without pg_read_all_stats a session of another
    role shows no transaction start, so its hold is not logged (outbox.checks warns at start).
    """
    db.execute(_statement(_UNCLAIMED, sql), where)
    if not db.fetchone()[0]:
        return
    holder = horizon_holder()
    if holder is None or holder.transaction_age_seconds is None:
        return
    if holder.transaction_age_seconds >= HELD_BACK_WARNING_SECONDS:
        log.warning(
            "outbox.claim_held_back",
            consumer=where["consumer"],
            pid=holder.pid,
            transaction_age_s=round(holder.transaction_age_seconds, 1),
            state=holder.state,
        )


_UNCLAIMED = """
    SELECT EXISTS (
        SELECT FROM {table}
        WHERE {where} AND (xid, id) > (%(xid)s, %(id)s)
    )
"""
