"""The console's JSON endpoints: a refusal in the API's error shape, never the login page (a
page's poll cannot follow a redirect to a form; README: "403 otherwise"), and no database
error for an id no row can have. On PostgreSQL and on SQLite (`make run`'s)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from console.tests.test_dead_letters import staff

JSON_ENDPOINTS = ["/console/api/people/1/timeline/", "/console/api/dead-letters/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_an_anonymous_poll_is_a_403_in_the_api_shape(client, url):
    response = client.get(url)

    assert response.status_code == 403
    assert response.json()["error"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_a_user_who_is_not_staff_polling_is_a_403_in_the_api_shape(client, url, django_user_model):
    client.force_login(django_user_model.objects.create_user("customer"))

    response = client.get(url)

    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


@pytest.mark.django_db
def test_a_requeue_without_its_csrf_token_is_a_403_in_the_api_shape(django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff(django_user_model, may_requeue=True))

    response = client.post("/console/api/dead-letters/requeue/", {"ids": ["1"]})

    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


@pytest.mark.django_db
@pytest.mark.parametrize("pk", [999_999, 2**63 - 1, 2**63, 10**22], ids=str)
def test_the_timeline_of_a_user_who_does_not_exist_is_a_404(client, django_user_model, pk):
    """Like the audit page's: an empty timeline would read as a user with no history. An id
    past the largest primary key is nobody's too (PostgreSQL and SQLite refuse the number)."""
    user = django_user_model.objects.create_user("ops", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_every_tenant_audit"))
    client.force_login(user)

    response = client.get(f"/console/api/people/{pk}/timeline/")

    assert response.status_code == 404
    assert response.json() == {
        "error": "user_not_found",
        "message": f"No user {pk}.",
        "details": {"user_id": pk},
    }
