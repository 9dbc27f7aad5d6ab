"""Errors the events API answers with."""

from midnite_test.errors import DomainError


class UnknownUser(DomainError):
    """The transaction names a user that does not exist."""

    code = "unknown_user"


class EventConflict(DomainError):
    """The tenant already has an event with this id, with different content."""

    code = "event_conflict"
    http_status = 409


class TooManyEvents(DomainError):
    """A bulk request holds more events than one request may."""

    code = "too_many_events"
    http_status = 413


class InvalidQuery(DomainError):
    """A query parameter is malformed; `details` names each one."""

    code = "invalid_query"


class TooManyProductEvents(TooManyEvents):
    """A product event batch holds more than 5,000 items: 400, like any malformed batch."""

    http_status = 400
