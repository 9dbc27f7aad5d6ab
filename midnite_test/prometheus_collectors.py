"""The gauges a scrape reads from the database: the outbox per consumer and the worker's heartbeat.

Computed by the process that answers the scrape, when it asks, from the selectors
`/healthz/status` reports (`outbox.selectors`): a few indexed queries per scrape, nothing kept
between scrapes, so no process has to write them and none can leave a stale value behind.
"""

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from midnite_test.health import database_is_ready
from outbox.selectors import (
    BACKLOG_COUNT_CAP,
    outbox_backlog,
    outbox_horizon_holder,
    worker_heartbeat,
)


class OutboxCollector(Collector):
    """Per consumer: backlog, oldest message's age (its lag), dead letters; and the worker."""

    def collect(self):
        up = GaugeMetricFamily(
            "midnite_database_up", "Whether the database answered this scrape's queries."
        )
        try:
            families = _outbox_families() if database_is_ready() else []
        except DatabaseError:
            families = []
        up.add_metric([], 1 if families else 0)
        return [up, *families]


def _outbox_families() -> list[GaugeMetricFamily]:
    labels = ["consumer"]
    backlog = GaugeMetricFamily(
        "midnite_outbox_backlog_messages",
        "Messages not yet handled: in unshipped batches or after the consumer's cursor "
        f"(each stream's counted up to {BACKLOG_COUNT_CAP}: a lower bound beyond).",
        labels=labels,
    )
    oldest = GaugeMetricFamily(
        "midnite_outbox_oldest_message_age_seconds",
        "Age of the consumer's oldest message not yet handled, 0 when none: how far it lags.",
        labels=labels,
    )
    dead = GaugeMetricFamily(
        "midnite_outbox_dead_letters", "Messages dead-lettered and not re-queued.", labels=labels
    )
    for row in outbox_backlog():
        backlog.add_metric([row.consumer], row.unshipped)
        oldest.add_metric([row.consumer], row.oldest_age_seconds or 0.0)
        dead.add_metric([row.consumer], row.dead_lettered)
    families = [backlog, oldest, dead]
    holder = outbox_horizon_holder()
    horizon = GaugeMetricFamily(
        "midnite_outbox_horizon_holder_age_seconds",
        "Age of the open transaction holding the outbox's commit horizon back, 0 when none.",
    )
    horizon.add_metric([], (holder.transaction_age_seconds or 0.0) if holder else 0.0)
    families.append(horizon)
    heartbeat = worker_heartbeat()
    if heartbeat is not None:
        age = GaugeMetricFamily(
            "midnite_worker_heartbeat_age_seconds", "Time since the worker's last heartbeat."
        )
        age.add_metric([], (timezone.now() - heartbeat.checked_at).total_seconds())
        families.append(age)
    return families
