"""The event table is the log: the consumers of stored events read `events_event` itself.

Each event records the transaction that stored it (`Event.xid`), so a consumer claims the
events after its cursor in (xid, id) order behind the commit horizon, as it claims outbox
messages (outbox.logs, outbox.horizon), and storing an event writes no outbox row. Analytics
and the metrics read every event (`event_log_order`); the notifications the product events
alone (`event_product_log_order`).
"""

from events.analytics import TOPIC_EVENT_STORED
from events.models import PRODUCT_SOURCE, Event
from outbox.contracts import TableLog

EVENT_LOG = TableLog(name="events", model=Event, topic=TOPIC_EVENT_STORED, time_field="received_at")
PRODUCT_EVENT_LOG = TableLog(
    name="product_events",
    model=Event,
    topic=TOPIC_EVENT_STORED,
    time_field="received_at",
    where=f"source = '{PRODUCT_SOURCE}'",
)
