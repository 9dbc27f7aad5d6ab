"""A database made at the layout before users, alerts and metrics had apps of their own
migrates in place: every row stays in its table, and the API serves it as before."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.models import Alert
from events.models import Event
from metrics.models import MetricBucket
from notifications.models import Decision, Notification
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

# The leaf migrations of the project's apps before the move (main at cf3b3e8).
LEAVES_BEFORE = [
    ("api_keys", "0001_initial"),
    ("outbox", "0003_claim_ranges"),
    ("events", "0005_event_user_traits"),
    ("notifications", "0001_initial"),
]
MOVED = {"user": "users", "alert": "alerts", "metricbucket": "metrics"}
AT = datetime(2025, 10, 31, 19, 30, tzinfo=UTC)


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _old_database() -> dict[str, int]:
    """Migrate back to the old layout and fill it through its historical models."""
    # The new apps did not exist: none of their migrations is applied.
    _migrate(LEAVES_BEFORE + [(app, None) for app in MOVED.values()])
    apps = MigrationExecutor(connection).loader.project_state(LEAVES_BEFORE).apps
    old = {name: apps.get_model("events", name) for name in ("User", "Event", "Alert")}
    bucket = apps.get_model("events", "MetricBucket")
    notification = apps.get_model("notifications", "Notification")
    decision = apps.get_model("notifications", "Decision")
    # The content types as the old layout had them: under the events app.
    ContentType.objects.filter(app_label__in=set(MOVED.values())).delete()
    for model in MOVED:
        ContentType.objects.get_or_create(app_label="events", model=model)

    ada = old["User"].objects.create(external_id="u_ada", email="ada@example.com")
    event = old["Event"].objects.create(
        tenant_id="tenant_1",
        event_id="txn:1:10",
        user=ada,
        event_type="withdraw",
        source="transactions",
        occurred_at=AT,
        amount=Decimal("150.00"),
    )
    alert = old["Alert"].objects.create(event=event, code=1100)
    metric = bucket.objects.create(
        tenant_id="tenant_1",
        bucket_size="hour",
        bucket_start=AT,
        source="transactions",
        event_type="withdraw",
        count=1,
        amount_sum=Decimal("150.00"),
    )
    sent = notification.objects.create(
        user=ada,
        rule="welcome_email",
        notification_type="WELCOME_EMAIL",
        channel="email",
        trigger_event=event,
        trigger_occurred_at=AT,
        status="sent",
        sent_at=AT,
    )
    step = decision.objects.create(notification=sent, user=ada, status="sent")
    return {
        "user": ada.pk,
        "event": event.pk,
        "alert": alert.pk,
        "bucket": metric.pk,
        "notification": sent.pk,
        "decision": step.pk,
    }


def test_an_old_database_migrates_in_place_and_every_row_is_served(api_client):
    ids = _old_database()

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    user = User.objects.get(pk=ids["user"])
    event = Event.objects.get(pk=ids["event"])
    assert event.user == user
    assert Alert.objects.get(pk=ids["alert"]).event == event
    assert MetricBucket.objects.get(pk=ids["bucket"]).count == 1
    assert Notification.objects.get(pk=ids["notification"]).user == user
    assert Decision.objects.get(pk=ids["decision"]).notification_id == ids["notification"]
    assert {(ct.app_label, ct.model) for ct in ContentType.objects.filter(model__in=MOVED)} >= {
        (app, model) for model, app in MOVED.items()
    }
    assert not ContentType.objects.filter(app_label="events", model__in=MOVED).exists()

    events = api_client.get("/events", {"tenant_id": "tenant_1"}).json()["results"]
    assert [e["event_id"] for e in events] == ["txn:1:10"]
    metrics = api_client.get("/metrics", {"tenant_id": "tenant_1", "bucket_size": "hour"}).json()
    assert [(b["count"], b["amount_sum"]) for b in metrics["buckets"]] == [(1, "150.00")]
    audit = api_client.get("/audit/u_ada").json()
    assert [e["event_id"] for e in audit["recent_events"]] == ["txn:1:10"]
    assert [n["notification_type"] for n in audit["notification_history"]] == ["WELCOME_EMAIL"]
