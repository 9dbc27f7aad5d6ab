"""Reads of the health probes: each dependency by name, the outbox backlog and what holds it."""

from dataclasses import dataclass

from django.db import DatabaseError, connection

from outbox.horizon import HorizonHolder
from outbox.selectors import (
    Backlog,
    broker_health,
    clickhouse_health,
    outbox_backlog,
    outbox_horizon_holder,
)


def database_is_ready() -> bool:
    """Return whether the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False


@dataclass(frozen=True, kw_only=True)
class Readiness:
    checks: dict[str, str]
    failed: list[str]
    outbox: list[Backlog]
    outbox_horizon_holder: HorizonHolder | None

    @property
    def status(self) -> str:
        return "unavailable" if self.failed else "ok"


def readiness_check() -> Readiness:
    """Check each dependency by name: database, broker, ClickHouse; report the outbox backlog.

    And the session of this database whose open transaction holds the outbox back, if any.
    """
    database_ok = database_is_ready()
    problems = {
        "database": None if database_ok else "the database does not answer",
        "broker": broker_health(),
        # An embedded store is judged by the worker's heartbeat, kept in the database.
        "clickhouse": clickhouse_health() if database_ok else "unknown without the database",
    }
    checks = {
        name: "ok" if problem is None else f"failed: {problem}"
        for name, problem in problems.items()
    }
    failed = [name for name, problem in problems.items() if problem is not None]
    backlog = outbox_backlog() if database_ok else []
    holder = outbox_horizon_holder() if database_ok else None
    return Readiness(checks=checks, failed=failed, outbox=backlog, outbox_horizon_holder=holder)
