"""Every API endpoint but health and docs needs a valid key, unless ALLOW_ANONYMOUS.

A request that gets past authentication is recognised by the answer POST /users gives an
empty body: 400 invalid_payload.
"""

import pytest
from rest_framework.test import APIClient

from api_keys.services import api_key_revoke
from midnite_test.tests.routes import api_routes

OPEN_PATHS = {
    "/healthz/live",
    "/healthz/ready",
    "/health",
    "/ready",
    "/docs",
    "/docs/",
    "/docs/schema",
    "/api/schema/",
}
# The console's JSON serves staff sessions, never keys: console/tests check who it refuses.
CONSOLE = "/console/"
KEYED_ROUTES = [
    (method, path)
    for method, path in api_routes()
    if path not in OPEN_PATHS and not path.startswith(CONSOLE)
]
OPEN_ROUTES = [(method, path) for method, path in api_routes() if path in OPEN_PATHS]


def _send(client: APIClient, method: str, path: str):
    return getattr(client, method)(path, {}, format="json")


def _register_nobody(client: APIClient):
    return client.post("/users", {}, format="json")


def test_the_routes_checked_include_todays_data_endpoints():
    assert {("post", "/event"), ("post", "/users")} <= set(KEYED_ROUTES)
    assert {path for _, path in OPEN_ROUTES} == OPEN_PATHS


@pytest.mark.parametrize("method, path", KEYED_ROUTES)
def test_every_data_endpoint_is_401_without_a_key(db, method, path):
    response = _send(APIClient(), method, path)

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert set(response.json()) == {"error", "message", "details"}


@pytest.mark.parametrize("method, path", OPEN_ROUTES)
def test_health_and_docs_answer_without_a_key(db, method, path):
    response = _send(APIClient(), method, path)

    assert response.status_code not in (401, 403), response.content[:200]


@pytest.mark.parametrize("method, path", OPEN_ROUTES)
def test_health_and_docs_ignore_an_invalid_key(db, client_for, method, path):
    response = _send(client_for("mk_unknown_key"), method, path)

    assert response.status_code not in (401, 403), response.content[:200]


def test_a_401_names_the_bearer_scheme(db):
    response = _register_nobody(APIClient())

    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_valid_key_gets_through(issue, client_for):
    response = _register_nobody(client_for(issue().plaintext))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"


def test_an_unknown_key_is_401_invalid_api_key(db, client_for):
    response = _register_nobody(client_for("mk_000000000000_not-a-key"))

    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_api_key",
        "message": "The API key is unknown or revoked.",
        "details": {},
    }


def test_a_revoked_key_is_401_invalid_api_key(issue, client_for):
    issued = issue()
    api_key_revoke(prefix_or_name=issued.api_key.prefix)

    response = _register_nobody(client_for(issued.plaintext))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"


@pytest.mark.parametrize("header", ["Bearer", "Bearer two parts", "Bearer caf\xe9", "bearer   "])
def test_a_malformed_bearer_header_is_401_invalid_api_key(db, header):
    response = APIClient().post("/users", {}, format="json", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"


@pytest.mark.parametrize("header", ["Basic dTpw", "Token abc", "abc", "mk_000000000000_x"])
@pytest.mark.parametrize("anonymous", [False, True])
def test_another_authorization_scheme_is_401_invalid_api_key(db, settings, header, anonymous):
    settings.ALLOW_ANONYMOUS = anonymous

    response = APIClient().post("/users", {}, format="json", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_api_key",
        "message": "Send the key as `Authorization: Bearer <key>`.",
        "details": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_with_allow_anonymous_a_request_without_a_key_gets_through(db, settings):
    settings.ALLOW_ANONYMOUS = True

    response = _register_nobody(APIClient())

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"


@pytest.mark.parametrize("header", ["", " "])
def test_with_allow_anonymous_an_empty_authorization_header_is_401(db, settings, header):
    """granian hands a header value that is not ASCII (`Bearer caf\xe9`) to the application as
    an empty one: served as anonymous, a key meant to be checked was ignored."""
    settings.ALLOW_ANONYMOUS = True

    response = APIClient().post("/users", {}, format="json", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_api_key",
        "message": "The Authorization header is empty (or, as some servers pass it, not ASCII). "
        "Send the key as `Authorization: Bearer <key>`.",
        "details": {},
    }


def test_with_allow_anonymous_an_invalid_key_is_still_401(db, settings, client_for):
    settings.ALLOW_ANONYMOUS = True

    response = _register_nobody(client_for("mk_000000000000_not-a-key"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_api_key"
