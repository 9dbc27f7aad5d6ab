"""OpenAPI generation hooks."""

# Routes that only repeat another route (trailing slash, short health paths).
ALIAS_PATHS = {"/event/", "/events/", "/events/bulk/", "/metrics/", "/users/", "/health", "/ready"}


def exclude_alias_paths(endpoints: list, **kwargs) -> list:
    """Document each operation once, under its canonical path."""
    return [endpoint for endpoint in endpoints if endpoint[0] not in ALIAS_PATHS]
