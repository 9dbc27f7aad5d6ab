"""GET /events: filtered, newest first, paged by number or by a keyset cursor."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from events.contracts import EventInput
from events.ingestion import events_ingest

T0 = datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def _store(n: int, **changes) -> None:
    fields = {
        "tenant_id": "tenant_1",
        "event_id": f"evt_{n}",
        "source": "web",
        "event_type": "click",
        "occurred_at": T0 + timedelta(minutes=n),
    }
    events_ingest(events=[EventInput(**{**fields, **changes})])


@pytest.fixture
def stored(db):
    for n in range(5):
        _store(n)
    _store(5, source="app", event_type="purchase", user_id=None)
    _store(6, tenant_id="tenant_2")


def _ids(response) -> list[str]:
    return [event["event_id"] for event in response.json()["results"]]


def test_events_are_listed_newest_first(api_client, stored):
    response = api_client.get("/events", {"tenant_id": "tenant_1"})

    assert response.status_code == 200
    assert _ids(response) == [f"evt_{n}" for n in (5, 4, 3, 2, 1, 0)]
    assert response.json()["next"] is None


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"source": "app"}, ["evt_5"]),
        ({"event_type": "click"}, ["evt_4", "evt_3", "evt_2", "evt_1", "evt_0"]),
        ({"from": "2024-01-15T10:01:00Z", "to": "2024-01-15T10:03:00Z"}, ["evt_2", "evt_1"]),
        ({"from": "2024-01-15T11:04:00+01:00"}, ["evt_5", "evt_4"]),
    ],
)
def test_filters_combine_with_the_tenant(api_client, stored, params, expected):
    response = api_client.get("/events", {"tenant_id": "tenant_1", **params})

    assert _ids(response) == expected


def test_without_a_tenant_every_tenant_the_key_may_read_is_listed(api_client, stored):
    assert len(_ids(api_client.get("/events"))) == 7


def test_the_cursor_links_visit_every_event_once_even_while_new_ones_arrive(api_client, stored):
    seen = []
    url = "/events?tenant_id=tenant_1&page_size=2"
    while url:
        response = api_client.get(url)
        seen += _ids(response)
        _store(100 + len(seen), occurred_at=T0 + timedelta(days=1))  # newer than every page
        url = response.json()["next"]

    assert seen == [f"evt_{n}" for n in (5, 4, 3, 2, 1, 0)]


def test_events_at_the_same_instant_are_ordered_by_id_and_none_is_skipped(api_client, db):
    for n in range(5):
        _store(n, occurred_at=T0)
    seen, url = [], "/events?page_size=2"
    while url:
        response = api_client.get(url)
        seen += _ids(response)
        url = response.json()["next"]

    assert seen == [f"evt_{n}" for n in (4, 3, 2, 1, 0)]


def test_numbered_pages_carry_a_count_and_links(api_client, stored):
    body = api_client.get("/events", {"tenant_id": "tenant_1", "page": 2, "page_size": 4}).json()

    assert [event["event_id"] for event in body["results"]] == ["evt_1", "evt_0"]
    assert body["count"] == 6
    assert body["next"] is None
    assert "page=1" in body["previous"]


@pytest.mark.parametrize("page, previous", [(3, 2), (4, 3), (5, None), (99999, None)])
def test_previous_links_only_to_a_page_that_exists(api_client, stored, page, previous):
    # 6 events, 2 a page: pages 1 to 3.
    query = {"tenant_id": "tenant_1", "page": page, "page_size": 2}

    body = api_client.get("/events", query).json()

    assert (body["count"], body["next"]) == (6, None)
    if previous is None:
        assert body["results"] == [] and body["previous"] is None
    else:
        assert f"page={previous}" in body["previous"]
        assert api_client.get(body["previous"]).json()["results"]


def test_an_empty_listing_s_second_page_links_back_to_the_first(api_client, db):
    body = api_client.get("/events", {"tenant_id": "nobody", "page": 2}).json()

    assert body["count"] == 0 and "page=1" in body["previous"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"page_size": 1001}, "page_size"),
        ({"page": 0}, "page"),
        ({"from": "2024-01-15"}, "from"),
        ({"user_id": "abc"}, "user_id"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"colour": "red"}, "colour"),
        ({"page": 1, "cursor": "not-a-cursor"}, "cursor"),
        ({"user_id": ["1", "2"]}, "user_id"),
        # DRF's format override: one no renderer has was DRF's 404, "Not found.".
        ({"format": "xml"}, "format"),
        # A range that ends before it starts holds nothing: a typo, answered as "no events".
        ({"from": "2025-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"}, "to"),
    ],
)
def test_a_bad_parameter_is_400_naming_it(api_client, db, params, field):
    response = api_client.get("/events", params)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert field in response.json()["details"]


def test_an_offset_whose_plus_was_not_encoded_is_400_saying_how_to_send_it(api_client, db):
    """In a query string `+` is a space: `from=...10:30:00+05:30` arrives as `...10:30:00 05:30`."""
    response = api_client.get("/events?from=2024-01-15T10:30:00+05:30")

    assert response.status_code == 400
    assert response.json()["details"] == {
        "from": [
            "'2024-01-15T10:30:00 05:30' is not an ISO 8601 timestamp. A '+' in a URL's query "
            "string reads as a space: send it as %2B."
        ]
    }


def test_a_tenant_and_time_query_uses_an_index_not_a_scan_of_the_event_table(db):
    if connection.vendor != "postgresql":
        return
    other_tenants = [
        EventInput(
            tenant_id=f"tenant_{n % 20 + 2}",
            event_id=f"other_{n}",
            source="web",
            event_type="click",
            occurred_at=T0 + timedelta(seconds=n),
        )
        for n in range(3000)
    ]
    events_ingest(events=other_tenants)
    for n in range(30):
        _store(n)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
        cursor.execute(
            "EXPLAIN SELECT * FROM events_event WHERE tenant_id = 'tenant_1'"
            " AND occurred_at >= '2024-01-15' AND occurred_at < '2024-01-16'"
            " ORDER BY occurred_at DESC, id DESC LIMIT 101"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan on events_event" not in plan, plan
    assert "Index" in plan, plan
