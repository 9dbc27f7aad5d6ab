"""OpenAPI generation hooks."""

# Routes that only repeat another route (trailing slash, short health paths).
ALIAS_PATHS = {"/event/", "/events/", "/events/bulk/", "/metrics/", "/users/", "/health", "/ready"}
ALIAS_PATHS |= {"/api/v1/events/"}


def exclude_alias_paths(endpoints: list, **kwargs) -> list:
    """Document each operation once, under its canonical path."""
    return [endpoint for endpoint in endpoints if endpoint[0] not in ALIAS_PATHS]


# Answers any operation that needs an API key can give, whatever the operation.
_KEY_ERRORS = {
    "401": "No API key, or a key that is unknown, revoked or malformed.",
    "429": "Over the key's (or, without a key, the address's) rate; see Retry-After.",
}


def add_api_key_errors(result: dict, **kwargs) -> dict:
    """Document 401 and 429 on every operation that takes an API key."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not any("ApiKey" in scheme for scheme in operation.get("security", [])):
                continue
            for status, description in _KEY_ERRORS.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": error}
                )
    return result
