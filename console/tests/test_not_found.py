"""An unknown address under /console/ is a console page; under /console/api/, the API's JSON."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))
    return client


@pytest.mark.parametrize("path", ["/console/nope/", "/console/rules/nope/"])
def test_an_unknown_console_page_is_a_console_page_saying_so(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>Not found</h1>" in response.text
    assert f'There is no console page at <code class="break">{path}</code>' in response.text
    assert '<a href="/console/overview/"' in response.text


def test_an_unknown_console_address_without_its_slash_is_sent_to_the_one_with_it(staff_client):
    response = staff_client.get("/console/overview")

    assert (response.status_code, response.headers["Location"]) == (301, "/console/overview/")


@pytest.mark.parametrize("path", ["/console/api/nope/", "/api/v1/nope/"])
def test_an_unknown_api_address_still_answers_json(staff_client, path):
    response = staff_client.get(path)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
