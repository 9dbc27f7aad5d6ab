"""Writes of the alerts app: a deposit or withdraw stored, and the alerts it raises."""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from alerts.engine import alert_rules_planned, alert_rules_seen
from alerts.exceptions import DuplicateTimestamp, TimestampOutOfOrder
from alerts.models import Alert
from alerts.pipeline import (
    PipelinedTransaction,
    TransactionEvent,
    pipelined_transaction_run,
    transaction_alerts_queue,
    transaction_event_insert,
)
from alerts.stream import TRANSACTION_TYPES, stream_q
from events.exceptions import UnknownUser
from events.history import UserEventHistory, event_record
from events.models import TRANSACTION_SOURCE, Event
from midnite_test.prometheus import alerts_raised_count
from rule_sets.active import rule_set_active
from rule_sets.models import KIND_ALERTS
from rules.history import EventRecord, History
from rules.plan import PlannedHistory
from users.models import DEFAULT_TENANT, User


@dataclass(frozen=True, kw_only=True)
class TransactionOutcome:
    user_id: int
    alert_codes: tuple[int, ...]


def transaction_event_id(*, user_id: int, t: int) -> str:
    """Return the idempotency key of a user's transaction at `t`."""
    return f"txn:{user_id}:{t}"


def transaction_ingest(
    *, user_id: int, event_type: str, amount: Decimal, t: int
) -> TransactionOutcome:
    """Store a deposit or withdraw and return the alert codes it raises.

    The user's row is locked for the evaluation, so concurrent transactions of one user are
    evaluated one at a time against a consistent history. Writes one Event and its Alerts in
    one transaction; the event log's consumers read them on their tick (outbox.logs). The exact
    same transaction sent again returns the stored codes and writes nothing.

    The event is judged by the version of the alert rules active when its transaction reads
    it, after the user's lock; each Alert records that version (`rules_version`).

    On PostgreSQL the transaction takes two round trips (alerts.pipeline); other
    databases run the same steps one statement at a time.

    Raises UnknownUser, TimestampOutOfOrder (t below the user's latest) and
    DuplicateTimestamp (t already used with a different type or amount).
    """
    # Looked up once: each read through `django.db.connection` looks it up again in Django's
    # per-thread store, a few microseconds each.
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor == "postgresql":
        return _transaction_ingest_pipelined(
            database, user_id=user_id, event_type=event_type, amount=amount, t=t
        )
    return _transaction_ingest_plain(user_id=user_id, event_type=event_type, amount=amount, t=t)


def _transaction_ingest_pipelined(
    database: BaseDatabaseWrapper, *, user_id: int, event_type: str, amount: Decimal, t: int
) -> TransactionOutcome:
    planned = alert_rules_planned()
    now = timezone.now()
    event = TransactionEvent(
        tenant_id=DEFAULT_TENANT,
        event_id=transaction_event_id(user_id=user_id, t=t),
        user_id=user_id,
        event_type=event_type,
        source=TRANSACTION_SOURCE,
        occurred_at=datetime.fromtimestamp(t, tz=UTC),
        amount=amount,
        received_at=now,
    )
    record = EventRecord(event_type=event_type, occurred_at=event.occurred_at, amount=amount)
    questions = planned.rules.plan(event_type).questions(record)

    def body(pipelined: PipelinedTransaction) -> TransactionOutcome:
        inserted = transaction_event_insert(
            pipelined=pipelined,
            event=event,
            transaction_types=TRANSACTION_TYPES,
            questions=questions,
        )
        if inserted.user_traits is None:
            raise _unknown_user(user_id)
        if inserted.event_pk is None:
            return _transaction_not_new(user_id=user_id, event_type=event_type, amount=amount, t=t)
        user_traits = inserted.user_traits
        stored = EventRecord(
            event_type=event_type,
            occurred_at=event.occurred_at,
            amount=amount,
            properties={},
            user_traits=user_traits,
            sequence=inserted.event_pk,
        )
        fallback = _HistoryWhenAsked(
            lambda: UserEventHistory(
                user_id=user_id,
                anchor=_event_in_memory(
                    pk=stored.sequence, user_id=user_id, event_type=event_type, amount=amount, t=t
                ),
                user_traits=user_traits,
                scope=stream_q(),
            )
        )
        # Judged by the version active now; if another was planned with, what its plan did
        # not foresee is asked of the fallback.
        active = alert_rules_seen(inserted.active_rules)
        codes = active.rules.evaluate(
            event=stored, history=PlannedHistory(answers=inserted.answers, fallback=fallback)
        )
        transaction_alerts_queue(
            pipelined=pipelined,
            event_pk=stored.sequence,
            codes=codes,
            rules_version=active.version,
            created_at=now,
        )
        pipelined.on_commit.append(lambda: alerts_raised_count(codes))
        return TransactionOutcome(user_id=user_id, alert_codes=codes)

    return pipelined_transaction_run(body, database=database)


