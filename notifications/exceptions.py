"""Errors the notifications API answers with."""

from midnite_test.errors import DomainError


class UserNotFound(DomainError):
    """No user has this external id (or, for an all-digit id, this primary key)."""

    code = "user_not_found"
    http_status = 404
