"""A plan's history questions as SQL statements, sent in one batch with the event's insert.

The statements mean what `events.history.UserEventHistory` scoped to the alert stream asks
through the ORM (the same filters, compiled once per filter by the ORM), about an anchor that
is the newest event of its user's stream: they are sent in the same round trip as the statement
that inserts it, before its id is known, and that statement inserts it only when its `t` is
after the user's latest transaction, with the user locked. So "at or before the anchor" is
every event of the user's stream up to its time, and "other than the anchor" is told apart by
its id once the insert's answer has it (`question_answer`). They never look the anchor up by
its key: without statistics, a planner may answer that look-up from the tenant's index of the
stream, reading every user's transactions. PostgreSQL only (alerts.pipeline).
"""

import dataclasses
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection

from alerts.stream import STREAM_ORDER, STREAM_ORDER_NEWEST, STREAM_SQL, TRANSACTION_TYPES
from events.history import event_filter_q
from events.models import Event
from rules.history import EventFilter, EventRecord
from rules.plan import AggregateQuestion, Answer, ExistsQuestion, LastQuestion, Question

_AGGREGATED = {
    "count": "COUNT(id)",
    "sum": "SUM(amount)",
    "min": "MIN(amount)",
    "max": "MAX(amount)",
}


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """The event being evaluated: inserted earlier in the same batch, the newest of its user's
    stream."""

    user_id: int
    occurred_at: datetime


def question_statement(question: Question, *, anchor: Anchor) -> tuple[str, list[Any]]:
    """Return the SQL and parameters that answer `question` about `anchor`'s user's stream.

    One SELECT per event type (UNION ALL), each bounded by its own ORDER BY ... LIMIT or time
    range on `event_stream_type_time`: an `IN` list of types would be a scan of every event
    of those types and a sort, unless the planner's statistics say otherwise. Each SELECT
    orders its rows as that index does, even where the answer does not need it (a sum, an
    EXISTS): with sorts priced out (alerts.pipeline), that order is what keeps the planner on
    the user's index rather than the tenant's (alerts.stream).
    """
    if isinstance(question, LastQuestion):
        shape = _statement_shape(LastQuestion, question.events, question.count)
        condition_params: tuple[Any, ...] = (anchor.occurred_at,)
    elif isinstance(question, AggregateQuestion):
        shape = _statement_shape(AggregateQuestion, question.events, question.function)
        condition_params = (question.start, question.end)
    else:
        shape = _statement_shape(ExistsQuestion, question.events, None)
        condition_params = (question.start, question.end)
    sql, types, where_params = shape
    return sql, [
        param
        for event_type in types
        for param in (anchor.user_id, event_type, *where_params, *condition_params)
    ]


@functools.lru_cache(maxsize=256)
def _statement_shape(
    kind: type, events: EventFilter, detail: int | str | None
) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
    """Return the SQL of a question of `kind` about `events` (`detail`: a `last` question's
    count, an aggregate's function), the event types it has one SELECT for, and its filter's
    parameters: what does not change from one event to the next, made once.

    Each SELECT's parameters are the user, its type, the filter's, then the question's own
    (`question_statement`).
    """
    where, where_params = _filter_sql(dataclasses.replace(events, event_types=None))
    types = tuple(sorted(TRANSACTION_TYPES if events.event_types is None else events.event_types))

    def matching(columns: str, condition: str) -> str:
        """One SELECT of `columns` per type, joined by UNION ALL."""
        if not types:
            return f"SELECT {columns} FROM events_event WHERE FALSE"
        select = (
            f"(SELECT {columns} FROM events_event WHERE user_id = %s AND {STREAM_SQL} "
            f"AND event_type = %s AND {where} AND {condition})"
        )
        return " UNION ALL ".join([select] * len(types))

    if kind is LastQuestion:
        newest = f"ORDER BY {STREAM_ORDER_NEWEST} LIMIT {int(detail)}"
        sql = matching(
            "id, event_type, occurred_at, amount, properties",
            f"occurred_at <= %s {newest}",
        )
        if len(types) > 1:
            sql = f"SELECT * FROM ({sql}) AS latest {newest}"
        return sql, types, where_params
    if kind is AggregateQuestion:
        sql = matching("id, amount", f"occurred_at BETWEEN %s AND %s ORDER BY {STREAM_ORDER}")
        return f"SELECT {_AGGREGATED[detail]} FROM ({sql}) AS matching", types, where_params
    # Two ids at most: one may be the anchor's.
    sql = matching("id", f"occurred_at BETWEEN %s AND %s ORDER BY {STREAM_ORDER} LIMIT 2")
    return f"SELECT id FROM ({sql}) AS matching LIMIT 2", types, where_params


def question_answer(
    question: Question, rows: Sequence[tuple], *, anchor_pk: int, user_traits: dict[str, Any]
) -> Answer:
    """Return the rule core's answer to `question` from the rows its statement returned, the
    anchor stored under `anchor_pk`."""
    if isinstance(question, LastQuestion):
        return [
            EventRecord(
                sequence=pk,
                event_type=event_type,
                occurred_at=occurred_at,
                amount=amount,
                properties=json.loads(properties) if isinstance(properties, str) else properties,
                user_traits=user_traits,
            )
            for pk, event_type, occurred_at, amount, properties in rows
        ]
    if isinstance(question, AggregateQuestion):
        [(value,)] = rows
        return None if value is None else Decimal(value)
    return any(pk != anchor_pk for (pk,) in rows)


@functools.lru_cache(maxsize=256)
def _filter_sql(events: EventFilter) -> tuple[str, tuple[Any, ...]]:
    """Return `events` as a WHERE condition on events_event, compiled once by the ORM."""
    query = Event.objects.filter(event_filter_q(events)).query
    try:
        sql, params = query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:
        return "TRUE", ()
    except EmptyResultSet:
        return "FALSE", ()
    return f"({sql})", tuple(params)
