"""The audit trail's queries read a bounded number of rows on a never-analyzed database.

A fresh deployment runs before its first ANALYZE (autovacuum is off on the test server too):
the planner guesses, and a plan that depends on the guess reads a user's whole history. One
user with 100,000 events and thousands of decisions, none of them ever analyzed; the real
endpoint is called, its SQL captured, and each SELECT is run again, in order, under EXPLAIN
ANALYZE (so the settings the audit's own statements make apply as they did).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from midnite_test.tests.query_plans import plan_rows_touched_max
from users.models import User

EVENTS = 100_000
NOTIFICATIONS = 20_000
LIMIT = 50
# A node may read the page, the rows tied with its last one and an index's look ahead.
ROWS_TOUCHED_MAX = 4 * LIMIT


@pytest.fixture
def heavy_user(db) -> User:
    """u_heavy: 100,000 events a second apart; a decision on each of the newest 20,000.

    Most decisions are `not_matched` (rules that look at every event), which the notification
    history leaves out; many share their batch's time, as the evaluator writes them.
    """
    user = User.objects.create(external_id="u_heavy", traits={"plan": "pro"})
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_event (tenant_id, event_id, user_id, event_type, source,
                                      occurred_at, properties, user_traits, received_at)
            SELECT 'default', 'evt_' || n, %(user)s, 'click', 'app',
                   TIMESTAMPTZ '2025-01-01 00:00:00+00' + n * INTERVAL '1 second',
                   '{}', '{}', now()
            FROM generate_series(1, %(events)s) AS n
            """,
            {"user": user.pk, "events": EVENTS},
        )
        cursor.execute(
            """
            INSERT INTO notifications_notification (
                user_id, rule, notification_type, channel, private, trigger_event_id,
                trigger_occurred_at, rules_version, status, reason, attempts, last_error,
                subject, body, created_at, updated_at)
            SELECT %(user)s, 'r' || (e.id %% 3), 'R', 'email', false, e.id, e.occurred_at, 1,
                   CASE WHEN e.id %% 1000 = 0 THEN 'sent' ELSE 'not_matched' END, '', 0, '',
                   '', '', date_trunc('minute', e.occurred_at), now()
            FROM events_event AS e
            WHERE e.user_id = %(user)s
            ORDER BY e.occurred_at DESC
            LIMIT %(notifications)s
            """,
            {"user": user.pk, "notifications": NOTIFICATIONS},
        )
        cursor.execute(
            """
            INSERT INTO notifications_decision (notification_id, user_id, status, reason,
                                                rules_version, created_at)
            SELECT id, user_id, status, reason, rules_version, created_at
            FROM notifications_notification WHERE user_id = %(user)s
            """,
            {"user": user.pk},
        )
    return user


def _audit_selects(client: APIClient) -> list[str]:
    """Call the audit endpoint and return the SELECTs it ran, in order, values inlined."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/audit/u_heavy", {"limit": LIMIT})
    assert response.status_code == 200, response.content
    body = response.json()
    assert len(body["recent_events"]) == LIMIT
    assert len(body["decisions"]) == LIMIT
    assert len(body["notification_history"]) == NOTIFICATIONS // 1000
    return [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].lstrip().upper().startswith("SELECT")
    ]


def test_every_audit_query_reads_a_bounded_number_of_rows(heavy_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='ops').plaintext}")

    selects = _audit_selects(client)

    touched = {sql: plan_rows_touched_max(sql) for sql in selects}
    assert len(touched) >= 4
    assert {sql: rows for sql, rows in touched.items() if rows > ROWS_TOUCHED_MAX} == {}
