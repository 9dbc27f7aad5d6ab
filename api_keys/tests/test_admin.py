"""The admin lists API keys and revokes them; it never creates or edits one."""

from api_keys.models import ApiKey
from midnite_test.tests.admin_staff import offered_actions, staff_client

LIST_URL = "/admin/api_keys/apikey/"


def test_the_key_list_shows_name_prefix_tenants_scopes_created_and_revoked(admin_client, issue):
    scoped = issue(name="scoped", tenants=("acme", "globex")).api_key
    issue(name="everything", scopes=["rules"])

    response = admin_client.get(LIST_URL)

    assert response.status_code == 200
    headers = [header["text"] for header in response.context["result_headers"]]
    assert headers[1:] == ["name", "prefix", "tenants", "scopes", "created at", "revoked at"]
    assert scoped.prefix in response.text
    assert "acme, globex" in response.text
    assert ">all<" in response.text
    assert ">rules<" in response.text


def test_the_revoke_action_revokes_the_selected_keys(admin_client, issue, client_for):
    chosen, other = issue(), issue()

    response = admin_client.post(
        LIST_URL,
        {"action": "revoke", "index": 0, "_selected_action": [chosen.api_key.pk]},
        follow=True,
    )

    assert "Revoked 1 API keys" in response.text
    assert ApiKey.objects.get(pk=chosen.api_key.pk).revoked_at is not None
    assert ApiKey.objects.get(pk=other.api_key.pk).revoked_at is None
    assert client_for(chosen.plaintext).post("/users", {}, format="json").status_code == 401


def test_the_state_filter_lists_revoked_keys(admin_client, issue):
    revoked = issue()
    issue()  # an active key, which the filter leaves out
    ApiKey.objects.filter(pk=revoked.api_key.pk).update(revoked_at="2025-01-01T00:00Z")

    response = admin_client.get(LIST_URL, {"state": "revoked"})

    assert [key.pk for key in response.context["cl"].result_list] == [revoked.api_key.pk]


def test_keys_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(f"{LIST_URL}add/").status_code == 403


def test_staff_who_may_only_view_keys_cannot_revoke_one(client, django_user_model, issue):
    viewer = staff_client(client, django_user_model, "api_keys", "view_apikey")
    key = issue().api_key

    listing = viewer.get(LIST_URL)
    response = viewer.post(
        LIST_URL, {"action": "revoke", "index": 0, "_selected_action": [key.pk]}, follow=True
    )

    assert listing.status_code == 200
    assert "revoke" not in offered_actions(listing)
    assert "Revoked 1 API keys" not in response.text
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_staff_with_the_change_permission_revoke_keys(client, django_user_model, issue):
    changer = staff_client(client, django_user_model, "api_keys", "view_apikey", "change_apikey")
    key = issue().api_key

    changer.post(LIST_URL, {"action": "revoke", "index": 0, "_selected_action": [key.pk]})

    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
