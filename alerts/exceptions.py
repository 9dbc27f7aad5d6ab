"""Errors POST /event answers with, besides the event store's."""

from midnite_test.errors import DomainError


class TimestampOutOfOrder(DomainError):
    """The transaction's `t` is below the user's latest."""

    code = "timestamp_out_of_order"


class DuplicateTimestamp(DomainError):
    """The user already sent a different transaction with this `t`."""

    code = "duplicate_timestamp"
    http_status = 409
