"""What the alerts app ships to analytics: one record per alert raised, with its event.

The alerts are stored in their event's transaction, so they ship as rows of the event log
(events.log), after their event: no message each.
"""

from collections import defaultdict
from collections.abc import Sequence

from alerts.models import Alert
from events.models import Event
from outbox.contracts import AnalyticsRecord

TOPIC_ALERT_RAISED = "alert_raised"


def alert_record(*, event: Event, code: int) -> AnalyticsRecord:
    """Return the analytics record of alert `code` raised by `event`."""
    return AnalyticsRecord(
        key=f"alert:{event.tenant_id}:{event.event_id}:{code}",
        event_type=TOPIC_ALERT_RAISED,
        occurred_at=event.occurred_at,
        tenant_id=event.tenant_id,
        user_id=event.user_id,
        context={"code": code, "event_id": event.event_id},
    )


def alert_records_load(event_ids: Sequence[int]) -> dict[int, list[AnalyticsRecord]]:
    """Return the analytics records of the alerts of each event in `event_ids`, by event pk."""
    records: dict[int, list[AnalyticsRecord]] = defaultdict(list)
    for alert in Alert.objects.filter(event_id__in=list(event_ids)).select_related("event"):
        records[alert.event_id].append(alert_record(event=alert.event, code=alert.code))
    return dict(records)


# alert_records_load in SQL for the event log's row `m` (outbox.analytics.LogRows): its
# alerts, through the unique (event, code) index, in the batch's range of event ids so a render
# reads them in one pass.
ALERT_LOG_ROWS_SQL = f"""
        SELECT 'alert:' || m.tenant_id || ':' || m.event_id || ':' || alert.code AS key,
               '{TOPIC_ALERT_RAISED}' AS event_type,
               m.occurred_at,
               m.tenant_id,
               m.user_id,
               '{{"code":' || alert.code || ',"event_id":' || to_json(m.event_id)::text
                   || '}}' AS context
        FROM {Alert._meta.db_table} AS alert
        WHERE alert.event_id = m.id
          AND alert.event_id BETWEEN %(entries_min_id)s AND %(entries_max_id)s
    """
