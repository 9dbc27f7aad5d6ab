"""The people timeline's and the dead letters' queries read a bounded number of rows on a
never-analyzed database (as notifications/tests/audit/test_audit_plans.py holds the audit's).

A user with 100,000 events, an alert on every fourth and a decision on each of the newest
20,000; 20,000 shipped outbox messages and a few dead letters. The console's JSON is called,
its SQL captured, and each SELECT run again, in order, under EXPLAIN ANALYZE.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from console.people import PAGE_SIZE
from console.tests.test_dead_letters import dead_letter_store
from midnite_test.tests.query_plans import plan_rows_touched_max
from notifications.tests.audit.staff import staff_create
from notifications.tests.audit.test_audit_plans import heavy_user  # noqa: F401 - a fixture

# A node may read a page (and the next page's first entry) per source, ties and the events
# between alerts (one in four carries one).
ROWS_TOUCHED_MAX = 8 * (PAGE_SIZE + 1)


@pytest.fixture
def heavy_history(heavy_user):  # noqa: F811 - the imported fixture
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_alert (event_id, code, rules_version, created_at)
            SELECT id, 1100, 1, now() FROM events_event WHERE user_id = %s AND id %% 4 = 0
            """,
            [heavy_user.pk],
        )
        cursor.execute("""
            INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts,
                                              last_error)
            SELECT 'analytics', 'event', n, now(), 1, '' FROM generate_series(1, 20000) AS n
            """)
    for number in range(3):
        dead_letter_store(number)
    return heavy_user


def _selects_of(client, url: str, params: dict) -> tuple[dict, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    selects = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT")
    ]
    return response.json(), selects


def test_every_query_of_two_timeline_pages_reads_a_bounded_number_of_rows(client, heavy_history):
    client.force_login(staff_create("ops"))
    url = f"/console/api/people/{heavy_history.pk}/timeline/"

    first, selects = _selects_of(client, url, {})
    second, more_selects = _selects_of(client, url, {"before": first["next_before"]})

    assert len(first["entries"]) == len(second["entries"]) == PAGE_SIZE
    assert {entry["kind"] for entry in first["entries"] + second["entries"]} == {
        "alert",
        "notification",
    }
    touched = {sql: plan_rows_touched_max(sql) for sql in selects + more_selects}
    assert {sql: rows for sql, rows in touched.items() if rows > ROWS_TOUCHED_MAX} == {}


def test_a_page_of_dead_letters_reads_no_shipped_message(client, heavy_history):
    client.force_login(staff_create("ops"))

    body, selects = _selects_of(client, "/console/api/dead-letters/", {})

    assert len(body["dead_letters"]) == 3
    touched = {sql: plan_rows_touched_max(sql) for sql in selects}
    assert {sql: rows for sql, rows in touched.items() if rows > ROWS_TOUCHED_MAX} == {}


def test_a_search_by_email_reads_a_bounded_number_of_rows(client, db):
    """20,000 product users, each with an `email` trait: the search finds one through indexes."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO events_user (external_id, first_name, last_name, email, traits,
                                     created_at, updated_at)
            SELECT 'u_' || n, '', '', '', jsonb_build_object('email', 'p' || n || '@example.com'),
                   now(), now()
            FROM generate_series(1, 20000) AS n
            """)
    client.force_login(staff_create("ops"))

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/console/people/", {"q": "P777@example.com"})

    assert response.context["shown"].external_id == "u_777"
    searches = [q["sql"] for q in captured.captured_queries if "events_user" in q["sql"]]
    touched = {sql: plan_rows_touched_max(sql) for sql in searches}
    assert touched and {sql: rows for sql, rows in touched.items() if rows > 10} == {}
