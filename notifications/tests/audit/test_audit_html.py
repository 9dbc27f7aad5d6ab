"""GET /audit/<user_id> with `Accept: text/html`: the page a browser gets, and its errors."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from users.models import User

from notifications.tests.audit.staff import staff_create
from notifications.tests.audit.story import decision_store, event_store

# What Chromium sends for a page it navigates to.
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
AUDIT_DATA = re.compile(r'<script id="audit-data" type="application/json">(.*?)</script>', re.S)


@pytest.fixture
def staff_browser(db) -> APIClient:
    """A client logged in to the admin as staff, asking for HTML as a browser does."""
    client = APIClient(HTTP_ACCEPT=BROWSER_ACCEPT)
    client.force_login(staff_create("oncall"))
    return client


def test_a_browser_gets_the_page_with_the_audit_data_embedded(staff_browser, ada):
    event = event_store(user=ada, event_type="payment_failed")
    decision_store(event=event, rule="r", status="suppressed", reason="already sent 1 of 1")

    response = staff_browser.get("/audit/u_ada")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Accept" in response["Vary"]
    html = response.content.decode()
    assert "<title>Audit: u_ada</title>" in html
    assert '<script src="/static/notifications/decision_status.js" defer></script>' in html
    assert '<script src="/static/notifications/audit.js" defer></script>' in html
    embedded = json.loads(AUDIT_DATA.search(html).group(1))
    assert embedded["decisions"][0]["reason"] == "already sent 1 of 1"
    assert embedded["recent_events"][0]["event_type"] == "payment_failed"


@pytest.mark.parametrize("accept", ["*/*", "application/json", None])
def test_curl_and_scripts_get_json(api_client, ada, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = api_client.get("/audit/u_ada", **headers)

    assert response["Content-Type"] == "application/json"
    assert response.json()["user_id"] == "u_ada"


def test_markup_in_the_data_stays_out_of_the_pages_markup(staff_browser, db):
    User.objects.create(external_id="u_x", traits={"name": "</script><script>alert(1)</script>"})
    event_store(
        user=User.objects.get(external_id="u_x"),
        event_type="<img src=x onerror=alert(2)>",
        properties={"note": "<script>alert(3)</script>"},
    )

    html = staff_browser.get("/audit/u_x").content.decode()

    assert "<script>alert" not in html
    assert "<img" not in html
    embedded = json.loads(AUDIT_DATA.search(html).group(1))
    assert embedded["recent_events"][0]["properties"] == {"note": "<script>alert(3)</script>"}


def test_an_unknown_user_is_a_404_page(staff_browser):
    response = staff_browser.get("/audit/<b>nobody")

    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "404: user_not_found" in html
    assert "No user &#x27;&lt;b&gt;nobody&#x27;." in html


def test_a_bad_query_page_names_each_parameter_and_its_problem(staff_browser, ada):
    """Before: the page said "see details" and showed none; only the JSON named `limit`."""
    response = staff_browser.get("/audit/u_ada", {"limit": 0, "<b>": 1})

    assert response.status_code == 400
    html = response.content.decode()
    assert "400: invalid_query" in html and "see details" in html
    details = re.search(r'<dl id="error-details">(.*?)</dl>', html, re.S).group(1)
    assert re.findall(r"<dt>(.*?)</dt>", details) == ["limit", "&lt;b&gt;"]
    assert "greater than or equal to 1" in details and "Unknown field." in details


def test_a_browser_without_a_session_is_told_where_to_log_in(db):
    response = APIClient(HTTP_ACCEPT=BROWSER_ACCEPT).get("/audit/u_ada", {"limit": 5})

    assert response.status_code == 401
    assert 'href="/admin/login/?next=/audit/u_ada%3Flimit%3D5"' in response.content.decode()


def test_a_staff_member_without_the_every_tenant_permission_gets_a_403_page(ada):
    client = APIClient(HTTP_ACCEPT=BROWSER_ACCEPT)
    client.force_login(staff_create("oncall", every_tenant=False))

    response = client.get("/audit/u_ada")

    assert response.status_code == 403
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "403: permission_denied" in html
    assert "notifications.view_every_tenant_audit" in html


def test_the_pages_script_and_style_are_static_files():
    assert finders.find("notifications/audit.js")
    assert finders.find("notifications/decision_status.js")
    assert finders.find("notifications/audit.css")


def test_format_json_overrides_a_browsers_accept(staff_browser, ada):
    response = staff_browser.get("/audit/u_ada", {"format": "json", "limit": 1})

    assert response["Content-Type"] == "application/json"
    assert response.json()["user_id"] == "u_ada"


def test_format_html_overrides_accept_any(api_client, ada):
    response = api_client.get("/audit/u_ada", {"format": "html"}, HTTP_ACCEPT="*/*")

    assert response["Content-Type"] == "text/html; charset=utf-8"
