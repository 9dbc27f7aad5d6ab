"""Errors of API keys."""

from rest_framework.exceptions import AuthenticationFailed

from midnite_test.errors import DomainError


class InvalidApiKey(AuthenticationFailed):
    """The request's Bearer key is unknown, revoked or malformed.

    A DRF AuthenticationFailed rather than a DomainError: DRF then answers 401 with the
    `WWW-Authenticate` header the exception handler keeps.
    """

    default_code = "invalid_api_key"
    default_detail = "The API key is unknown or revoked."


class TenantForbidden(DomainError):
    """The request's key may not act on the tenant the request names."""

    code = "tenant_forbidden"
    http_status = 403


class ApiKeyInvalid(DomainError):
    """A key to create has an empty or overlong name or tenant id."""

    code = "api_key_invalid"


class ApiKeyNameTaken(DomainError):
    """An active key already has this name."""

    code = "api_key_name_taken"
    http_status = 409


class ApiKeyNotFound(DomainError):
    """No active key has this prefix or name."""

    code = "api_key_not_found"
    http_status = 404


class ScopeForbidden(DomainError):
    """The request's key lacks the scope the endpoint needs (`create_api_key --scope`)."""

    code = "scope_forbidden"
    http_status = 403
