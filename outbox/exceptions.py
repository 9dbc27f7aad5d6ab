"""Errors of the outbox and its ClickHouse relay."""


class OutboxError(Exception):
    """Base of the outbox's errors."""


class NotInTransaction(OutboxError):
    """outbox_publish was called outside an atomic block."""


class ClickHouseUnavailable(OutboxError):
    """ClickHouse could not be reached; the same insert may succeed later."""


class ClickHouseRejected(OutboxError):
    """ClickHouse (or its driver) refused an insert or a query."""


class ClickHouseStoreHeld(ClickHouseUnavailable):
    """Another process holds the embedded ClickHouse store."""


class PoisonMessage(OutboxError):
    """A message cannot be turned into what its consumer needs."""
