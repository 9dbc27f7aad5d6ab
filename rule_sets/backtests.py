"""Backtests: created by a request, run by a worker, which replays the kind's stored history.

The rows are the queue. Creating one stores it `running` and asks a worker to run it after
the commit (rule_sets.tasks); a periodic sweep runs any the ask missed. A worker claims a row
whose lease is unset or over with one conditional UPDATE, so two workers never run one
backtest at once (on PostgreSQL and SQLite alike), and renews the lease each time it writes
the progress. A worker that dies leaves its lease to run out: the row is claimed again, and
after BACKTEST_ATTEMPTS_MAX claims it is failed, so no backtest stays `running` for ever.

The replay runs on a thread of its own (its own database connection): whatever transaction it
holds open to read the history, this thread writes the progress, every
BACKTEST_PROGRESS_SECONDS, in autocommit, where requests see it at once.
"""

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from rule_sets.active import rule_set_version
from rule_sets.exceptions import InvalidBacktestWindow
from rule_sets.kinds import rule_set_kind
from rule_sets.models import RuleSetBacktest
from rule_sets.replay import ReplayTally
from rule_sets.selectors import rule_set_active_get, rule_set_version_get

log = structlog.get_logger(__name__)

BACKTEST_DEFAULT_DAYS = 7
BACKTEST_MAX_DAYS = 31
# A claim lasts this long unless renewed; the progress renews it every few seconds.
BACKTEST_LEASE_SECONDS = 60
BACKTEST_PROGRESS_SECONDS = 1.0
BACKTEST_ATTEMPTS_MAX = 3


