"""The API's routes, read from the URLconf, for tests that must cover every endpoint."""

import re

from django.urls import URLResolver, get_resolver
from rest_framework.views import APIView

METHODS = ("get", "post", "put", "patch", "delete")


def api_routes(patterns: list | None = None, prefix: str = "") -> list[tuple[str, str]]:
    """Return (method, path) for each method of each DRF view; path parameters become 1."""
    routes = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += api_routes(pattern.url_patterns, route)
            continue
        view = getattr(pattern.callback, "cls", None)
        if isinstance(view, type) and issubclass(view, APIView):
            path = "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route)
            routes += [(method, path) for method in METHODS if hasattr(view, method)]
    return routes
