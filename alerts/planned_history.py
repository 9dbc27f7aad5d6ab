"""A plan's history questions as SQL statements, sent in one batch with the event's insert.

The statements mean what `events.history.UserEventHistory` asks through the ORM (the same
filters, compiled once per filter by the ORM), but name the anchor by its idempotency key:
they are sent in the same round trip as the statement that inserts it, before its id is known.
PostgreSQL only (alerts.pipeline).
"""

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection

from events.history import event_filter_q
from events.models import Event
from rules.history import EventFilter, EventRecord
from rules.plan import AggregateQuestion, Answer, LastQuestion, Question

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
    """Return the SQL and parameters that answer `question` about `anchor`'s user."""
    where, where_params = _filter_sql(question.events)
    params: list[Any] = [anchor.user_id, *where_params]
    matching = f"FROM events_event WHERE user_id = %s AND {where}"
    anchor_id = [anchor.tenant_id, anchor.event_id]
    if isinstance(question, LastQuestion):
        at = anchor.occurred_at
        sql = (
            f"SELECT id, event_type, occurred_at, amount, properties {matching} "
            f"AND occurred_at <= %s AND (occurred_at < %s OR id <= {_ANCHOR_ID}) "
            f"ORDER BY occurred_at DESC, id DESC LIMIT {int(question.count)}"
        )
        return sql, [*params, at, at, *anchor_id]
    in_window = [question.start, question.end]
    if isinstance(question, AggregateQuestion):
        sql = (
            f"SELECT {_AGGREGATED[question.function]} {matching} AND occurred_at BETWEEN %s AND %s"
        )
        return sql, [*params, *in_window]
    sql = (
        f"SELECT EXISTS (SELECT 1 {matching} AND occurred_at BETWEEN %s AND %s "
        f"AND id <> {_ANCHOR_ID})"
    )
    return sql, [*params, *in_window, *anchor_id]


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
