"""What the events app ships to analytics: one record per stored event.

Each record's key names what it is about for ever, so its ClickHouse row id is stable.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models.expressions import RawSQL

from events.models import Event
from outbox.analytics import RowSource
from outbox.contracts import AnalyticsRecord

TOPIC_EVENT_STORED = "event_stored"

_EVENT_FIELDS = (
    "pk",
    "tenant_id",
    "event_id",
    "user_id",
    "event_type",
    "source",
    "occurred_at",
    "amount",
    "properties",
)


def event_records_load(ids: Sequence[int]) -> dict[int, AnalyticsRecord]:
    """Return the analytics record of each stored event in `ids`, by event pk.

    The outbox relay calls this for the event log's rows (event_log_records_load) and for the
    `event_stored` messages written before the event table was the log.
    """
    if connection.vendor == "postgresql":
        # One array parameter: a 10,000-id IN list costs more to compile than to run.
        as_array = RawSQL("SELECT unnest(%s::bigint[])", [list(ids)])
        rows = Event.objects.filter(pk__in=as_array).values_list(*_EVENT_FIELDS)
    else:
        rows = Event.objects.filter(pk__in=ids).values_list(*_EVENT_FIELDS)
    return {row[0]: _event_record(*row[1:]) for row in rows}


def event_log_records_load(ids: Sequence[int]) -> dict[int, list[AnalyticsRecord]]:
    """event_records_load for the event log's rows (events.log): one record per event."""
    return {pk: [record] for pk, record in event_records_load(ids).items()}


def _event_record_columns(event: str) -> str:
    """event_records_load in SQL, for the event row `event` names: the record's columns.

    The context is the same JSON value as the loader's, written by concatenation:
    json_build_object looks up how to write each argument's type on every call, a third of the
    render's time. A numeric's text needs no escaping; strings go through to_json, the jsonb
    properties through their own text.
    """
    return f"""
               'event:' || {event}.tenant_id || ':' || {event}.event_id AS key,
               {event}.event_type,
               {event}.occurred_at,
               {event}.tenant_id,
               {event}.user_id,
               '{{"amount":' || COALESCE('"' || {event}.amount::text || '"', 'null')
                   || ',"event_id":' || to_json({event}.event_id)::text
                   || ',"properties":' || {event}.properties::text
                   || ',"source":' || to_json({event}.source)::text || '}}' AS context
    """


# With which PostgreSQL renders the relay's batches of event_stored messages
# (outbox.analytics.RowSource), those written before the event table was the log.
EVENT_ROW_SOURCE = RowSource(
    sql=f"SELECT id AS subject_id, {_event_record_columns('event')}"
    f" FROM {Event._meta.db_table} AS event"
)
# The same for the event log's own rows (outbox.analytics.LogRows): the row is at hand.
EVENT_LOG_ROWS_SQL = f"SELECT {_event_record_columns('m')}"


def _event_record(
    tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties
) -> AnalyticsRecord:
    return AnalyticsRecord(
        key=f"event:{tenant_id}:{event_id}",
        event_type=event_type,
        occurred_at=occurred_at,
        tenant_id=tenant_id,
        user_id=user_id,
        context={
            "event_id": event_id,
            "source": source,
            "amount": None if amount is None else str(amount),
            "properties": properties,
        },
    )
