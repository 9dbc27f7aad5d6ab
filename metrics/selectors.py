"""Reads of the metrics app."""

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from events.analytics import TOPIC_EVENT_STORED
from events.models import Event
from events.validation import time_in_range
from metrics.models import MetricBucket
from midnite_test.errors import InvalidQuery
from midnite_test.parsers import json_strict_loads
from midnite_test.text import controls_refuse
from outbox.contracts import CONSUMER_METRICS
from outbox.selectors import outbox_dead_lettered_subjects, outbox_processed_until

# The most buckets one answer holds (a year of hours is 8,760 per source and type).
MAX_BUCKETS_PER_PAGE = 5_000


@dataclass(frozen=True, kw_only=True)
class Metrics:
    as_of: datetime
    dead_lettered: int
    buckets: list[MetricBucket]
    # Where the next page starts; None on the last page.
    next_cursor: str | None = None


def metrics_list(
    *,
    tenant_id: str,
    bucket_size: str,
    bucket_from: datetime | None = None,
    bucket_to: datetime | None = None,
    source: str | None = None,
    event_type: str | None = None,
    page_size: int = MAX_BUCKETS_PER_PAGE,
    cursor: str | None = None,
) -> Metrics:
    """Return one page of the tenant's buckets of one size, oldest first, and how fresh they are.

    A page holds at most `page_size` buckets, those after `cursor` (a page's `next_cursor`);
    followed to the end, the cursors visit every bucket once. Raises InvalidQuery for a
    cursor this API did not make.

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
    if cursor is not None:
        buckets = buckets.filter(_after(*_cursor_decode(cursor)))
    as_of = outbox_processed_until(consumer=CONSUMER_METRICS)
    dead = outbox_dead_lettered_subjects(consumer=CONSUMER_METRICS, topic=TOPIC_EVENT_STORED)
    rows = list(buckets.order_by("bucket_start", "source", "event_type")[: page_size + 1])
    more = len(rows) > page_size
    return Metrics(
        as_of=as_of,
        dead_lettered=Event.objects.filter(tenant_id=tenant_id, pk__in=dead).count(),
        buckets=rows[:page_size],
        next_cursor=_cursor_encode(rows[page_size - 1]) if more else None,
    )


def _after(bucket_start: datetime, source: str, event_type: str) -> Q:
    """The buckets after this one in (bucket_start, source, event_type) order."""
    return (
        Q(bucket_start__gt=bucket_start)
        | Q(bucket_start=bucket_start, source__gt=source)
        | Q(bucket_start=bucket_start, source=source, event_type__gt=event_type)
    )


def _cursor_encode(bucket: MetricBucket) -> str:
    text = json.dumps([bucket.bucket_start.isoformat(), bucket.source, bucket.event_type])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _cursor_decode(cursor: str) -> tuple[datetime, str, str]:
    try:
        # As strict as a body: the key's strings reach the query.
        key = json_strict_loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        start, source, event_type = key
        if not (isinstance(start, str) and isinstance(source, str) and isinstance(event_type, str)):
            raise ValueError("not a bucket's key")
        parsed = datetime.fromisoformat(start)
        if parsed.tzinfo is None:
            raise ValueError("no timezone")
        return time_in_range(parsed), controls_refuse(source), controls_refuse(event_type)
    except (ValueError, TypeError, RecursionError):
        raise InvalidQuery(
            "The cursor is not one this API made; follow the `next` links.",
            details={"cursor": ["Invalid cursor."]},
        ) from None
