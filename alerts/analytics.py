"""What the alerts app ships to analytics: one record per alert raised."""

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
