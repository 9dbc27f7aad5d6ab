"""Reads of the metrics app."""

from dataclasses import dataclass
from datetime import datetime

from metrics.models import MetricBucket
from outbox.contracts import CONSUMER_METRICS
from outbox.selectors import outbox_processed_until


@dataclass(frozen=True, kw_only=True)
class Metrics:
    as_of: datetime
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
    metrics message not yet processed, or now when there is none).
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
    return Metrics(
        as_of=as_of, buckets=list(buckets.order_by("bucket_start", "source", "event_type"))
    )
