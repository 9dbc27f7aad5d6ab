"""Metric buckets, maintained incrementally from the outbox's `metrics` messages.

Each stored event adds 1 to the count and its amount to the sum of three buckets (its minute,
hour and day, in UTC), in the transaction that marks its message done, so every event is
counted exactly once: late commits are counted when they commit, duplicates are never stored
and so never published.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import connection

from events.analytics import TOPIC_EVENT_STORED
from events.models import Event
from metrics.models import MetricBucket

_TRUNCATE = {
    MetricBucket.Size.MINUTE: dict(second=0, microsecond=0),
    MetricBucket.Size.HOUR: dict(minute=0, second=0, microsecond=0),
    MetricBucket.Size.DAY: dict(hour=0, minute=0, second=0, microsecond=0),
}
# Rows per upsert statement (7 parameters each).
UPSERT_CHUNK = 1_000

BucketKey = tuple[str, str, datetime, str, str]


def bucket_start(occurred_at: datetime, size: str) -> datetime:
    """Return the start of the `size` bucket (UTC) that `occurred_at` falls in."""
    return occurred_at.replace(**_TRUNCATE[MetricBucket.Size(size)])


def metric_buckets_add(messages: Sequence[tuple]) -> None:
    """Count the events of `event_stored` messages into their buckets (the metrics handler).

    On PostgreSQL one statement whatever the batch's size: the database reads the events,
    buckets and sums them and adds them in (_ADD_IN_DATABASE). The worker runs this on every
    tick's batch, and the events read into Python, bucketed three times each and sent back had
    made its cost grow with the rate (docs/BENCHMARKS.md, "Issue 20, stop 26: the worker as
    deployed"). Elsewhere (SQLite, which has no date_trunc) the same sums are made in Python.
    """
    ids = [subject_id for _, topic, subject_id, _ in messages if topic == TOPIC_EVENT_STORED]
    if not ids:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_ADD_IN_DATABASE, [[size.value for size in MetricBucket.Size], ids])
        return
    increments: dict[BucketKey, list] = defaultdict(lambda: [0, Decimal(0)])
    rows = Event.objects.filter(pk__in=ids).values_list(
        "tenant_id", "source", "event_type", "occurred_at", "amount"
    )
    for tenant_id, source, event_type, occurred_at, amount in rows:
        for size in MetricBucket.Size:
            increment = increments[
                (tenant_id, size.value, bucket_start(occurred_at, size), source, event_type)
            ]
            increment[0] += 1
            increment[1] += amount or 0
    # A fixed order, so concurrent consumers lock buckets in the same order: no deadlocks.
    _upsert(sorted(increments.items()))


# The events' buckets (each size's start in UTC, as bucket_start), their counts and sums, added
# to the buckets in a fixed order, so concurrent consumers lock buckets in the same order.
_ADD_IN_DATABASE = f"""
    INSERT INTO {MetricBucket._meta.db_table} AS bucket
        (tenant_id, bucket_size, bucket_start, source, event_type, count, amount_sum)
    SELECT event.tenant_id, size, date_trunc(size, event.occurred_at, 'UTC'), event.source,
           event.event_type, count(*), coalesce(sum(event.amount), 0)
    FROM {Event._meta.db_table} AS event CROSS JOIN unnest(%s::text[]) AS size
    WHERE event.id = ANY(%s::bigint[])
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (tenant_id, bucket_size, bucket_start, source, event_type)
    DO UPDATE SET count = bucket.count + excluded.count,
                  amount_sum = bucket.amount_sum + excluded.amount_sum
"""


def _upsert(increments: list[tuple[BucketKey, list]]) -> None:
    table = connection.ops.quote_name(MetricBucket._meta.db_table)
    start_field = MetricBucket._meta.get_field("bucket_start")
    sum_field = MetricBucket._meta.get_field("amount_sum")
    with connection.cursor() as cursor:
        for start in range(0, len(increments), UPSERT_CHUNK):
            chunk = increments[start : start + UPSERT_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = [
                param
                for (tenant_id, size, bucket, source, event_type), (count, total) in chunk
                for param in (
                    tenant_id,
                    size,
                    start_field.get_db_prep_save(bucket, connection),
                    source,
                    event_type,
                    count,
                    sum_field.get_db_prep_save(total, connection),
                )
            ]
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, bucket_size, bucket_start, source, event_type,"
                f" count, amount_sum) VALUES {values}"
                " ON CONFLICT (tenant_id, bucket_size, bucket_start, source, event_type)"
                f" DO UPDATE SET count = {table}.count + excluded.count,"
                f" amount_sum = {table}.amount_sum + excluded.amount_sum",
                params,
            )
