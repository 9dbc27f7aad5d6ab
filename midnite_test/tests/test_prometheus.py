"""GET /prometheus/metrics: what each way in and each reaction counts, and the outbox's gauges.

One process here (no PROMETHEUS_MULTIPROC_DIR): each test reads the scrape before and after
what it does and compares the difference. test_prometheus_processes.py runs the sums across
processes.
"""

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from alerts.fast_path import transaction_fast_path
from alerts.tests.wsgi_client import wsgi_call, wsgi_post
from events.analytics import TOPIC_EVENT_STORED
from notifications.tests.conftest import app_user, evaluate, product_event  # noqa: F401
from outbox.contracts import CONSUMER_ANALYTICS, CONSUMER_METRICS
from outbox.models import OutboxMessage, WorkerHeartbeat
from outbox.selectors import outbox_backlog
from outbox.services import outbox_publish_subjects

pytestmark = pytest.mark.django_db

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
REQUESTS = "midnite_http_request_duration_seconds_count"
SIGNUP = datetime(2025, 10, 30, 12, 0, tzinfo=timezone.utc)


def scrape(client: APIClient | None = None, **headers) -> dict[tuple, float]:
    """GET /prometheus/metrics; return each sample's value by (name, sorted label pairs)."""
    response = (client or APIClient()).get("/prometheus/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples_of(response.content)


def samples_of(text: bytes) -> dict[tuple, float]:
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


def scrape_wsgi(app) -> dict[tuple, float]:
    """Scrape through the WSGI application `app`, as a server would."""
    status, _, content = wsgi_call(app, "GET", "/prometheus/metrics", b"")
    assert status == 200, content
    return samples_of(content)


def value(samples: dict[tuple, float], name: str, **labels) -> float:
    return samples.get((name, *sorted(labels.items())), 0.0)


def requests(samples: dict[tuple, float], route: str, method: str, status: str) -> float:
    return value(samples, REQUESTS, route=route, method=method, status=status)


def test_requests_are_counted_by_route_pattern_method_and_status_class(users, settings):
    settings.ALLOW_ANONYMOUS = True
    client = APIClient()
    before = scrape()

    client.get("/healthz/live")
    client.get("/healthz/live")
    client.get("/audit/1?format=json")
    client.get("/audit/2?format=json")
    client.get("/no/such/page")
    client.post("/users", {"email": "not an email"}, format="json")
    client.get("/static/console/console.css")  # served by WhiteNoise, before any URL resolves

    after = scrape()
    counted = {
        route: requests(after, route, method, status) - requests(before, route, method, status)
        for route, method, status in [
            ("healthz/live", "GET", "2xx"),
            ("audit/<str:user_id>", "GET", "2xx"),
            ("<unmatched>", "GET", "4xx"),
            ("users", "POST", "4xx"),
            ("<static>", "GET", "2xx"),
        ]
    }
    assert counted == {
        "healthz/live": 2,
        "audit/<str:user_id>": 2,
        "<unmatched>": 1,
        "users": 1,
        "<static>": 1,
    }
    latency = value(
        after,
        "midnite_http_request_duration_seconds_sum",
        route="healthz/live",
        method="GET",
        status="2xx",
    )
    assert latency > value(
        before,
        "midnite_http_request_duration_seconds_sum",
        route="healthz/live",
        method="GET",
        status="2xx",
    )


@pytest.fixture
def fast_path(settings, users):
    """POST /event's fast path in front of Django's handler, as midnite_test.wsgi serves it."""
    settings.ALLOW_ANONYMOUS = True
    cache.clear()
    # As Django's test client does: closing "old" connections would end the test transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield transaction_fast_path(WSGIHandler())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_a_post_event_the_fast_path_answers_is_counted_under_djangos_route(fast_path):
    before = scrape_wsgi(fast_path)

    answers = [
        wsgi_post(fast_path, {"type": "deposit", "amount": "10", "user_id": 1, "t": t})
        for t in (1, 2, 3)
    ]
    refused = wsgi_post(fast_path, {"type": "deposit", "amount": "10", "user_id": 1, "t": 1.5})

    after = scrape_wsgi(fast_path)
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert refused[0] == 400  # answered by Django, and counted there once
    assert requests(after, "event", "POST", "2xx") - requests(before, "event", "POST", "2xx") == 3
    assert requests(after, "event", "POST", "4xx") - requests(before, "event", "POST", "4xx") == 1


def test_an_alert_is_counted_under_its_code_once_committed(
    post_event, django_capture_on_commit_callbacks
):
    before = scrape()

    with django_capture_on_commit_callbacks(execute=True):
        post_event("withdraw", "150.00", 1)  # 1100: a withdrawal of more than 100
        post_event("withdraw", "20.00", 2)
        post_event("withdraw", "20.00", 3)  # 30: three withdraws in a row
    with django_capture_on_commit_callbacks(execute=False):
        post_event("withdraw", "150.00", 4)  # 1100 and 30 again, but never committed

    after = scrape()
    raised = {
        code: value(after, "midnite_alerts_raised_total", code=code)
        - value(before, "midnite_alerts_raised_total", code=code)
        for code in ("1100", "30", "300")
    }
    assert raised == {"1100": 1, "30": 1, "300": 0}


def test_notification_decisions_are_counted_by_rule_and_status_once_committed(
    app_user, django_capture_on_commit_callbacks  # noqa: F811
):
    first = product_event(app_user, "signup_completed", SIGNUP)
    again = product_event(app_user, "signup_completed", SIGNUP.replace(day=31))
    before = scrape()

    with django_capture_on_commit_callbacks(execute=True):
        evaluate(first, again)

    after = scrape()
    name = "midnite_notification_decisions_total"
    decided = {
        status: value(after, name, rule="WELCOME_EMAIL", status=status)
        - value(before, name, rule="WELCOME_EMAIL", status=status)
        for status in ("scheduled", "suppressed", "sent")
    }
    assert decided == {"scheduled": 1, "suppressed": 1, "sent": 0}


def test_the_scrape_reads_the_outbox_backlog_and_dead_letters_per_consumer(users):
    with transaction.atomic():
        outbox_publish_subjects(
            topic=TOPIC_EVENT_STORED,
            subject_ids=[1, 2, 3],
            consumers=[CONSUMER_ANALYTICS, CONSUMER_METRICS],
        )
    dead = OutboxMessage.objects.filter(consumer=CONSUMER_METRICS).order_by("id").first()
    OutboxMessage.objects.filter(pk=dead.pk).update(dead_lettered_at=SIGNUP)

    samples = scrape()

    backlog = {row.consumer: row for row in outbox_backlog()}
    assert backlog[CONSUMER_ANALYTICS].unshipped >= 3
    for consumer, row in backlog.items():
        assert value(samples, "midnite_outbox_backlog_messages", consumer=consumer) == (
            row.unshipped
        )
        assert value(samples, "midnite_outbox_dead_letters", consumer=consumer) == (
            row.dead_lettered
        )
        # Read before the selector above, in the same transaction: no older than it says.
        oldest = value(samples, "midnite_outbox_oldest_message_age_seconds", consumer=consumer)
        assert oldest <= (row.oldest_age_seconds or 0)
    assert value(samples, "midnite_outbox_oldest_message_age_seconds", consumer="analytics") > 0
    assert value(samples, "midnite_outbox_dead_letters", consumer=CONSUMER_METRICS) == 1
    assert value(samples, "midnite_database_up") == 1


def test_with_a_scrape_token_the_scrape_needs_it(settings):
    settings.PROMETHEUS_SCRAPE_TOKEN = "s3cret"
    client = APIClient()

    missing = client.get("/prometheus/metrics")
    wrong = client.get("/prometheus/metrics", HTTP_AUTHORIZATION="Bearer nope")
    samples = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret")

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["error"] == "not_authenticated"
    assert value(samples, "midnite_database_up") == 1


def test_the_grafana_dashboard_charts_only_metrics_the_scrape_serves(users):
    WorkerHeartbeat.objects.create(
        name=WorkerHeartbeat.CLICKHOUSE, checked_at=datetime.now(timezone.utc), ok=True
    )
    response = APIClient().get("/prometheus/metrics")
    served = {family.name for family in text_string_to_metric_families(response.content.decode())}
    dashboard = json.loads(DASHBOARD.read_text())

    charted = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"midnite_[a-z_]+", target["expr"])
    }
    assert len(charted) >= 12
    assert charted - served == set()
