"""The admin lists and searches users, at their old address too."""

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def admin_client(client, db):
    admin = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(admin)
    return client


def test_user_list_can_search_and_filter(admin_client, users):
    response = admin_client.get("/admin/users/user/", {"q": "Test user 3"})

    assert response.status_code == 200
    assert b"user3@example.com" in response.content
    assert b"user1@example.com" not in response.content


def test_the_user_pages_old_address_redirects_to_the_users_app(admin_client, users):
    response = admin_client.get("/admin/events/user/3/change/", {"q": "x"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/users/user/3/change/?q=x"
