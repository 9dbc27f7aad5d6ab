"""Reads of the health probes: readiness (can this process serve?) and the operators' status.

Readiness asks only what a web process needs to serve: its database. A broker, ClickHouse, a
stale worker heartbeat or a backlog never take a web process out of rotation, since another
process would fare no better and requests still commit to the outbox, which keeps what the
worker owes. The status reports each of those, for people and alerts, and answers 200.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from outbox.horizon import CursorAhead, HorizonHolder
from outbox.models import WorkerHeartbeat
from outbox.selectors import (
    Backlog,
    broker_health,
    clickhouse_health,
    outbox_backlog,
    outbox_cursors_ahead,
    outbox_horizon_holder,
    worker_heartbeat,
    worker_heartbeat_problem,
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

    @property
    def status(self) -> str:
        return "unavailable" if self.failed else "ok"


def readiness_check() -> Readiness:
    """Check what this process needs to serve: the database. No error text, no host names."""
    database_ok = database_is_ready()
    return Readiness(
        checks={"database": "ok" if database_ok else "failed"},
        failed=[] if database_ok else ["database"],
    )


@dataclass(frozen=True, kw_only=True)
class Heartbeat:
    """The worker's last report on ClickHouse, and how long ago that was."""

    checked_at: datetime
    age_seconds: float
    clickhouse_ok: bool


@dataclass(frozen=True, kw_only=True)
class Status:
    checks: dict[str, str]
    failed: list[str]
    outbox: list[Backlog]
    outbox_horizon_holder: HorizonHolder | None
    outbox_cursors_ahead: list[CursorAhead]
    worker_heartbeat: Heartbeat | None

    @property
    def status(self) -> str:
        return "degraded" if self.failed else "ok"


def status_report() -> Status:
    """Each dependency by name, the outbox backlog, what holds it back, the worker's heartbeat.

    Database, broker (none under `make run`), ClickHouse (a server is pinged; an embedded
    store, which only the worker may open, is judged by the worker's heartbeat) and the worker
    (its heartbeat: none, or a stale one, fails it; with a server, ClickHouse stays judged by
    the ping alone, so a dead worker does not mark it failed). The outbox
    fails when a consumer's claims have stopped because its cursor is ahead of the server (a
    restore or a move to another cluster) until `manage.py outbox rebase-cursor`.
    """
    database_ok = database_is_ready()
    cursors_ahead = outbox_cursors_ahead() if database_ok else []
    heartbeat = worker_heartbeat() if database_ok else None
    unknown = "unknown without the database"
    problems = {
        "database": None if database_ok else "the database does not answer",
        "broker": broker_health(),
        "clickhouse": clickhouse_health(heartbeat=heartbeat) if database_ok else unknown,
        "worker": worker_heartbeat_problem(heartbeat) if database_ok else unknown,
        "outbox": _cursors_ahead_problem(cursors_ahead),
    }
    return Status(
        checks={
            name: "ok" if problem is None else f"failed: {problem}"
            for name, problem in problems.items()
        },
        failed=[name for name, problem in problems.items() if problem is not None],
        outbox=outbox_backlog() if database_ok else [],
        outbox_horizon_holder=outbox_horizon_holder() if database_ok else None,
        outbox_cursors_ahead=cursors_ahead,
        worker_heartbeat=None if heartbeat is None else _heartbeat(heartbeat),
    )


def _cursors_ahead_problem(cursors_ahead: list[CursorAhead]) -> str | None:
    if not cursors_ahead:
        return None
    consumers = ", ".join(ahead.consumer for ahead in cursors_ahead)
    return (
        f"claims stopped for {consumers}: cursor ahead of the server's transaction ids "
        "(run `manage.py outbox rebase-cursor`)"
    )


def _heartbeat(heartbeat: WorkerHeartbeat) -> Heartbeat:
    age = (timezone.now() - heartbeat.checked_at).total_seconds()
    return Heartbeat(
        checked_at=heartbeat.checked_at, age_seconds=round(age, 3), clickhouse_ok=heartbeat.ok
    )
