"""The overview's reads: a tenant's events, alerts and notifications in a range, and the outbox.

Every read is one aggregate query over an index, whatever the tenant's size: events come from
the metric buckets (never the event table), alerts and notifications from their own rows in
the range (joined to their event by primary key for its tenant), the outbox from the selectors
`/healthz/status` uses. The number of queries depends on nothing but the number of consumers.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Case, CharField, Count, OuterRef, Subquery, Sum, Value, When
from django.utils import timezone

from alerts.models import Alert
from console.exceptions import UnknownTenant
from events.models import Event
from metrics.models import MetricBucket
from midnite_test.errors import InvalidQuery
from midnite_test.text import controls_refuse
from notifications.models import Notification
from outbox.contracts import CONSUMER_METRICS, CONSUMER_NOTIFICATIONS
from outbox.logs import consumer_streams
from outbox.models import OutboxBatch
from outbox.selectors import (
    outbox_backlog,
    outbox_horizon_holder,
    outbox_processed_until,
    worker_heartbeat,
)
from users.models import DEFAULT_TENANT


@dataclass(frozen=True)
class Range:
    name: str
    label: str
    bucket_size: str
    slots: int
    step: timedelta


RANGES = {
    "hour": Range("hour", "last hour", MetricBucket.Size.MINUTE, 60, timedelta(minutes=1)),
    "day": Range("day", "last day", MetricBucket.Size.HOUR, 24, timedelta(hours=1)),
    "week": Range("week", "last week", MetricBucket.Size.HOUR, 168, timedelta(hours=1)),
}
# The event types charted one by one; the rest are added up as "other".
EVENT_TYPES_SHOWN = 8
# The tenants offered in the picker, at most.
TENANTS_LISTED = 100
# Why a notification was suppressed, by what its reason says (notifications.admission): one
# bar each, whatever the particular date, age or count the reason names.
SUPPRESSION_REASONS = [
    ("unsubscribed", {"reason__endswith": ": unsubscribed"}),
    ("no email address", {"reason__endswith": ": no email address"}),
    ("no phone number", {"reason__endswith": ": no phone number"}),
    ("limit reached", {"reason__contains": ": already scheduled or sent "}),
    ("event too old", {"reason__contains": "max_event_age_seconds"}),
]


def overview_params(*, tenant: str | None, range_name: str | None) -> tuple[str, Range]:
    """Return the tenant and the range a request names (defaults: "default", the last hour).

    Raises InvalidQuery for a range that is not `hour`, `day` or `week`, or a tenant that
    is no identifier; UnknownTenant for a tenant the overview does not know (overview_tenant_known).
    """
    errors = {}
    chosen = RANGES.get(range_name or "hour")
    if chosen is None:
        errors["range"] = [f"One of {', '.join(RANGES)}."]
    tenant = tenant or DEFAULT_TENANT
    try:
        controls_refuse(tenant)
        if len(tenant) > 128:
            raise ValueError("At most 128 characters.")
    except ValueError as exc:
        errors["tenant"] = [str(exc)]
    if errors:
        raise InvalidQuery("The overview takes a tenant and a range.", details=errors)
    if not overview_tenant_known(tenant):
        raise UnknownTenant(
            f"No events from tenant {tenant!r} are counted: it has no overview.",
            details={"tenant": tenant},
        )
    return tenant, chosen


def overview_tenant_known(tenant: str) -> bool:
    """Whether the overview knows `tenant`: the default one, or one with a metric bucket.

    The same tenants as the picker offers (overview_tenants), so a mistyped tenant is refused
    rather than drawn as a tenant with no traffic. One probe of the buckets' unique index.
    """
    return tenant == DEFAULT_TENANT or MetricBucket.objects.filter(tenant_id=tenant).exists()


def overview_tenants() -> list[str]:
    """The tenants offered, in order: the default one and those with metric buckets, found by
    one index probe each (a loose index scan)."""
    table = connection.ops.quote_name(MetricBucket._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE tenants(tenant_id, n) AS (
                SELECT (SELECT MIN(tenant_id) FROM {table}), 1
                UNION ALL
                SELECT (SELECT MIN(tenant_id) FROM {table} WHERE tenant_id > tenants.tenant_id),
                       n + 1
                FROM tenants WHERE tenants.tenant_id IS NOT NULL AND n < %s
            )
            SELECT tenant_id FROM tenants WHERE tenant_id IS NOT NULL
            """,
            [TENANTS_LISTED],
        )
        return sorted({DEFAULT_TENANT, *(tenant_id for (tenant_id,) in cursor.fetchall())})


@dataclass(frozen=True, kw_only=True)
class EventSeries:
    event_type: str
    counts: list[int]
    total: int


