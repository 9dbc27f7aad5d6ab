"""Errors the console's pages and JSON answer with."""

from midnite_test.errors import DomainError


class UnknownTenant(DomainError):
    """The overview names a tenant none of whose events the metrics have counted."""

    code = "unknown_tenant"
    http_status = 404
