"""What other apps hand to the outbox: message specs and analytics records."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

CONSUMER_ANALYTICS = "analytics"
CONSUMER_METRICS = "metrics"
CONSUMER_NOTIFICATIONS = "notifications"
# Every consumer of a stored event.
CONSUMERS = (CONSUMER_ANALYTICS, CONSUMER_METRICS)
# The consumers the tick runs, in this order: every reader of the event logs.
TICK_CONSUMERS = (*CONSUMERS, CONSUMER_NOTIFICATIONS)

# The namespace of every event_log id: uuid5(namespace, "<kind>:<tenant>:<key>").
EVENT_LOG_NAMESPACE = UUID("6f1c4a52-3b0e-4c5e-9f7a-1d2e3c4b5a69")


@dataclass(frozen=True, kw_only=True)
class Message:
    """One message to publish: about a stored row (`subject_id`) or carrying `payload`."""

    topic: str
    subject_id: int | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class AnalyticsRecord:
    """One row of ClickHouse `event_log`, before the relay adds the environment.

    `key` names what the row is about, uniquely and for ever (for example
    `event:default:txn:1:20`); the row's id is derived from it, so a row shipped twice
    replaces itself.
    """

    key: str
    event_type: str
    occurred_at: datetime
    tenant_id: str
    user_id: int | None
    context: dict[str, Any]

    @property
    def event_log_id(self) -> UUID:
        return uuid5(EVENT_LOG_NAMESPACE, self.key)

    def as_message(self, *, topic: str) -> Message:
        """Return a message that carries this record as its payload."""
        payload = {
            "key": self.key,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at.isoformat(),
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "context": self.context,
        }
        return Message(topic=topic, payload=payload)


@dataclass(frozen=True, kw_only=True)
class TableLog:
    """A table of an app's own whose rows are a log: consumers read it in (xid, id) order.

    The rows must carry `xid`, the id of the transaction that wrote them
    (outbox.models.CurrentTransactionId), and an index on (xid, id) (partial on `where`, if
    any), so a claim reads the range after a cursor behind the commit horizon exactly as it
    reads outbox messages (outbox.horizon). A row is then one message of `topic` about itself:
    its consumers' handlers get `(id, topic, id, None)`, as if an outbox message carried its
    id, and no message is written. `where` is SQL over the table's columns, without
    parameters, that picks the log's rows; `time_field` says when a row was written (the
    backlog's age).
    """

    name: str
    model: Any
    topic: str
    time_field: str
    where: str = "true"

    def stream(self, consumer: str) -> str:
        """The name `consumer`'s cursor and batches of this log go by: `<consumer>:<name>`."""
        return f"{consumer}:{self.name}"
