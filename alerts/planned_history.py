"""A plan's history questions as SQL statements, sent in one batch with the event's insert.

The statements mean what `events.history.UserEventHistory` scoped to the alert stream asks
through the ORM (the same filters, compiled once per filter by the ORM), but name the anchor
by its idempotency key: they are sent in the same round trip as the statement that inserts it,
before its id is known. PostgreSQL only (alerts.pipeline).
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

from alerts.stream import STREAM_SQL, TRANSACTION_TYPES
from events.history import event_filter_q
from events.models import Event
from rules.history import EventFilter, EventRecord
from rules.plan import AggregateQuestion, Answer, ExistsQuestion, LastQuestion, Question

_ANCHOR_ID = "(SELECT id FROM events_event WHERE tenant_id = %s AND event_id = %s)"
_AGGREGATED = {
    "count": "COUNT(id)",
    "sum": "SUM(amount)",
    "min": "MIN(amount)",
    "max": "MAX(amount)",
}


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """The event being evaluated: inserted earlier in the same batch, so named by its key."""

    user_id: int
    tenant_id: str
    event_id: str
    occurred_at: datetime


def question_statement(question: Question, *, anchor: Anchor) -> tuple[str, list[Any]]:
    """Return the SQL and parameters that answer `question` about `anchor`'s user's stream.

    One SELECT per event type (UNION ALL), each bounded by its own ORDER BY ... LIMIT or time
    range on `event_stream_type_time`: an `IN` list of types would be a scan of every event
    of those types and a sort, unless the planner's statistics say otherwise.
    """
    anchor_id = (anchor.tenant_id, anchor.event_id)
    if isinstance(question, LastQuestion):
        shape = _statement_shape(LastQuestion, question.events, question.count)
        condition_params: tuple[Any, ...] = (anchor.occurred_at, anchor.occurred_at, *anchor_id)
    elif isinstance(question, AggregateQuestion):
        shape = _statement_shape(AggregateQuestion, question.events, question.function)
        condition_params = (question.start, question.end)
    else:
        shape = _statement_shape(ExistsQuestion, question.events, None)
        condition_params = (question.start, question.end, *anchor_id)
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
        newest = f"ORDER BY occurred_at DESC, id DESC LIMIT {int(detail)}"
        sql = matching(
            "id, event_type, occurred_at, amount, properties",
            f"occurred_at <= %s AND (occurred_at < %s OR id <= {_ANCHOR_ID}) {newest}",
        )
        if len(types) > 1:
            sql = f"SELECT * FROM ({sql}) AS latest {newest}"
        return sql, types, where_params
    if kind is AggregateQuestion:
        sql = matching("id, amount", "occurred_at BETWEEN %s AND %s")
        return f"SELECT {_AGGREGATED[detail]} FROM ({sql}) AS matching", types, where_params
    sql = matching("1", f"occurred_at BETWEEN %s AND %s AND id <> {_ANCHOR_ID}")
    return f"SELECT EXISTS ({sql})", types, where_params


def question_answer(
    question: Question, rows: Sequence[tuple], *, user_traits: dict[str, Any]
) -> Answer:
    """Return the rule core's answer to `question` from the rows its statement returned."""
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
    [(value,)] = rows
    if isinstance(question, AggregateQuestion):
        return None if value is None else Decimal(value)
    return bool(value)


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
