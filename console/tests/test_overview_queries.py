"""The overview's queries are bounded: as many for a tenant with 10 events as for one with
100,000, none of them reading the event table but by primary key, each plan reading few rows
on a never-analyzed database (a fresh deployment runs before its first ANALYZE)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console.tests.story import alert_store, event_store, notification_store, tenant_heavy_store
from metrics.models import MetricBucket
from midnite_test.tests.query_plans import plan_nodes_run
from users.models import User

pytestmark = pytest.mark.django_db

HEAVY_EVENTS = 100_000
# Far below the heavy tenant's 100,000 events, 170,000 buckets, 10,000 alerts and 20,000
# notifications: what its busiest range holds (a week: 2,300 alerts, 2,000 hour buckets).
ROWS_TOUCHED_MAX = 5_000


@pytest.fixture
def tenants(client, django_user_model) -> None:
    """`light`: 10 events, an alert and a notification; `heavy`: 100,000 events and theirs."""
    user = User.objects.create(external_id="u_1")
    for _ in range(10):
        alert_store(event=event_store(tenant="light", user=user), code=1100)
    notification_store(tenant="light", user=user, rule="welcome", status="sent")
    MetricBucket.objects.create(
        tenant_id="light",
        bucket_size="minute",
        bucket_start=event_store(tenant="light", user=user).occurred_at.replace(
            second=0, microsecond=0
        ),
        event_type="withdraw",
        count=10,
    )
    tenant_heavy_store(tenant="heavy", user=user, events=HEAVY_EVENTS)
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))


def _plan(sql: str):
    """The plan of a captured query, whose values are inlined (LIKE patterns hold `%`)."""
    return plan_nodes_run(sql.replace("%", "%%"))


def _queries(client, tenant: str, range_name: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/console/api/overview", {"tenant": tenant, "range": range_name})
    assert response.status_code == 200, response.content
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("range_name", ["hour", "day", "week"])
def test_a_tenant_with_100_000_events_costs_as_many_queries_as_one_with_10(
    client, tenants, range_name
):
    _queries(client, "light", range_name)  # the session and the user, once per client

    light = _queries(client, "light", range_name)
    heavy = _queries(client, "heavy", range_name)

    assert len(heavy) == len(light)
    body = client.get("/console/api/overview", {"tenant": "heavy", "range": range_name}).json()
    assert body["events"]["total"] > 0 and body["alerts"]["total"] > 0


def test_the_tenants_alerts_and_notifications_read_each_event_by_primary_key(client, tenants):
    """The event table is read otherwise only as the outbox's log, after each consumer's cursor
    (the backlog, as /healthz/status reads it), which the bounded plans below hold."""
    queries = _queries(client, "heavy", "week")

    tenant_reads = [
        sql for sql in queries if '"events_alert"' in sql or '"notifications_notification"' in sql
    ]
    assert len(tenant_reads) == 2
    for sql in tenant_reads:
        nodes = [node for node in _plan(sql) if node.relation == "events_event"]
        assert nodes and all(node.index == "events_event_pkey" for node in nodes), nodes


@pytest.mark.parametrize("range_name", ["hour", "day", "week"])
def test_every_plan_reads_a_bounded_number_of_rows_on_a_never_analyzed_database(
    client, tenants, range_name
):
    selects = [
        sql
        for sql in _queries(client, "heavy", range_name)
        if sql.startswith(("SELECT", "WITH")) and "django_session" not in sql
    ]

    indexes_used = set()
    for sql in selects:
        nodes = _plan(sql)
        indexes_used |= {node.index for node in nodes}
        assert max(node.rows_touched for node in nodes) <= ROWS_TOUCHED_MAX, (sql, nodes)
        assert not any(
            node.node_type == "Seq Scan" and node.relation in HEAVY_TABLES for node in nodes
        ), (sql, nodes)
    assert {"alert_created_at", "notification_decided_at", "metric_bucket_unique"} <= indexes_used


HEAVY_TABLES = {
    "events_event",
    "events_metricbucket",
    "events_alert",
    "notifications_notification",
}
