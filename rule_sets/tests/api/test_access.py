"""Who may use the rules API: a key with the `rules` scope, a staff session (to change: with
the permission), anyone under ALLOW_ANONYMOUS; every other request is refused in the error
shape, and the changes name who made them."""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.auth.models import User as AuthUser
from rest_framework.test import APIClient

from rule_sets.models import KIND_ALERTS, RuleSetVersion
from rule_sets.tests.conftest import LOWER_THRESHOLD

pytestmark = pytest.mark.django_db

VERSIONS = "/api/v1/rules/alerts/versions"


def _requests(client):
    """One request of each endpoint (the backtest's id is unknown: 404 once let through)."""
    return [
        client.get(VERSIONS),
        client.post(VERSIONS, {"source": LOWER_THRESHOLD}, format="json"),
        client.get(f"{VERSIONS}/1"),
        client.get("/api/v1/rules/alerts/active"),
        client.post(f"{VERSIONS}/1/activate"),
        client.post(f"{VERSIONS}/1/backtests", {}, format="json"),
        client.get("/api/v1/rules/backtests/0b6f7a4e-3d1c-4b1e-9a55-1c2d3e4f5a6b"),
    ]


def _staff(*, permissions=(), superuser=False) -> APIClient:
    user = AuthUser.objects.create_user("ops", password="x", is_staff=True)
    user.is_superuser = superuser
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    client = APIClient()
    client.force_login(user)
    return client


def test_a_key_without_the_rules_scope_is_403_scope_forbidden_everywhere(unscoped_client):
    for response in _requests(unscoped_client):
        assert response.status_code == 403
        assert response.json()["error"] == "scope_forbidden"
        assert response.json()["details"] == {"scope": "rules"}
    assert not RuleSetVersion.objects.filter(kind=KIND_ALERTS, version=2).exists()


def test_a_key_without_the_scope_is_refused_under_allow_anonymous_too(unscoped_client, settings):
    settings.ALLOW_ANONYMOUS = True

    assert unscoped_client.get(VERSIONS).status_code == 403


def test_a_key_with_the_rules_scope_is_let_through_everywhere(rules_client):
    statuses = [response.status_code for response in _requests(rules_client)]

    assert statuses == [200, 201, 200, 200, 200, 202, 404]


def test_no_key_is_401_unless_anonymous_requests_are_allowed(anonymous_client, settings):
    settings.ALLOW_ANONYMOUS = False
    for response in _requests(anonymous_client):
        assert (response.status_code, response.json()["error"]) == (401, "not_authenticated")

    settings.ALLOW_ANONYMOUS = True
    statuses = [response.status_code for response in _requests(anonymous_client)]
    assert statuses == [200, 201, 200, 200, 200, 202, 404]
    assert RuleSetVersion.objects.get(kind=KIND_ALERTS, version=2).created_by == "anonymous"


def test_a_staff_session_reads_and_with_the_change_permission_writes_as_its_user(settings):
    settings.ALLOW_ANONYMOUS = False
    reader = _staff()
    assert reader.get(VERSIONS).status_code == 200
    refused = reader.post(VERSIONS, {"source": LOWER_THRESHOLD}, format="json")
    assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")

    reader.logout()
    AuthUser.objects.all().delete()
    writer = _staff(permissions=["change_rulesetversion"])
    created = writer.post(VERSIONS, {"source": LOWER_THRESHOLD}, format="json")
    assert (created.status_code, created.json()["created_by"]) == (201, "ops")
    activated = writer.post(f"{VERSIONS}/2/activate")
    assert activated.status_code == 200
    log = writer.get(VERSIONS).json()["versions"][0]["activations"][0]
    assert log["activated_by"] == "ops"


def test_a_session_of_a_user_who_is_not_staff_is_refused(settings):
    settings.ALLOW_ANONYMOUS = False
    user = AuthUser.objects.create_user("someone", password="x")
    client = APIClient()
    client.force_login(user)

    assert client.get(VERSIONS).status_code == 401