def backtest_window(
    *, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Return the window [start, end) to replay: by default the BACKTEST_DEFAULT_DAYS before
    `end`, which is by default `now`.

    Raises InvalidBacktestWindow unless start < end and the window spans at most
    BACKTEST_MAX_DAYS. `start` and `end` are aware.
    """
    end = end or (now if start is None else min(start + timedelta(BACKTEST_DEFAULT_DAYS), now))
    start = start or end - timedelta(days=BACKTEST_DEFAULT_DAYS)
    details = {"from": _iso(start), "to": _iso(end)}
    if start >= end:
        raise InvalidBacktestWindow("`from` must be before `to`.", details=details)
    if end - start > timedelta(days=BACKTEST_MAX_DAYS):
        raise InvalidBacktestWindow(
            f"A backtest replays at most {BACKTEST_MAX_DAYS} days.", details=details
        )
    return start, end


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rule_set_backtest_create(
    *,
    kind: str,
    version: int,
    start: datetime | None = None,
    end: datetime | None = None,
    created_by: str,
    wake: bool = True,
) -> RuleSetBacktest:
    """Store a backtest of `version` of `kind` against the active version, `running`.

    Asks a worker to run it once committed, unless not `wake` (the caller runs it). Raises
    RuleSetKindNotFound, RuleSetVersionNotFound and InvalidBacktestWindow.
    """
    from rule_sets.tasks import rule_set_backtest_wake

    candidate = rule_set_version_get(kind=kind, version=version)
    start, end = backtest_window(start=start, end=end, now=timezone.now())
    with transaction.atomic():
        backtest = RuleSetBacktest.objects.create(
            candidate=candidate,
            baseline=rule_set_active_get(kind),
            window_start=start,
            window_end=end,
            created_by=created_by,
        )
        if wake:
            transaction.on_commit(lambda: rule_set_backtest_wake(backtest.pk))
    return backtest


def rule_set_backtests_run_pending() -> int:
    """Run every backtest no worker holds, oldest first; return how many were run."""
    ran = 0
    while (claim := _claim()) is not None:
        _run(claim)
        ran += 1
    return ran


def rule_set_backtest_run(
    backtest_id: uuid.UUID | str, *, on_progress=None
) -> RuleSetBacktest | None:
    """Run backtest `backtest_id` here and now, unless it is finished or another worker has it.

    `on_progress(done, total)` is called with the replay's progress about every
    BACKTEST_PROGRESS_SECONDS (the command prints it).
    Returns the backtest as it ended, or None when it was not this worker's to run.
    """
    claim = _claim(backtest_id)
    if claim is None:
        return None
    return _run(claim, on_progress=on_progress)


@dataclass(frozen=True)
class _Claim:
    backtest: RuleSetBacktest
    token: uuid.UUID


def _claimable() -> Q:
    return Q(status=RuleSetBacktest.Status.RUNNING) & (
        Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now())
    )


def _claim(backtest_id: uuid.UUID | str | None = None) -> _Claim | None:
    """Take the lease of backtest `backtest_id` (or of the oldest claimable one), if free."""
    rows = RuleSetBacktest.objects.filter(_claimable())
    if backtest_id is not None:
        rows = rows.filter(pk=backtest_id)
    while (pk := rows.order_by("created_at").values_list("pk", flat=True).first()) is not None:
        token = uuid.uuid4()
        taken = RuleSetBacktest.objects.filter(_claimable(), pk=pk).update(
            lease_token=token,
            lease_until=timezone.now() + timedelta(seconds=BACKTEST_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
        if not taken:
            continue  # another worker claimed it between the two statements
        backtest = RuleSetBacktest.objects.select_related("candidate", "baseline").get(pk=pk)
        if backtest.attempts <= BACKTEST_ATTEMPTS_MAX:
            return _Claim(backtest, token)
        _finish(
            _Claim(backtest, token),
            status=RuleSetBacktest.Status.FAILED,
            error=f"The worker running it stopped {BACKTEST_ATTEMPTS_MAX} times.",
        )
    return None


def _run(claim: _Claim, *, on_progress=None) -> RuleSetBacktest:
    """Replay the claimed backtest and store its result, or its failure with the reason."""
    backtest = claim.backtest
    kind = backtest.candidate.kind
    log.info("rule_sets.backtest_started", backtest=str(backtest.pk), kind=kind)
    replay = rule_set_kind(kind).replay
    if replay is None:
        return _finish(
            claim,
            status=RuleSetBacktest.Status.FAILED,
            error=f"The {kind} rules have no backtest yet: no replay is registered for them.",
        )
    tally = ReplayTally()
    try:
        arguments = {
            "active": rule_set_version(kind, backtest.baseline.version).rules,
            "candidate": rule_set_version(kind, backtest.candidate.version).rules,
            "start": backtest.window_start,
            "end": backtest.window_end,
            "tally": tally,
        }
    except Exception as exc:  # noqa: BLE001 - a stored version that no longer compiles
        return _finish(claim, status=RuleSetBacktest.Status.FAILED, error=_reason(exc))
    replaying = _ReplayThread(replay, arguments)
    replaying.start()
    while replaying.is_alive():
        replaying.join(BACKTEST_PROGRESS_SECONDS)
        if replaying.is_alive() and not _progress_write(claim, *replaying.done_total):
            log.warning("rule_sets.backtest_lease_lost", backtest=str(backtest.pk))
            replaying.abandon()
            return backtest
        if on_progress is not None:
            on_progress(*replaying.done_total)
    if replaying.error is not None:
        log.error(
            "rule_sets.backtest_failed", backtest=str(backtest.pk), error=_reason(replaying.error)
        )
        return _finish(claim, status=RuleSetBacktest.Status.FAILED, error=_reason(replaying.error))
    return _finish(
        claim,
        status=RuleSetBacktest.Status.DONE,
        result=tally.result(),
        events=tally.events,
        progress=1.0,
    )


def _reason(exc: BaseException) -> str:
    return f"The replay failed: {type(exc).__name__}: {exc}"


class _BacktestAbandoned(Exception):
    """Raised in the replay, at its next progress, once its worker lost the lease."""


class _ReplayThread(threading.Thread):
    """A replay on a thread (and database connection) of its own; its progress and error."""

    def __init__(self, replay, arguments: dict) -> None:
        super().__init__(name="backtest-replay", daemon=True)
        self._replay = replay
        self._arguments = arguments
        self._abandoned = threading.Event()
        self.done_total = (0, 0)
        self.error: BaseException | None = None

    def progress(self, done: int, total: int) -> None:
        if self._abandoned.is_set():
            raise _BacktestAbandoned()
        self.done_total = (done, total)

    def abandon(self) -> None:
        self._abandoned.set()

    def run(self) -> None:
        try:
            self._replay(**self._arguments, progress=self.progress)
        except BaseException as exc:  # noqa: BLE001 - reported as the backtest's failure
            self.error = exc
        finally:
            connections.close_all()


def _held(claim: _Claim):
    return RuleSetBacktest.objects.filter(pk=claim.backtest.pk, lease_token=claim.token)


def _progress_write(claim: _Claim, done: int, total: int) -> bool:
    """Store the progress and renew the lease; False when the lease is no longer ours."""
    return bool(
        _held(claim).update(
            progress=min(done / total, 1.0) if total else 0.0,
            events=done,
            lease_until=timezone.now() + timedelta(seconds=BACKTEST_LEASE_SECONDS),
        )
    )


def _finish(claim: _Claim, *, status: str, **fields) -> RuleSetBacktest:
    """Store how the backtest ended and release the lease (unless another worker holds it)."""
    _held(claim).update(
        status=status, finished_at=timezone.now(), lease_token=None, lease_until=None, **fields
    )
    log.info("rule_sets.backtest_finished", backtest=str(claim.backtest.pk), status=status)
    claim.backtest.refresh_from_db()
    return claim.backtest