@transaction.atomic(durable=True)
def _transaction_ingest_plain(
    *, user_id: int, event_type: str, amount: Decimal, t: int
) -> TransactionOutcome:
    locked = (
        User.objects.select_for_update(no_key=True)
        .filter(pk=user_id)
        .values_list("traits", flat=True)
    )
    user_traits = locked.first()
    if user_traits is None:
        raise _unknown_user(user_id)
    occurred_at = datetime.fromtimestamp(t, tz=UTC)
    if _latest_transaction_at(user_id) >= occurred_at:
        return _transaction_not_new(user_id=user_id, event_type=event_type, amount=amount, t=t)
    event = _event_in_memory(pk=None, user_id=user_id, event_type=event_type, amount=amount, t=t)
    event.save(force_insert=True)
    history = UserEventHistory(
        user_id=user_id, anchor=event, user_traits=user_traits, scope=stream_q()
    )
    record = event_record(event, user_traits=user_traits)
    active = rule_set_active(KIND_ALERTS)
    codes = active.rules.evaluate(event=record, history=history)
    Alert.objects.bulk_create(
        [Alert(event=event, code=code, rules_version=active.version) for code in codes]
    )
    transaction.on_commit(lambda: alerts_raised_count(codes))
    return TransactionOutcome(user_id=user_id, alert_codes=codes)


class _HistoryWhenAsked:
    """A user's history from the ORM (`UserEventHistory`), made only when first asked.

    The transaction's plan answers every question its rules ask (alerts.pipeline), so this is
    asked only after an activation, by an event planned with the version before; making it
    up front (a model instance for its anchor, a Q) cost about 5 % of POST /event's CPU.
    """

    def __init__(self, make: Callable[[], History]) -> None:
        self._make = make

    @functools.cached_property
    def _history(self) -> History:
        return self._make()

    def last(self, **question: Any) -> Sequence[EventRecord]:
        return self._history.last(**question)

    def aggregate(self, **question: Any) -> Decimal | None:
        return self._history.aggregate(**question)

    def exists(self, **question: Any) -> bool:
        return self._history.exists(**question)


def _unknown_user(user_id: int) -> UnknownUser:
    return UnknownUser(f"User {user_id} does not exist.", details={"user_id": user_id})


_NEVER = datetime.min.replace(tzinfo=UTC)


def _latest_transaction_at(user_id: int) -> datetime:
    """Return the time of the user's latest transaction in the stream: one query per type, in the
    stream index's order (alerts.stream; on PostgreSQL, inside the transaction that priced sorts
    out)."""
    latest = [
        Event.objects.filter(stream_q(), user_id=user_id, event_type=event_type)
        .order_by("-occurred_at", "-id")
        .values_list("occurred_at", flat=True)
        .first()
        for event_type in TRANSACTION_TYPES
    ]
    return max((at for at in latest if at is not None), default=_NEVER)


def _event_in_memory(
    *, pk: int | None, user_id: int, event_type: str, amount: Decimal, t: int
) -> Event:
    """Return the transaction's Event as stored (`pk` None: not stored yet)."""
    return Event(
        pk=pk,
        tenant_id=DEFAULT_TENANT,
        event_id=transaction_event_id(user_id=user_id, t=t),
        user_id=user_id,
        event_type=event_type,
        source=TRANSACTION_SOURCE,
        occurred_at=datetime.fromtimestamp(t, tz=UTC),
        amount=amount,
        properties={},
    )


def _transaction_not_new(
    *, user_id: int, event_type: str, amount: Decimal, t: int
) -> TransactionOutcome:
    """Answer a transaction whose `t` is not after the user's latest, with the user locked."""
    latest = _latest_transaction_at(user_id)
    return _transaction_replay(
        user_id=user_id,
        event_type=event_type,
        amount=amount,
        t=t,
        latest=datetime.fromtimestamp(t, tz=UTC) == latest,
    )


def _transaction_replay(
    *, user_id: int, event_type: str, amount: Decimal, t: int, latest: bool
) -> TransactionOutcome:
    """Answer a transaction whose `t` is not after the user's latest.

    Only the latest `t` can be a replay (the same request: 200) or a conflict (409); an
    earlier `t` is out of order, even when it was used before.
    """
    event_id = transaction_event_id(user_id=user_id, t=t)
    # By its unique key alone, and without a LIMIT: a planner that cannot tell how many rows
    # match may expect a LIMIT to end a scan early, and scan instead of probing the key.
    stored = next(iter(Event.objects.filter(tenant_id=DEFAULT_TENANT, event_id=event_id)), None)
    if stored is None or stored.source != TRANSACTION_SOURCE or not latest:
        raise TimestampOutOfOrder(
            f"t={t} is before user {user_id}'s latest transaction; t must increase per user.",
            details={"t": t},
        )
    if stored.event_type != event_type or stored.amount != amount:
        raise DuplicateTimestamp(
            f"User {user_id} already sent a different transaction at t={t}.",
            details={"t": t, "stored": {"type": stored.event_type, "amount": str(stored.amount)}},
        )
    codes = tuple(stored.alerts.order_by("code").values_list("code", flat=True))
    return TransactionOutcome(user_id=user_id, alert_codes=codes)
