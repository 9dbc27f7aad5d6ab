"""GET /audit/<user_id> as JSON: the shape, the order, the limit, 404 and who sees what."""

from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from notifications.selectors import user_audit
from notifications.tests.audit.staff import staff_create
from notifications.tests.audit.story import decision_store, event_store
from users.models import User

T0 = datetime(2025, 10, 31, 19, 30, tzinfo=timezone.utc)


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_audit_lists_events_notifications_and_decisions(api_client, ada):
    signup = event_store(user=ada, event_type="signup_completed", occurred_at=_at(0))
    payment = event_store(
        user=ada, event_type="payment_failed", properties={"amount": "3.5"}, occurred_at=_at(60)
    )
    decision_store(event=signup, rule="welcome_email", status="sent", at=_at(1))
    decision_store(
        event=payment,
        rule="insufficient_funds_email",
        status="suppressed",
        reason="skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today"
        " (2025-10-31, UTC)",
        at=_at(61),
        rules_version=2,
    )

    response = api_client.get("/audit/u_ada")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "id": ada.pk,
        "user_id": "u_ada",
        "traits": {"plan": "pro", "timezone": "UTC"},
        "recent_events": [
            {
                "event_id": payment.event_id,
                "event_type": "payment_failed",
                "event_timestamp": "2025-10-31T19:31:00Z",
                "properties": {"amount": "3.5"},
            },
            {
                "event_id": signup.event_id,
                "event_type": "signup_completed",
                "event_timestamp": "2025-10-31T19:30:00Z",
                "properties": {},
            },
        ],
        "notification_history": [
            {
                "notification_type": "INSUFFICIENT_FUNDS_EMAIL",
                "channel": "email",
                "trigger_event": payment.event_id,
                "status": "suppressed",
                "created_at": "2025-10-31T19:31:01Z",
                "sent_at": None,
                "suppression_reason": (
                    "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today"
                    " (2025-10-31, UTC)"
                ),
                "rules_version": 2,
            },
            {
                "notification_type": "WELCOME_EMAIL",
                "channel": "email",
                "trigger_event": signup.event_id,
                "status": "sent",
                "created_at": "2025-10-31T19:30:01Z",
                "sent_at": "2025-10-31T19:30:01Z",
                "suppression_reason": None,
                "rules_version": 1,
            },
        ],
        "decisions": [
            {
                "rule": "insufficient_funds_email",
                "notification_type": "INSUFFICIENT_FUNDS_EMAIL",
                "trigger_event": payment.event_id,
                "status": "suppressed",
                "reason": (
                    "skipped INSUFFICIENT_FUNDS_EMAIL: already scheduled or sent 1 of 1 today"
                    " (2025-10-31, UTC)"
                ),
                "created_at": "2025-10-31T19:31:01Z",
                "rules_version": 2,
            },
            {
                "rule": "welcome_email",
                "notification_type": "WELCOME_EMAIL",
                "trigger_event": signup.event_id,
                "status": "sent",
                "reason": "",
                "created_at": "2025-10-31T19:30:01Z",
                "rules_version": 1,
            },
        ],
    }


def test_not_matched_shows_as_a_decision_but_not_in_the_notification_history(api_client, ada):
    link = event_store(user=ada, event_type="bank_linked")
    decision_store(
        event=link,
        rule="bank_link_nudge_sms",
        status="not_matched",
        reason="no signup_completed in the 1d before this event",
    )

    body = api_client.get("/audit/u_ada").json()

    assert body["notification_history"] == []
    assert [(d["status"], d["reason"]) for d in body["decisions"]] == [
        ("not_matched", "no signup_completed in the 1d before this event")
    ]


@pytest.mark.parametrize(
    "status, reason, last_error, expected",
    [
        ("suppressed", "user trait unsubscribed is true", "", "user trait unsubscribed is true"),
        (
            "cancelled",
            "signup_completed arrived before the delay",
            "",
            "signup_completed arrived before the delay",
        ),
        ("failed", "", "SMS webhook answered 503", "SMS webhook answered 503"),
        ("failed", "gave up after 5 attempts", "timeout", "gave up after 5 attempts"),
        ("scheduled", "due at 2025-10-31T20:30:00Z", "", None),
    ],
)
def test_suppression_reason_is_given_only_when_nothing_was_delivered(
    api_client, ada, status, reason, last_error, expected
):
    event = event_store(user=ada, event_type="payment_failed")
    decision_store(event=event, rule="r", status=status, reason=reason, last_error=last_error)

    [notification] = api_client.get("/audit/u_ada").json()["notification_history"]

    assert notification["suppression_reason"] == expected


