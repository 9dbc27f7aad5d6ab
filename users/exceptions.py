"""Errors the users API answers with."""

from midnite_test.errors import DomainError


class EmailTaken(DomainError):
    """Another user already has this email, in some letter case."""

    code = "email_taken"
    http_status = 409
