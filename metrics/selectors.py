"""Reads of the metrics app."""

from dataclasses import dataclass
from datetime import datetime

from events.analytics import TOPIC_EVENT_STORED
from events.models import Event
from metrics.models import MetricBucket
from outbox.contracts import CONSUMER_METRICS
from outbox.selectors import outbox_dead_lettered_subjects, outbox_processed_until


@dataclass(frozen=True, kw_only=True)
class Metrics:
    as_of: datetime
    dead_lettered: int
    buckets: list[MetricBucket]


def metrics_list(
    *,
    tenant_id: str,
    bucket_size: str,
    bucket_from: datetime | None = None,
    bucket_to: datetime | None = None,
    source: str | None = None,
    event_type: str | None = None,
) -> Metrics:
    """Return the tenant's buckets of one size, oldest first, and how fresh they are.

    `as_of`: every event committed before it is counted (the creation time of the oldest
    metrics message not yet processed, or now when there is none), but the `dead_lettered`
    ones: the tenant's events the metrics consumer gave up on, counted in no bucket until an
    operator re-queues them (`manage.py outbox retry-dead`), which holds `as_of` back again
    until they are counted. Waiting for them instead would stop `as_of` for good.
    """
    buckets = MetricBucket.objects.filter(tenant_id=tenant_id, bucket_size=bucket_size)
    for name, value in (
        ("bucket_start__gte", bucket_from),
        ("bucket_start__lt", bucket_to),
        ("source", source),
        ("event_type", event_type),
    ):
        if value is not None:
            buckets = buckets.filter(**{name: value})
    as_of = outbox_processed_until(consumer=CONSUMER_METRICS)
    dead = outbox_dead_lettered_subjects(consumer=CONSUMER_METRICS, topic=TOPIC_EVENT_STORED)
    return Metrics(
        as_of=as_of,
        dead_lettered=Event.objects.filter(tenant_id=tenant_id, pk__in=dead).count(),
        buckets=list(buckets.order_by("bucket_start", "source", "event_type")),
    )
