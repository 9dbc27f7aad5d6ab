"""The people page's search and its timeline JSON: exact matches, alerts and decisions merged
newest first in keyset pages, the same queries however long the history."""

from datetime import timedelta

import pytest
from django.test.utils import CaptureQueriesContext
from django.db import connection
from django.utils import timezone

from alerts.models import Alert
from console.people import PAGE_SIZE
from notifications.tests.audit.staff import staff_create
from notifications.tests.audit.story import decision_store, event_store
from users.models import User

pytestmark = pytest.mark.django_db

T0 = timezone.now() - timedelta(days=1)


@pytest.fixture
def ops_client(client):
    client.force_login(staff_create("ops"))
    return client


@pytest.fixture
def maria() -> User:
    return User.objects.create(external_id="u_maria", email="Maria@Example.com")


def alert_store(user: User, *, code: int, at, rules_version: int = 2) -> Alert:
    event = event_store(user=user, event_type="deposit", occurred_at=at)
    return Alert.objects.create(event=event, code=code, rules_version=rules_version)


def nudge_store(user: User, *, at, reason: str = "sent", rules_version: int = 3):
    event = event_store(user=user, event_type="payment_failed", occurred_at=at)
    return decision_store(
        event=event,
        rule="insufficient_funds",
        status="suppressed",
        reason=reason,
        at=at,
        rules_version=rules_version,
    )


def timeline(client, user: User, before: str | None = None) -> dict:
    url = f"/console/api/people/{user.pk}/timeline/"
    return client.get(url, {"before": before} if before else {}).json()


@pytest.mark.parametrize("query", ["u_maria", "maria@example.com", " MARIA@example.COM "])
def test_a_user_is_found_by_external_id_or_email_in_any_case(ops_client, maria, query):
    response = ops_client.get("/console/people/", {"q": query})

    assert response.context["shown"] == maria
    assert 'href="/audit/u_maria"' in response.text


@pytest.mark.parametrize("query", ["ada@example.com", "ADA@example.com", " Ada@Example.COM "])
def test_a_product_user_is_found_by_the_email_trait_in_any_case(ops_client, query):
    ada = User.objects.create(external_id="u_ada", traits={"email": "ada@example.com"})
    User.objects.create(external_id="u_bob", traits={"email": "bob@example.com", "x": "ada"})

    response = ops_client.get("/console/people/", {"q": query})

    assert response.context["shown"] == ada
    assert 'href="/audit/u_ada"' in response.text


def test_an_address_both_a_user_s_email_and_another_s_trait_lists_both(ops_client, maria):
    other = User.objects.create(external_id="u_other", traits={"email": "maria@example.com"})

    listed = ops_client.get("/console/people/", {"q": "maria@example.com"})

    assert listed.context["matches"] == [maria, other]


def test_a_user_is_found_by_primary_key(ops_client, maria):
    response = ops_client.get("/console/people/", {"q": str(maria.pk)})

    assert response.context["shown"] == maria


def test_a_query_naming_two_users_lists_both_to_choose_from(ops_client, maria):
    other = User.objects.create(external_id=str(maria.pk))

    listed = ops_client.get("/console/people/", {"q": str(maria.pk)})
    chosen = ops_client.get("/console/people/", {"q": str(maria.pk), "user": other.pk})

    assert listed.context["matches"] == [maria, other]
    assert listed.context["shown"] is None
    assert chosen.context["shown"] == other


@pytest.mark.parametrize("query", ["u_mar", "maria@example", "x" * 300, "a\x00b", "9" * 40])
def test_only_exact_matches_are_found(ops_client, maria, query):
    response = ops_client.get("/console/people/", {"q": query})

    assert response.status_code == 200
    assert response.context["matches"] == []
    assert b'id="no-match"' in response.content


def test_the_timeline_merges_alerts_and_decisions_newest_first(ops_client, maria):
    alert_store(maria, code=1100, at=T0)
    nudge_store(maria, at=T0 + timedelta(minutes=1), reason="skipped: 1 of 1 today")
    alert_store(maria, code=300, at=T0 + timedelta(minutes=2))

    entries = timeline(ops_client, maria)["entries"]

    assert [(e["kind"], e.get("code"), e["rules_version"]) for e in entries] == [
        ("alert", 300, 2),
        ("notification", None, 3),
        ("alert", 1100, 2),
    ]
    assert entries[1]["reason"] == "skipped: 1 of 1 today"
    assert entries[1]["status"] == "suppressed"


def test_pages_cover_the_timeline_once_each_with_ties(ops_client, maria):
    for n in range(PAGE_SIZE):
        at = T0 + timedelta(minutes=n // 3)  # three to a minute: ties across both sources
        alert_store(maria, code=1100, at=at)
        nudge_store(maria, at=at)

    first = timeline(ops_client, maria)
    second = timeline(ops_client, maria, first["next_before"])

    pages = first["entries"] + second["entries"]
    assert len(first["entries"]) == len(second["entries"]) == PAGE_SIZE
    assert second["next_before"] is None
    assert [e["at"] for e in pages] == sorted((e["at"] for e in pages), reverse=True)
    assert sorted(e["kind"] for e in pages).count("alert") == PAGE_SIZE


def test_a_page_is_the_same_queries_for_a_long_history_as_for_a_short_one(ops_client, maria):
    def queries_for_a_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            timeline(ops_client, maria)
        return len(captured)

    alert_store(maria, code=1100, at=T0)
    nudge_store(maria, at=T0)
    short = queries_for_a_page()
    for n in range(PAGE_SIZE * 3):
        alert_store(maria, code=1100, at=T0 + timedelta(seconds=n))
        nudge_store(maria, at=T0 + timedelta(seconds=n))

    assert queries_for_a_page() == short


@pytest.mark.parametrize(
    "before",
    ["nope", "e30=", "eyJhIjpbMV0sImQiOm51bGx9", "W10=", "eyJhIjpudWxsLCJkIjpbIngiLDFdfQ=="],
)
def test_a_cursor_the_page_did_not_write_is_a_400(ops_client, maria, before):
    response = ops_client.get(f"/console/api/people/{maria.pk}/timeline/", {"before": before})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"


def test_staff_who_may_not_read_every_tenants_audit_are_refused(client, maria):
    client.force_login(staff_create("intern", every_tenant=False))

    page = client.get("/console/people/", {"q": "u_maria"})
    api = client.get(f"/console/api/people/{maria.pk}/timeline/")

    assert page.status_code == 403
    assert b"notifications.view_every_tenant_audit" in page.content
    assert api.status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/console/people/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login/")
