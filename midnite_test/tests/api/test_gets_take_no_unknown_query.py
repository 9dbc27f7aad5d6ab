"""A GET's query string is checked, not ignored: every GET route of the URLconf answers a
parameter it does not take with 400 `invalid_query` naming it, as the writes do.

The routes are read from the URLconf, so a new GET is covered (or must be listed in LENIENT,
with the reason) without anyone remembering this test. Each is first asked without the
parameter and must answer 200: its path parameters name things that exist, so the 400 is the
query's, not a missing object's.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from rule_sets.tests.conftest import LOWER_THRESHOLD

UNKNOWN = "cache_buster"

# Routes (as the URLconf writes them) that answer whatever query parameter they are sent.
LENIENT = {
    # Kubernetes-style probes: a probe with a parameter a load balancer or a person adds
    # (`?cb=...`) must not fail readiness and take every pod out of rotation.
    "healthz/live": "probe",
    "healthz/ready": "probe",
    "health": "probe",
    "ready": "probe",
    # Prometheus's scrape: its configuration may add `params`; the text format has no error.
    "prometheus/metrics": "scrape",
    # Redirects to the console.
    "": "redirect",
}
# Whole prefixes left to their own rules: Django's admin (its filters are query parameters), the
# console's pages for a browser and the JSON those pages poll (outside the API's schema), the
# schema and Swagger UI (drf-spectacular's own parameters).
LENIENT_PREFIXES = ("admin/", "console/", "docs", "api/schema/")
# The parameters a route cannot answer 200 without.
REQUIRED_QUERY = {"metrics": {"tenant_id": "tenant_1", "bucket_size": "hour"}}


def _get_routes(patterns=None, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Every route of the URLconf that is not lenient, with its path parameters' names."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            routes += _get_routes(pattern.url_patterns, route)
        elif route in LENIENT or route.startswith(LENIENT_PREFIXES):
            continue
        elif isinstance(pattern, URLPattern) and _answers_get(pattern):
            routes.append((route, list(pattern.pattern.converters)))
    return routes


def _answers_get(pattern: URLPattern) -> bool:
    view = getattr(pattern.callback, "view_class", None)
    if view is None:  # a function view: the API has none, so this route is new here
        return True
    return "get" in getattr(view, "http_method_names", ()) and hasattr(view, "get")


GET_ROUTES = _get_routes()


@pytest.fixture
def path_values(api_client, users, post_event) -> dict[str, str]:
    """A value for each path parameter of the GET routes, naming something that exists."""
    post_event("deposit", "10.00", 1)
    candidate = api_client.post(
        "/api/v1/rules/alerts/versions", {"source": LOWER_THRESHOLD}, format="json"
    )
    version = candidate.json()["version"]
    backtest = api_client.post(
        f"/api/v1/rules/alerts/versions/{version}/backtests", {}, format="json"
    )
    assert backtest.status_code == 202, backtest.content
    return {
        "kind": "alerts",
        "n": str(version),
        "backtest_id": backtest.json()["id"],
        "user_id": str(users[0].pk),
    }


def _path(route: str, names: list[str], values: dict[str, str]) -> str:
    missing = [name for name in names if name not in values]
    assert not missing, f"{route}: give path_values a value for {missing}"
    path = route
    for name in names:
        path = path.replace(f"<{name}>", values[name])
        for converter in ("str", "int", "slug", "uuid", "path"):
            path = path.replace(f"<{converter}:{name}>", values[name])
    return "/" + path


def test_the_walk_finds_the_gets_that_once_ignored_a_query():
    routes = [route for route, _ in GET_ROUTES]

    for route in ("healthz/status", "api/v1/rules/<str:kind>/active", "events", "metrics"):
        assert route in routes


@pytest.mark.parametrize("route, names", GET_ROUTES, ids=[route for route, _ in GET_ROUTES])
def test_an_unknown_query_parameter_of_a_get_is_400_naming_it(
    api_client, path_values, route, names
):
    path = _path(route, names, path_values)
    required = REQUIRED_QUERY.get(route.rstrip("/"), {})
    assert api_client.get(path, required).status_code == 200, path

    response = api_client.get(path, {**required, UNKNOWN: "1"})

    assert response.status_code == 400, (path, response.content)
    assert response.json()["error"] == "invalid_query"
    assert list(response.json()["details"]) == [UNKNOWN]


@pytest.mark.parametrize("route", ["healthz/live", "healthz/ready", "health", "ready"])
def test_a_probe_answers_200_whatever_its_query_string(api_client, db, route):
    """A probe with a cache-busting parameter, or a `format` it cannot answer in, still says
    the process is up and ready: failing it would take a healthy pod out of rotation."""
    response = api_client.get(f"/{route}", {UNKNOWN: "1", "format": "xml"})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