@dataclass(frozen=True, kw_only=True)
class EventsChart:
    as_of: datetime
    bucket_size: str
    starts: list[datetime]
    series: list[EventSeries]
    total: int


def range_starts(chosen: Range, *, now: datetime) -> list[datetime]:
    """The start of each bucket of the range, oldest first; the last holds `now`."""
    if chosen.bucket_size == MetricBucket.Size.MINUTE:
        last = now.replace(second=0, microsecond=0)
    else:
        last = now.replace(minute=0, second=0, microsecond=0)
    return [last - chosen.step * back for back in range(chosen.slots - 1, -1, -1)]


def overview_events(*, tenant: str, chosen: Range, now: datetime) -> EventsChart:
    """The tenant's events per bucket and type in the range, from the metric buckets.

    As of the time before which every event was counted (the metrics consumer's).
    """
    starts = range_starts(chosen, now=now)
    rows = (
        MetricBucket.objects.filter(
            tenant_id=tenant, bucket_size=chosen.bucket_size, bucket_start__gte=starts[0]
        )
        .values_list("bucket_start", "event_type")
        .annotate(n=Sum("count"))
        .order_by()
    )
    slot = {start: index for index, start in enumerate(starts)}
    counts: dict[str, list[int]] = {}
    for start, event_type, n in rows:
        if start in slot:
            counts.setdefault(event_type, [0] * len(starts))[slot[start]] += n
    ranked = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))
    shown, rest = ranked[:EVENT_TYPES_SHOWN], ranked[EVENT_TYPES_SHOWN:]
    if rest:
        shown.append(("other", [sum(column) for column in zip(*(c for _, c in rest))]))
    series = [EventSeries(event_type=t, counts=c, total=sum(c)) for t, c in shown]
    return EventsChart(
        as_of=outbox_processed_until(consumer=CONSUMER_METRICS),
        bucket_size=chosen.bucket_size,
        starts=starts,
        series=series,
        total=sum(s.total for s in series),
    )


def _tenant_of(event_field: str) -> Subquery:
    """The tenant of the event a row points to, as a scalar subquery.

    PostgreSQL never turns a scalar subquery into a join, so each row of the range costs one
    primary-key lookup, whatever the planner guesses: a join may be planned as a scan of the
    tenant's events, all of them, to hash.
    """
    return Subquery(Event.objects.filter(pk=OuterRef(event_field)).values("tenant_id")[:1])


@dataclass(frozen=True, kw_only=True)
class CodeCount:
    code: int
    count: int


