"""Rebase a consumer's cursor after the database moved to a cluster with lower transaction ids.

A restore from a dump, or a move to another PostgreSQL cluster, keeps the rows but not the
transaction ids: the new cluster gives out ids below those the messages and the cursor carry,
so every message written since lies behind the cursor, and claims stop (outbox.horizon,
`outbox.cursor_ahead`). Rebasing moves the rows of the old cluster below zero, all by the same
amount: their order, the batches' ranges and the cursor's place among them stay as they were,
and every id the new cluster gives out (3 and up) now comes after the cursor.

The rows of the old cluster are those whose transaction id the new cluster has not given out
yet, and those with an id no higher than the highest such row, batch bound or cursor: ids come
from a sequence the restore kept, so a message written since has a higher id than any of them.
A message of the old cluster with both a lower transaction id than the new cluster's and a
higher id than every row above (an old cluster younger than the restore) is taken for a new one
and may ship a second time; no new message is ever taken for an old one, so none is lost.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import F

from outbox.contracts import TableLog
from outbox.logs import STREAMS
from outbox.models import OutboxBatch, OutboxCursor


@dataclass(frozen=True, kw_only=True)
class Rebased:
    consumer: str
    shift: int
    messages: int


def cursor_rebase(consumer: str) -> Rebased | None:
    """Rebase `consumer`'s cursor if it is ahead of the server; in the caller's transaction.

    Holds the cursor's row lock, so the consumer's claims wait until the caller commits. A
    table log's stream is rebased with every stream of the same table (table_log_rebase).
    """
    if consumer in STREAMS:
        return table_log_rebase(consumer, STREAMS[consumer])
    cursor = OutboxCursor.objects.select_for_update().filter(consumer=consumer).first()
    if cursor is None:
        return None
    with connection.cursor() as db:
        db.execute(_SHIFT, {"consumer": consumer, "cursor_xid": cursor.xid})
        shift, next_xid = db.fetchone()
        if cursor.xid < next_xid:
            return None
        db.execute(_MESSAGES_SHIFT, {"consumer": consumer, "cursor_id": cursor.id, "shift": shift})
        moved = db.rowcount
    OutboxBatch.objects.filter(consumer=consumer).update(
        first_xid=F("first_xid") - shift, last_xid=F("last_xid") - shift
    )
    OutboxCursor.objects.filter(consumer=consumer).update(xid=cursor.xid - shift)
    return Rebased(consumer=consumer, shift=shift, messages=moved)


# One past the highest transaction id any row of the consumer carries: subtracted from the old
# cluster's rows, it puts them all below zero.
_SHIFT = """
    SELECT greatest(
               %(cursor_xid)s,
               (SELECT max(xid) FROM outbox_outboxmessage WHERE consumer = %(consumer)s),
               (SELECT max(greatest(first_xid, last_xid)) FROM outbox_outboxbatch
                WHERE consumer = %(consumer)s)
           ) + 1,
           pg_snapshot_xmax(pg_current_snapshot())::text::bigint
"""
# The old cluster's messages, told apart in the statement's own snapshot: a transaction that
# commits after it started is a new one, and its messages stay where they are.
_MESSAGES_SHIFT = """
    WITH server AS (
        SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid
    ), old AS (
        SELECT greatest(
                   %(cursor_id)s,
                   (SELECT max(greatest(first_id, last_id)) FROM outbox_outboxbatch
                    WHERE consumer = %(consumer)s),
                   (SELECT max(id) FROM outbox_outboxmessage, server
                    WHERE consumer = %(consumer)s AND xid >= server.next_xid)
               ) AS last_id
    )
    UPDATE outbox_outboxmessage SET xid = xid - %(shift)s
    FROM server, old
    WHERE consumer = %(consumer)s AND (xid >= server.next_xid OR id <= old.last_id)
"""


def table_log_rebase(stream: str, log: TableLog) -> Rebased | None:
    """Rebase `stream` and every stream of the same table together, if `stream` is ahead.

    The table's rows are shared by its streams (outbox.logs), so they move once, by one shift
    past every stream's rows, batch bounds, dead letters and cursor; each stream's batches,
    dead letters and cursor move by the same shift, and their order among the rows stays.
    """
    table = log.model._meta.db_table
    streams = sorted(name for name, other in STREAMS.items() if other.model is log.model)
    cursors = {
        cursor.consumer: cursor
        for cursor in OutboxCursor.objects.select_for_update()
        .filter(consumer__in=streams)
        .order_by("consumer")
    }
    if stream not in cursors:
        return None
    with connection.cursor() as db:
        parameters = {
            "streams": streams,
            "cursor_xid": max(cursor.xid for cursor in cursors.values()),
            "cursor_id": max(cursor.id for cursor in cursors.values()),
        }
        db.execute(_TABLE_SHIFT.format(table=table), parameters)
        shift, next_xid = db.fetchone()
        if cursors[stream].xid < next_xid:
            return None
        db.execute(_TABLE_ROWS_SHIFT.format(table=table), {**parameters, "shift": shift})
        moved = db.rowcount
        db.execute(_DEAD_LETTERS_FOLLOW.format(table=table), parameters)
    OutboxBatch.objects.filter(consumer__in=streams).update(
        first_xid=F("first_xid") - shift, last_xid=F("last_xid") - shift
    )
    OutboxCursor.objects.filter(consumer__in=streams).update(xid=F("xid") - shift)
    return Rebased(consumer=stream, shift=shift, messages=moved)


# _SHIFT for a table log's streams: past the table's rows and every stream's own.
_TABLE_SHIFT = """
    SELECT greatest(
               %(cursor_xid)s,
               (SELECT max(xid) FROM {table}),
               (SELECT max(xid) FROM outbox_outboxmessage WHERE consumer = ANY(%(streams)s)),
               (SELECT max(greatest(first_xid, last_xid)) FROM outbox_outboxbatch
                WHERE consumer = ANY(%(streams)s))
           ) + 1,
           pg_snapshot_xmax(pg_current_snapshot())::text::bigint
"""
# A stream's dead letter names its row and carries the row's xid: it follows the row.
_DEAD_LETTERS_FOLLOW = """
    UPDATE outbox_outboxmessage AS dead SET xid = row.xid
    FROM {table} AS row
    WHERE dead.consumer = ANY(%(streams)s) AND row.id = dead.subject_id
"""
# _MESSAGES_SHIFT for the table's rows.
_TABLE_ROWS_SHIFT = """
    WITH server AS (
        SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid
    ), old AS (
        SELECT greatest(
                   %(cursor_id)s,
                   (SELECT max(greatest(first_id, last_id)) FROM outbox_outboxbatch
                    WHERE consumer = ANY(%(streams)s)),
                   (SELECT max(id) FROM {table}, server WHERE xid >= server.next_xid)
               ) AS last_id
    )
    UPDATE {table} SET xid = xid - %(shift)s
    FROM server, old
    WHERE xid >= server.next_xid OR id <= old.last_id
"""
