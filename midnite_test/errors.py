"""The base of every business error the API can answer with."""

from typing import Any


class DomainError(Exception):
    """An expected failure with a stable `code` and the HTTP status it answers with.

    Subclasses set `code` (snake_case, part of the API contract) and `http_status`.
    `midnite_test.exception_handler` renders it as the API's one error shape.
    """

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidQuery(DomainError):
    """A query parameter is malformed, or sent to an endpoint that takes none; `details`
    names each one."""

    code = "invalid_query"
