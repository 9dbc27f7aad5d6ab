"""Who gets into the console: staff users through its login page, nobody else."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/console/overview/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login/?next=/console/overview/")


def test_a_staff_user_logs_in_and_reaches_the_overview(client, django_user_model):
    django_user_model.objects.create_user("ops", password="s3cret-pass", is_staff=True)

    response = client.post(
        "/console/login/",
        {"username": "ops", "password": "s3cret-pass", "next": "/console/overview/"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == "/console/overview/"
    assert b"<h1>Overview</h1>" in response.content


def test_a_user_who_is_not_staff_is_not_let_in(client, django_user_model):
    user = django_user_model.objects.create_user("customer", password="s3cret-pass")
    client.force_login(user)

    response = client.get("/console/overview/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login/")


def test_the_login_form_refuses_a_user_who_is_not_staff_and_opens_no_session(
    client, django_user_model
):
    django_user_model.objects.create_user("customer", password="s3cret-pass")

    response = client.post(
        "/console/login/",
        {"username": "customer", "password": "s3cret-pass", "next": "/console/overview/"},
    )

    assert response.status_code == 200
    assert re.search(r'<p class="error" role="alert">[^<]*not staff', response.text)
    assert "_auth_user_id" not in client.session


def test_logging_out_takes_a_post_and_ends_the_session(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))

    client.post("/console/logout/")

    assert client.get("/console/overview/").status_code == 302


def test_the_login_page_answers_a_logged_in_user_who_is_not_staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("customer"))

    response = client.get("/console/login/?next=/console/overview/")

    assert response.status_code == 200


def test_logging_in_without_a_next_page_lands_in_the_console(client, django_user_model):
    django_user_model.objects.create_user("ops", password="s3cret-pass", is_staff=True)

    response = client.post("/console/login/", {"username": "ops", "password": "s3cret-pass"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


def test_the_root_of_the_service_leads_to_the_console(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


def test_the_logout_url_typed_by_a_staff_user_asks_to_log_out_with_a_working_button(
    django_user_model,
):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))

    page = client.get("/console/logout/")

    assert page.status_code == 200
    form = re.search(r'<form[^>]*id="logout-confirm"[^>]*>.*?</form>', page.text, re.S).group()
    assert 'method="post"' in form and 'action="/console/logout/"' in form
    assert re.search(r"<button[^>]*>Log out</button>", form)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    logged_out = client.post("/console/logout/", {"csrfmiddlewaretoken": token})
    assert (logged_out.status_code, logged_out.headers["Location"]) == (302, "/console/login/")
    assert client.get("/console/overview/").status_code == 302


def test_the_logout_url_typed_by_a_logged_out_visitor_leads_to_the_login_page(client):
    response = client.get("/console/logout/")

    assert (response.status_code, response.headers["Location"]) == (302, "/console/login/")


def test_the_login_page_says_so_after_logging_out_and_only_then(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", is_staff=True))

    logged_out = client.post("/console/logout/", follow=True)

    assert logged_out.redirect_chain == [("/console/login/", 302)]
    assert re.search(r'<p class="ok" role="status">You have logged out\.</p>', logged_out.text)
    assert "logged out" not in client.get("/console/login/").text
