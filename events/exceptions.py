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
    """A batch (POST /events/bulk, POST /api/v1/events) holds more events than one may."""

    code = "too_many_events"
    http_status = 413
