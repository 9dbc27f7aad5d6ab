"""DRF's `?format=` override answers one way whatever format is asked: an endpoint that
answers in JSON only refuses `?format=json` as it refuses `?format=xml` (it was "Unknown
field." for one and "not a valid choice" for the other), and says what it accepts."""

import pytest

JSON_ONLY = "This endpoint answers in JSON only; it takes no `format`."
ENDPOINTS = {
    "GET /events": ("get", "/events"),
    "GET /healthz/status": ("get", "/healthz/status"),
    "GET /api/v1/rules/alerts/active": ("get", "/api/v1/rules/alerts/active"),
    "POST /events": ("post", "/events"),
}


@pytest.mark.parametrize("format", ["json", "xml"])
@pytest.mark.parametrize("method, path", ENDPOINTS.values(), ids=ENDPOINTS.keys())
def test_a_format_on_a_json_only_endpoint_is_400_saying_it_answers_in_json_only(
    api_client, db, method, path, format
):
    response = getattr(api_client, method)(f"{path}?format={format}", {}, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": "invalid_query",
        "message": "The query parameters are invalid; see details.",
        "details": {"format": [JSON_ONLY]},
    }


def test_a_format_the_audit_does_not_answer_in_is_400_naming_the_choices(api_client, db):
    response = api_client.get("/audit/u_ada", {"format": "xml"})

    assert response.status_code == 400
    assert response.json()["details"] == {
        "format": ['"xml" is not a valid choice; the choices are: json, html.']
    }


def test_the_choices_are_named_once_each_in_json(client):
    """The schema has two renderers of each format (OpenAPI's media types and the plain ones).
    Before: its refusal came in its first, YAML, where every other error is JSON."""
    response = client.get("/docs/schema", {"format": "xml"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["details"] == {
        "format": ['"xml" is not a valid choice; the choices are: yaml, json.']
    }
    assert b"\n" not in response.content  # compact, as every other error (before: indented)


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_a_format_on_the_docs_page_is_a_json_refusal(client, path):
    """Before: a bare HTML page saying "400 Bad Request", naming nothing."""
    response = client.get(path, {"format": "json"}, follow=False)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_query"
    assert set(response.json()["details"]) == {"format"}
