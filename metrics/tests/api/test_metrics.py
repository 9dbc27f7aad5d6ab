"""GET /metrics: buckets kept by the metrics consumer, each event counted once."""

import base64
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events.contracts import EventInput
from events.ingestion import events_ingest
from events.log import EVENT_LOG
from outbox.batches import batch_claim, batch_failure_record
from outbox.contracts import CONSUMER_METRICS
from outbox.services import outbox_dead_letters_retry, outbox_process

# Across a minute, an hour and a day boundary.
STAMPS = [
    ("2024-01-15T23:58:59Z", "10.00", "web", "purchase"),
    ("2024-01-15T23:59:00Z", "5.50", "web", "purchase"),
    ("2024-01-15T23:59:59Z", None, "web", "click"),
    ("2024-01-16T00:00:00Z", "1.25", "web", "purchase"),
    ("2024-01-16T00:59:30Z", "2.00", "app", "purchase"),
    ("2024-01-16T01:00:00Z", "3.00", "web", "purchase"),
]


def _events(tenant_id: str = "tenant_1") -> list[EventInput]:
    return [
        EventInput(
            tenant_id=tenant_id,
            event_id=f"evt_{n}",
            source=source,
            event_type=event_type,
            occurred_at=datetime.fromisoformat(stamp),
            amount=None if amount is None else Decimal(amount),
        )
        for n, (stamp, amount, source, event_type) in enumerate(STAMPS)
    ]


def _buckets(api_client, size: str, **params) -> list[tuple]:
    response = api_client.get("/metrics", {"tenant_id": "tenant_1", "bucket_size": size, **params})
    assert response.status_code == 200, response.json()
    return [
        (b["bucket_start"], b["source"], b["event_type"], b["count"], b["amount_sum"])
        for b in response.json()["buckets"]
    ]


@pytest.fixture
def counted(db):
    events_ingest(events=_events())
    events_ingest(events=_events("tenant_2"))
    outbox_process(consumer=CONSUMER_METRICS)


def test_minute_buckets_count_and_sum_every_event(api_client, counted):
    assert _buckets(api_client, "minute", source="web") == [
        ("2024-01-15T23:58:00Z", "web", "purchase", 1, "10.00"),
        ("2024-01-15T23:59:00Z", "web", "click", 1, "0.00"),
        ("2024-01-15T23:59:00Z", "web", "purchase", 1, "5.50"),
        ("2024-01-16T00:00:00Z", "web", "purchase", 1, "1.25"),
        ("2024-01-16T01:00:00Z", "web", "purchase", 1, "3.00"),
    ]


def test_hour_buckets_count_and_sum_every_event(api_client, counted):
    assert _buckets(api_client, "hour") == [
        ("2024-01-15T23:00:00Z", "web", "click", 1, "0.00"),
        ("2024-01-15T23:00:00Z", "web", "purchase", 2, "15.50"),
        ("2024-01-16T00:00:00Z", "app", "purchase", 1, "2.00"),
        ("2024-01-16T00:00:00Z", "web", "purchase", 1, "1.25"),
        ("2024-01-16T01:00:00Z", "web", "purchase", 1, "3.00"),
    ]


def test_day_buckets_count_and_sum_every_event(api_client, counted):
    assert _buckets(api_client, "day", event_type="purchase") == [
        ("2024-01-15T00:00:00Z", "web", "purchase", 2, "15.50"),
        ("2024-01-16T00:00:00Z", "app", "purchase", 1, "2.00"),
        ("2024-01-16T00:00:00Z", "web", "purchase", 2, "4.25"),
    ]


def test_from_and_to_select_buckets_by_their_start(api_client, counted):
    rows = _buckets(
        api_client, "hour", **{"from": "2024-01-16T00:00:00Z", "to": "2024-01-16T01:00:00Z"}
    )

    assert [row[0] for row in rows] == ["2024-01-16T00:00:00Z"] * 2


def test_duplicates_and_replays_are_counted_zero_times_more(api_client, counted):
    events_ingest(events=_events())
    outbox_process(consumer=CONSUMER_METRICS)
    outbox_process(consumer=CONSUMER_METRICS)

    assert sum(row[3] for row in _buckets(api_client, "day")) == len(STAMPS)


