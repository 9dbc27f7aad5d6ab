"""GET /console/api/overview: a tenant's events, alerts and notifications in a range, exactly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import OutboxBatch, OutboxMessage
from console.tests.story import alert_store, bucket_store, event_store, notification_store
from users.models import User

pytestmark = pytest.mark.django_db

URL = "/console/api/overview"


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    return client


@pytest.fixture
def customer(db) -> User:
    return User.objects.create(external_id="u_1")


@pytest.fixture
def acme_counted(db) -> None:
    """Tenant `acme` has an overview: a metric bucket, a month before any range."""
    month_ago = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=30)
    bucket_store(tenant="acme", size="hour", start=month_ago, event_type="click", count=1)


def test_anonymous_and_non_staff_requests_are_refused(client, django_user_model):
    assert client.get(URL).status_code == 403
    client.force_login(django_user_model.objects.create_user("customer"))

    response = client.get(URL)

    assert response.status_code == 403
    assert set(response.json()) == {"error", "message", "details"}


def test_a_range_it_does_not_know_is_a_400_naming_it(staff_client):
    response = staff_client.get(URL, {"range": "month", "tenant": "acme"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert set(response.json()["details"]) == {"range"}


def test_events_per_minute_by_type_come_from_the_tenants_buckets_in_the_range(staff_client):
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    five_ago = minute - timedelta(minutes=5)
    bucket_store(tenant="acme", size="minute", start=five_ago, event_type="deposit", count=3)
    bucket_store(
        tenant="acme", size="minute", start=five_ago, event_type="deposit", count=2, source="api"
    )
    bucket_store(tenant="acme", size="minute", start=minute, event_type="click", count=4)
    # Outside the hour, another tenant, another size: none of them counts.
    bucket_store(
        tenant="acme", size="minute", start=minute - timedelta(hours=2), event_type="click", count=9
    )
    bucket_store(tenant="other", size="minute", start=minute, event_type="click", count=7)
    bucket_store(tenant="acme", size="hour", start=minute, event_type="click", count=6)

    body = staff_client.get(URL, {"tenant": "acme", "range": "hour"}).json()

    events = body["events"]
    assert events["bucket_size"] == "minute"
    assert len(events["starts"]) == 60
    series = {s["event_type"]: s for s in events["series"]}
    assert series["deposit"]["total"] == 5
    assert series["deposit"]["counts"][-6] == 5
    assert series["click"]["counts"][-1] == 4
    assert events["total"] == 9
    assert body["tenants"] == ["acme", "default", "other"]
    assert "as_of" in events


def test_the_day_reads_hour_buckets_and_the_week_has_168_of_them(staff_client):
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    bucket_store(
        tenant="acme", size="hour", start=hour - timedelta(hours=3), event_type="x", count=2
    )
    bucket_store(
        tenant="acme", size="hour", start=hour - timedelta(days=3), event_type="x", count=5
    )

    day = staff_client.get(URL, {"tenant": "acme", "range": "day"}).json()["events"]
    week = staff_client.get(URL, {"tenant": "acme", "range": "week"}).json()["events"]

    assert (day["bucket_size"], len(day["starts"]), day["total"]) == ("hour", 24, 2)
    assert (len(week["starts"]), week["total"]) == (168, 7)


def test_event_types_past_the_eighth_are_added_up_as_other(staff_client):
    minute = timezone.now().replace(second=0, microsecond=0)
    for n in range(10):
        bucket_store(tenant="acme", size="minute", start=minute, event_type=f"t{n}", count=20 - n)

    series = staff_client.get(URL, {"tenant": "acme"}).json()["events"]["series"]

    assert [s["event_type"] for s in series] == [*(f"t{n}" for n in range(8)), "other"]
    assert series[-1]["total"] == 11 + 12


def test_alerts_per_code_count_the_tenants_alerts_raised_in_the_range(
    staff_client, customer, acme_counted
):
    mine = event_store(tenant="acme", user=customer)
    alert_store(event=mine, code=1100)
    alert_store(event=mine, code=30)
    alert_store(event=event_store(tenant="acme", user=customer), code=1100)
    alert_store(event=mine, code=300, at=timezone.now() - timedelta(hours=2))
    alert_store(event=event_store(tenant="other", user=customer), code=1100)

    alerts = staff_client.get(URL, {"tenant": "acme"}).json()["alerts"]

    assert alerts["codes"] == [{"code": 30, "count": 1}, {"code": 1100, "count": 2}]
    assert alerts["total"] == 3


def test_notifications_per_rule_by_outcome_with_the_reason_of_each_suppression(
    staff_client, customer, acme_counted
):
    for status, reason in [
        ("sent", "sent to a@example.com"),
        ("sent", "sent to a@example.com"),
        ("scheduled", "due now"),
        ("failed", "failed after 5 attempt(s): 503"),
        ("suppressed", "skipped WELCOME_EMAIL: no email address"),
        ("suppressed", "skipped WELCOME_EMAIL: already scheduled or sent 1 of 1 ever"),
        ("suppressed", "skipped WELCOME_EMAIL: already scheduled or sent 1 of 1 ever"),
        (
            "suppressed",
            "skipped WELCOME_EMAIL: the event is 3 days old, more than the rule's "
            "max_event_age_seconds (1 day)",
        ),
        ("not_matched", "user_traits.marketing_opt_in is missing"),
    ]:
        notification_store(
            tenant="acme", user=customer, rule="welcome", status=status, reason=reason
        )
    notification_store(tenant="acme", user=customer, rule="nudge", status="sent")
    notification_store(
        tenant="acme",
        user=customer,
        rule="nudge",
        status="sent",
        at=timezone.now() - timedelta(hours=2),
    )
    notification_store(tenant="other", user=customer, rule="welcome", status="sent")

    notifications = staff_client.get(URL, {"tenant": "acme"}).json()["notifications"]

    assert notifications["rules"] == [
        {"rule": "nudge", "counts": {"sent": 1}, "total": 1},
        {
            "rule": "welcome",
            "counts": {
                "failed": 1,
                "scheduled": 1,
                "sent": 2,
                "suppressed: event too old": 1,
                "suppressed: limit reached": 2,
                "suppressed: no email address": 1,
            },
            "total": 8,
        },
    ]
    assert notifications["total"] == 9


def test_the_outbox_part_shows_each_consumers_backlog_lag_and_dead_letters(staff_client):
    now = timezone.now()
    OutboxMessage.objects.create(
        consumer="metrics", topic="event_stored", subject_id=1, created_at=now - timedelta(hours=1)
    )
    OutboxMessage.objects.create(
        consumer="analytics", topic="event_stored", subject_id=2, dead_lettered_at=now
    )
    OutboxBatch.objects.create(
        consumer="analytics",
        first_xid=1,
        first_id=1,
        last_xid=1,
        last_id=1,
        size=1,
        oldest_at=now - timedelta(seconds=3),
        shipped_at=now - timedelta(seconds=1),
    )

    outbox = staff_client.get(URL).json()["outbox"]

    rows = {row["consumer"]: row for row in outbox["consumers"]}
    assert rows["metrics"]["backlog"] == 1
    assert rows["metrics"]["oldest_age_seconds"] >= 3600
    assert rows["analytics"]["dead_lettered"] == 1
    assert rows["analytics"]["lag_seconds"] == 2.0
    assert outbox["heartbeat"] is None


def test_the_page_refuses_a_range_it_does_not_know_on_a_console_page_naming_the_choices(
    staff_client,
):
    response = staff_client.get("/console/overview/", {"tenant": "nosuch", "range": "year"})

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'aria-label="Console pages"' in page  # the console's layout, its navigation
    assert "<h1>Overview</h1>" in page
    assert '<li data-param="range"><code>range=year</code>: One of hour, day, week.</li>' in page
    assert 'data-param="tenant"' not in page
    assert "{'range'" not in page


def test_the_page_refuses_a_tenant_too_long_naming_it_and_the_limit(staff_client):
    response = staff_client.get("/console/overview/", {"tenant": "t" * 129, "range": "day"})

    assert response.status_code == 400
    page = response.content.decode()
    assert f'<li data-param="tenant"><code>tenant={"t" * 79}…</code>: ' in page
    assert "At most 128 characters." in page
    assert 'data-param="range"' not in page


def test_a_tenant_with_a_control_character_is_a_400_naming_it(staff_client):
    response = staff_client.get(URL, {"tenant": "acme\x00"})

    assert response.status_code == 400
    assert set(response.json()["details"]) == {"tenant"}


def test_a_tenant_with_no_counted_events_is_a_404_naming_it(staff_client):
    response = staff_client.get(URL, {"tenant": "nope"})

    assert response.status_code == 404
    assert response.json() == {
        "error": "unknown_tenant",
        "message": "No events from tenant 'nope' are counted: it has no overview.",
        "details": {"tenant": "nope"},
    }


def test_the_default_tenant_has_an_overview_before_its_first_event(staff_client):
    response = staff_client.get(URL)

    assert response.status_code == 200
    assert response.json()["tenants"] == ["default"]


def test_the_page_of_a_tenant_with_no_counted_events_is_a_404_offering_those_with_some(
    staff_client,
):
    minute = timezone.now().replace(second=0, microsecond=0)
    bucket_store(tenant="acme", size="minute", start=minute, event_type="click", count=1)

    response = staff_client.get("/console/overview/", {"tenant": "nope", "range": "day"})

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'aria-label="Console pages"' in page
    assert 'No events from tenant <strong class="break">nope</strong> are counted' in page
    assert '<a href="?tenant=acme&amp;range=day">acme</a>' in page
    assert '<a href="?tenant=default&amp;range=day">default</a>' in page
    assert "<select" not in page and "nope</a>" not in page


def test_a_backlog_counted_to_its_cap_says_at_least(staff_client, monkeypatch):
    monkeypatch.setattr("outbox.selectors.BACKLOG_COUNT_CAP", 2)
    for subject_id in (1, 2, 3):
        OutboxMessage.objects.create(
            consumer="metrics", topic="event_stored", subject_id=subject_id
        )

    rows = {row["consumer"]: row for row in staff_client.get(URL).json()["outbox"]["consumers"]}

    assert (rows["metrics"]["backlog"], rows["metrics"]["backlog_at_least"]) == (2, True)
    assert rows["analytics"]["backlog_at_least"] is False