def overview_alerts(*, tenant: str, since: datetime, until: datetime) -> list[CodeCount]:
    """The alerts raised from `since` to before `until` on the tenant's events, per code.

    The alerts of the range by their time (index `alert_created_at`), each one's tenant read
    from its event by primary key: no scan of the events.
    """
    rows = (
        Alert.objects.filter(created_at__gte=since, created_at__lt=until)
        .alias(tenant=_tenant_of("event_id"))
        .filter(tenant=tenant)
        .values_list("code")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [CodeCount(code=code, count=n) for code, n in sorted(rows)]


@dataclass(frozen=True, kw_only=True)
class RuleOutcomes:
    rule: str
    counts: dict[str, int]
    total: int


def _outcome() -> Case:
    """A notification's outcome: its status, and for a suppressed one, why in a word or two."""
    suppressed = Notification.Status.SUPPRESSED
    return Case(
        *(
            When(status=suppressed, **match, then=Value(f"suppressed: {label}"))
            for label, match in SUPPRESSION_REASONS
        ),
        When(status=suppressed, then=Value("suppressed: other")),
        default="status",
        output_field=CharField(),
    )


def overview_notifications(*, tenant: str, since: datetime, until: datetime) -> list[RuleOutcomes]:
    """The notifications decided from `since` to before `until` about the tenant's events, per
    rule and outcome.

    Those of rules that did not match aside; from the index `notification_decided_at`, each
    one's tenant read from its trigger event by primary key.
    """
    rows = (
        Notification.objects.filter(created_at__gte=since, created_at__lt=until)
        .exclude(status=Notification.Status.NOT_MATCHED)
        .alias(tenant=_tenant_of("trigger_event_id"))
        .filter(tenant=tenant)
        .annotate(outcome=_outcome())
        .values_list("rule", "outcome")
        .annotate(n=Count("id"))
        # Sorted here, not in SQL: an ORDER BY rule tempts a planner without statistics into
        # reading every notification through the (rule, trigger event) index.
        .order_by()
    )
    rules: dict[str, dict[str, int]] = {}
    for rule, outcome, n in sorted(rows):
        rules.setdefault(rule, {})[outcome] = n
    return [
        RuleOutcomes(rule=rule, counts=counts, total=sum(counts.values()))
        for rule, counts in rules.items()
    ]


@dataclass(frozen=True, kw_only=True)
class ConsumerRow:
    consumer: str
    backlog: int
    # The backlog was counted to its cap (outbox.selectors.BACKLOG_COUNT_CAP): at least that.
    backlog_at_least: bool
    oldest_age_seconds: float | None
    lag_seconds: float | None
    last_shipped_at: datetime | None
    dead_lettered: int


def overview_consumers() -> list[ConsumerRow]:
    """Per outbox consumer: the backlog (as /healthz/status reports it) and its last lag.

    Lag: how long the oldest entry of the consumer's latest shipped batch (of its messages or
    of its table logs: outbox.logs) had waited when the batch shipped (index
    `outbox_batch_shipped`, read backwards).
    """
    rows = []
    for backlog in outbox_backlog():
        latest = (
            OutboxBatch.objects.filter(
                consumer__in=consumer_streams(backlog.consumer), shipped_at__isnull=False
            )
            .order_by("-shipped_at")
            .values_list("shipped_at", "oldest_at")
            .first()
        )
        rows.append(
            ConsumerRow(
                consumer=backlog.consumer,
                backlog=backlog.unshipped,
                backlog_at_least=backlog.unshipped_at_least,
                oldest_age_seconds=backlog.oldest_age_seconds,
                lag_seconds=None if latest is None else _seconds(latest[0] - latest[1]),
                last_shipped_at=None if latest is None else latest[0],
                dead_lettered=backlog.dead_lettered,
            )
        )
    return rows


def _seconds(delta: timedelta) -> float:
    return round(max(delta.total_seconds(), 0.0), 3)


@dataclass(frozen=True, kw_only=True)
class Overview:
    tenant: str
    range: Range
    now: datetime
    since: datetime
    tenants: list[str]
    events: EventsChart
    alerts: list[CodeCount]
    notifications: list[RuleOutcomes]
    notifications_as_of: datetime
    consumers: list[ConsumerRow]
    heartbeat: dict | None
    horizon: dict | None


def overview_report(*, tenant: str, chosen: Range) -> Overview:
    """Everything the overview shows for `tenant` over `chosen`, each part with its time."""
    now = timezone.now()
    events = overview_events(tenant=tenant, chosen=chosen, now=now)
    # Both ends bound the time ranges: a planner without statistics then prices an index
    # range well below a scan of the table, whatever share of it is old.
    since, until = events.starts[0], events.starts[-1] + chosen.step
    heartbeat = worker_heartbeat()
    holder = outbox_horizon_holder()
    return Overview(
        tenant=tenant,
        range=chosen,
        now=now,
        since=since,
        # The tenant shown, known past the first TENANTS_LISTED too, is offered.
        tenants=sorted({*overview_tenants(), tenant}),
        events=events,
        alerts=overview_alerts(tenant=tenant, since=since, until=until),
        notifications=overview_notifications(tenant=tenant, since=since, until=until),
        notifications_as_of=outbox_processed_until(consumer=CONSUMER_NOTIFICATIONS),
        consumers=overview_consumers(),
        heartbeat=(
            None
            if heartbeat is None
            else {
                "checked_at": heartbeat.checked_at,
                "age_seconds": _seconds(now - heartbeat.checked_at),
                "ok": heartbeat.ok,
            }
        ),
        horizon=(
            None
            if holder is None
            else {
                "pid": holder.pid,
                "transaction_age_seconds": holder.transaction_age_seconds,
                "state": holder.state,
            }
        ),
    )


def overview_json(overview: Overview) -> dict:
    """The overview as the page's JSON: every part says what it counts and as of when."""
    events = overview.events
    return {
        "tenant": overview.tenant,
        "range": overview.range.name,
        "range_label": overview.range.label,
        "tenants": overview.tenants,
        "generated_at": overview.now,
        "since": overview.since,
        "events": {
            "as_of": events.as_of,
            "bucket_size": events.bucket_size,
            "starts": events.starts,
            "series": [vars(series) for series in events.series],
            "total": events.total,
        },
        "alerts": {
            "as_of": overview.now,
            "codes": [vars(code) for code in overview.alerts],
            "total": sum(code.count for code in overview.alerts),
        },
        "notifications": {
            "as_of": overview.notifications_as_of,
            "rules": [vars(rule) for rule in overview.notifications],
            "total": sum(rule.total for rule in overview.notifications),
        },
        "outbox": {
            "as_of": overview.now,
            "consumers": [vars(row) for row in overview.consumers],
            "heartbeat": overview.heartbeat,
            "horizon": overview.horizon,
        },
    }