def test_as_of_is_held_back_by_unprocessed_events(api_client, counted):
    events_ingest(events=[replace(_events()[0], event_id="late")])
    waiting = api_client.get("/metrics", {"tenant_id": "tenant_1", "bucket_size": "day"}).json()
    outbox_process(consumer=CONSUMER_METRICS)
    caught_up = api_client.get("/metrics", {"tenant_id": "tenant_1", "bucket_size": "day"}).json()

    assert waiting["as_of"] < caught_up["as_of"]


def _metrics(api_client, tenant_id: str = "tenant_1") -> dict:
    return api_client.get("/metrics", {"tenant_id": tenant_id, "bucket_size": "day"}).json()


@pytest.mark.django_db(transaction=True)
def test_a_dead_lettered_event_is_reported_and_never_holds_as_of_back(api_client, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    events_ingest(events=[_events()[0]])
    poison = batch_claim(EVENT_LOG.stream(CONSUMER_METRICS), size=1)
    batch_failure_record(batch_id=poison.pk, error=ValueError("refused"), rejected=True)
    after_the_event = timezone.now()

    given_up = _metrics(api_client)
    other_tenant = _metrics(api_client, "tenant_2")
    outbox_dead_letters_retry(consumer=CONSUMER_METRICS)
    requeued = _metrics(api_client)
    outbox_process(consumer=CONSUMER_METRICS)
    counted = _metrics(api_client)

    assert given_up["dead_lettered"] == 1 and given_up["buckets"] == []
    assert parse_datetime(given_up["as_of"]) >= after_the_event  # not held back for good
    assert other_tenant["dead_lettered"] == 0
    assert requeued["dead_lettered"] == 0
    assert parse_datetime(requeued["as_of"]) < after_the_event  # waiting for it again
    assert counted["dead_lettered"] == 0 and counted["buckets"][0]["count"] == 1


@pytest.mark.parametrize(
    "params, field",
    [
        ({"tenant_id": "tenant_1", "bucket_size": "week"}, "bucket_size"),
        ({"tenant_id": "tenant_1"}, "bucket_size"),
        ({"bucket_size": "day"}, "tenant_id"),
        ({"tenant_id": "tenant_1", "bucket_size": "day", "from": "monday"}, "from"),
        ({"tenant_id": ["tenant_1", "tenant_2"], "bucket_size": "day"}, "tenant_id"),
        (
            {
                "tenant_id": "tenant_1",
                "bucket_size": "day",
                "from": "2025-01-01T00:00:00Z",
                "to": "2024-01-01T00:00:00Z",
            },
            "to",
        ),
    ],
)
def test_a_bad_parameter_is_400_naming_it(api_client, db, params, field):
    response = api_client.get("/metrics", params)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert field in response.json()["details"]


def test_an_answer_holds_at_most_page_size_buckets_and_links_the_next_page(api_client, counted):
    query = {"tenant_id": "tenant_1", "bucket_size": "minute", "page_size": 4}
    pages = [api_client.get("/metrics", query).json()]
    while pages[-1]["next"]:
        pages.append(api_client.get(pages[-1]["next"]).json())

    assert [len(page["buckets"]) for page in pages] == [4, 2]
    visited = [
        (b["bucket_start"], b["source"], b["event_type"]) for p in pages for b in p["buckets"]
    ]
    assert visited == [row[:3] for row in _buckets(api_client, "minute")]
    assert len(set(visited)) == len(STAMPS)


def test_an_answer_is_capped_at_5000_buckets(api_client, db):
    response = api_client.get(
        "/metrics", {"tenant_id": "tenant_1", "bucket_size": "day", "page_size": 5_001}
    )

    assert response.status_code == 400
    assert response.json()["details"] == {
        "page_size": ["Ensure this value is less than or equal to 5000."]
    }


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "nonsense",
        _cursor('["2024"]'),
        _cursor("[1, 2, 3]"),
        _cursor('["2024-01-15T10:00:00Z", "web\\u0000", "click"]'),
        _cursor('["2024-01-15T10:00:00Z", "\\ud800", "click"]'),
        _cursor('["0001-01-01T00:00:00+01:00", "web", "click"]'),
        _cursor("[" * 2000 + "]" * 2000),
    ],
    ids=["not base64", "short", "numbers", "NUL", "surrogate", "year 1", "deep"],
)
def test_a_cursor_this_api_did_not_make_is_400(api_client, db, cursor):
    response = api_client.get(
        "/metrics", {"tenant_id": "tenant_1", "bucket_size": "day", "cursor": cursor}
    )

    assert response.status_code == 400
    assert response.json()["details"] == {"cursor": ["Invalid cursor."]}