def test_every_list_is_newest_first(api_client, ada):
    # Stored out of order: the audit sorts by when things happened, not by insertion.
    for minute in (5, 1, 9, 3):
        event = event_store(user=ada, event_type=f"e{minute}", occurred_at=_at(60 * minute))
        decision_store(event=event, rule=f"r{minute}", status="sent", at=_at(60 * minute + 1))

    body = api_client.get("/audit/u_ada").json()

    assert [e["event_type"] for e in body["recent_events"]] == ["e9", "e5", "e3", "e1"]
    assert [n["notification_type"] for n in body["notification_history"]] == [
        "R9",
        "R5",
        "R3",
        "R1",
    ]
    assert [d["rule"] for d in body["decisions"]] == ["r9", "r5", "r3", "r1"]


def test_limit_keeps_the_newest_of_each_list(api_client, ada):
    for minute in range(4):
        event = event_store(user=ada, event_type=f"e{minute}", occurred_at=_at(60 * minute))
        decision_store(event=event, rule=f"r{minute}", status="sent", at=_at(60 * minute))

    body = api_client.get("/audit/u_ada", {"limit": 2}).json()

    assert [e["event_type"] for e in body["recent_events"]] == ["e3", "e2"]
    assert [n["notification_type"] for n in body["notification_history"]] == ["R3", "R2"]
    assert [d["rule"] for d in body["decisions"]] == ["r3", "r2"]


def test_limit_defaults_to_50(api_client, ada):
    for minute in range(51):
        event_store(user=ada, event_type="click", occurred_at=_at(60 * minute))

    assert len(api_client.get("/audit/u_ada").json()["recent_events"]) == 50


@pytest.mark.parametrize("limit", ["0", "501", "-1", "ten", "2.5", ""])
def test_a_bad_limit_is_400_naming_the_parameter(api_client, ada, limit):
    response = api_client.get("/audit/u_ada", {"limit": limit})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert list(response.json()["details"]) == ["limit"]


def test_a_parameter_sent_twice_is_400_naming_it(api_client, ada):
    """Which of the two counted was a guess: `limit=1&limit=2` answered with 2."""
    response = api_client.get("/audit/u_ada?limit=1&limit=2")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert response.json()["details"] == {"limit": ["Sent 2 times; send it once."]}


def test_a_format_it_cannot_answer_in_is_400_naming_it_not_404(api_client, ada):
    """DRF's own answer to `?format=xml` was 404 "Not found.", as if the user did not exist."""
    response = api_client.get("/audit/u_ada", {"format": "xml"})

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_query",
        "message": "The query parameters are invalid; see details.",
        "details": {"format": ['"xml" is not a valid choice; the choices are: json, html.']},
    }


def test_an_unknown_parameter_is_400_naming_it(api_client, ada):
    response = api_client.get("/audit/u_ada", {"limt": "5"})

    assert response.status_code == 400
    assert list(response.json()["details"]) == ["limt"]


def test_an_unknown_user_is_404_in_the_error_shape(api_client, ada):
    response = api_client.get("/audit/u_nobody")

    assert response.status_code == 404
    assert response.json() == {
        "error": "user_not_found",
        "message": "No user 'u_nobody'.",
        "details": {"user_id": "u_nobody"},
    }


def test_a_path_of_digits_falls_back_to_the_primary_key(api_client, ada):
    body = api_client.get(f"/audit/{ada.pk}").json()

    assert (body["id"], body["user_id"]) == (ada.pk, "u_ada")


def test_a_user_without_external_id_is_named_by_primary_key(api_client):
    user = User.objects.create(email="bob@example.com")

    assert api_client.get(f"/audit/{user.pk}").json()["user_id"] == str(user.pk)


def test_an_external_id_of_digits_wins_over_the_primary_key(api_client, ada):
    other = User.objects.create(external_id=str(ada.pk))

    assert api_client.get(f"/audit/{ada.pk}").json()["id"] == other.pk


