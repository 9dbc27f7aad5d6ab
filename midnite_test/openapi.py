"""OpenAPI generation hooks."""

from collections.abc import Callable

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


# Answers any operation that takes a body can give before its view runs.
_BODY_ERRORS = {
    "411": "A body without a Content-Length (Transfer-Encoding: chunked): `length_required`.",
    "413": "A body over this endpoint's size (README, Limits on every way in).",
    "415": "A body that is not `application/json` (UTF-8).",
}


def add_api_key_errors(result: dict, **kwargs) -> dict:
    """Document 401 and 429 on every operation that takes an API key."""
    return _errors_add(
        result,
        _KEY_ERRORS,
        lambda operation: any("ApiKey" in scheme for scheme in operation.get("security", [])),
    )


def add_body_errors(result: dict, **kwargs) -> dict:
    """Document 411, 413 and 415 on every operation that takes a body."""
    return _errors_add(result, _BODY_ERRORS, lambda operation: "requestBody" in operation)


def _errors_add(result: dict, errors: dict[str, str], applies: Callable[[dict], bool]) -> dict:
    """Add each of `errors` an operation `applies` to does not document already."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not applies(operation):
                continue
            for status, description in errors.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": error}
                )
    return result