@pytest.mark.parametrize("path", ["9" * 19, "9" * 5000, "%00", "u%00x", "%C2%B2"])
def test_ids_no_user_can_have_are_404(api_client, ada, path):
    assert api_client.get(f"/audit/{path}").status_code == 404


@pytest.mark.parametrize("sizes", [1, 30])
def test_the_audit_costs_six_queries_whatever_the_sizes(django_assert_num_queries, ada, sizes):
    for n in range(sizes):
        decision_store(event=event_store(user=ada, event_type="e"), rule=f"r{n}", status="sent")

    # Six, and the savepoint around the lists' reads (its own transaction outside a test).
    with django_assert_num_queries(8):
        audit = user_audit(user="u_ada", limit=500, tenants=frozenset({"default"}))

    assert len(audit.decisions) == sizes


@pytest.fixture
def two_tenants(ada):
    """Ada's events in tenants acme and globex, each with a decision."""
    for tenant in ("acme", "globex"):
        event = event_store(user=ada, event_type=f"{tenant}_event", tenant_id=tenant)
        decision_store(event=event, rule=f"{tenant}_rule", status="suppressed", reason=tenant)


def _client_for(tenants: list[str]) -> APIClient:
    client = APIClient()
    key = api_key_create(name=f"key for {tenants}", tenants=tenants).plaintext
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_a_key_sees_only_its_tenants_events_notifications_and_decisions(two_tenants):
    body = _client_for(["acme"]).get("/audit/u_ada").json()

    assert [e["event_type"] for e in body["recent_events"]] == ["acme_event"]
    assert [n["suppression_reason"] for n in body["notification_history"]] == ["acme"]
    assert [d["rule"] for d in body["decisions"]] == ["acme_rule"]


def test_a_user_with_no_event_in_the_keys_tenants_is_404(two_tenants):
    response = _client_for(["initech"]).get("/audit/u_ada")

    assert response.status_code == 404
    assert response.json()["error"] == "user_not_found"


def test_a_key_for_every_tenant_sees_everything(api_client, two_tenants):
    body = api_client.get("/audit/u_ada").json()

    assert {d["rule"] for d in body["decisions"]} == {"acme_rule", "globex_rule"}


def test_without_a_key_it_is_401(ada):
    response = APIClient().get("/audit/u_ada")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_with_allow_anonymous_no_key_is_needed(ada, settings):
    settings.ALLOW_ANONYMOUS = True

    assert APIClient().get("/audit/u_ada").status_code == 200


def test_a_staff_session_reads_every_tenant(two_tenants):
    client = APIClient()
    client.force_login(staff_create("oncall"))

    body = client.get("/audit/u_ada").json()

    assert {d["rule"] for d in body["decisions"]} == {"acme_rule", "globex_rule"}


def test_a_staff_session_behind_a_basic_auth_proxy_is_served_by_its_session(two_tenants):
    """A proxy's `Authorization: Basic` is not an API key: the session still answers for it."""
    client = APIClient()
    client.force_login(staff_create("oncall"))

    response = client.get("/audit/u_ada", HTTP_AUTHORIZATION="Basic b25jYWxsOnNlY3JldA==")

    assert response.status_code == 200


def test_another_scheme_without_a_session_is_401_invalid_api_key(ada):
    response = APIClient().get("/audit/u_ada", HTTP_AUTHORIZATION="Basic b25jYWxsOnNlY3JldA==")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"


def test_a_staff_session_without_the_every_tenant_permission_is_403(two_tenants):
    client = APIClient()
    client.force_login(staff_create("oncall", every_tenant=False))

    response = client.get("/audit/u_ada")

    assert response.status_code == 403
    assert response.json() == {
        "error": "permission_denied",
        "message": (
            "Reading every tenant's audit trail needs the permission "
            "'notifications.view_every_tenant_audit'; ask an administrator to grant it."
        ),
        "details": {},
    }


def test_a_superuser_has_the_every_tenant_permission(two_tenants):
    client = APIClient()
    client.force_login(get_user_model().objects.create_superuser("admin"))

    assert client.get("/audit/u_ada").status_code == 200


def test_a_session_without_staff_status_is_401(ada):
    client = APIClient()
    client.force_login(get_user_model().objects.create_user("customer"))

    assert client.get("/audit/u_ada").status_code == 401
