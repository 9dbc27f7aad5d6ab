"""The alerts replay: POST /event's stored transactions judged again under two rule versions.

Every transaction of the stream (alerts.stream) in [start, end) is judged, per user in
(occurred_at, id) order, on the user's history as it stood when it was stored: the user's
earlier transactions, those before `start` included (they feed history, they are not judged).
The rows come from one server-side cursor ordered by (user_id, occurred_at, id), so a user's
history is held in memory (rules.memory.AppendedHistory) and grows one event at a time: no
question is sent to the database per event. A rule the two versions hold alike is evaluated
once. Writes nothing. docs/rules.md, "Backtests: alerts".
"""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from django.db import connection
from psycopg import ServerCursor
from psycopg.pq import Format

from alerts.engine import AlertRuleEngine
from alerts.stream import STREAM_SQL, TRANSACTION_TYPES, stream_q
from events.models import Event
from rule_sets.replay import ReplayTally
from rules.compiled import Compiled, condition_compile
from rules.conditions import Condition
from rules.explain import condition_describe, condition_failure
from rules.history import EventRecord, History
from rules.memory import AppendedHistory
from rules.schema import AlertRule
from users.models import User

T = TypeVar("T")
FETCH_ROWS = 20_000
PROGRESS_EVERY = 100_000
ACTIVE = "active"
CANDIDATE = "candidate"

# The stream's transactions of the users with one in [start, end), their earlier ones too,
# in the order they are replayed. Properties are NULL when empty: nothing to decode.
REPLAY_SQL = f"""
    SELECT id, event_id, user_id, event_type, occurred_at, amount, NULLIF(properties, '{{}}'::jsonb)
    FROM events_event
    WHERE {STREAM_SQL} AND event_type = ANY(%(types)s) AND occurred_at < %(end)s
      AND user_id IN (
        SELECT user_id FROM events_event
        WHERE {STREAM_SQL} AND event_type = ANY(%(types)s)
          AND occurred_at >= %(start)s AND occurred_at < %(end)s
      )
    ORDER BY user_id, occurred_at, id
"""
_JUDGED_COUNT_SQL = f"""
    SELECT count(*) FROM events_event
    WHERE {STREAM_SQL} AND event_type = ANY(%(types)s)
      AND occurred_at >= %(start)s AND occurred_at < %(end)s
"""
_TRAITS_SQL = "SELECT id, traits FROM events_user WHERE id = ANY(%s)"


@dataclass(frozen=True)
class _Judgement:
    """One rule key of one event type: which distinct condition each version evaluates."""

    rule: str
    active: AlertRule | None
    candidate: AlertRule | None
    # Indexes into the event type's distinct conditions; None: the version has no such rule.
    active_at: int | None
    candidate_at: int | None


# Per event type: its distinct conditions, compiled, and its rule keys.
_Plan = tuple[tuple[Compiled, ...], tuple[_Judgement, ...]]


def alerts_replay(
    *,
    active: AlertRuleEngine,
    candidate: AlertRuleEngine,
    start: datetime,
    end: datetime,
    tally: ReplayTally,
    progress: Callable[[int, int], None],
) -> None:
    """Replay the stream's transactions in [start, end) under `active` and `candidate`.

    Reports every event a version matches, per rule (its code as a string), to `tally`; sets
    `tally.events` to the number judged; calls `progress(judged, total)` every
    PROGRESS_EVERY events and at the end. Writes nothing. On PostgreSQL it reads on a
    connection of its own, read-only, so Django's connection is the caller's to write
    progress with; elsewhere (the API's tests on SQLite) through the ORM.
    """
    plans = _plans(active=active, candidate=candidate, tally=tally)
    params = {"types": list(TRANSACTION_TYPES), "start": start, "end": end}
    history = AppendedHistory()
    judged = 0
    user_id = None
    with _replayed(params) as (total, rows):
        for row, traits in rows:
            pk, event_id, row_user, event_type, occurred_at, amount, properties = row
            if row_user != user_id:
                user_id = row_user
                history.clear()
            record = EventRecord(
                event_type=event_type,
                occurred_at=occurred_at,
                amount=amount,
                properties=properties or {},
                user_traits=traits,
                sequence=pk,
            )
            history.append(record)
            if occurred_at < start:
                continue
            judged += 1
            plan = plans.get(event_type)
            if plan is not None:
                _judge(
                    plan,
                    record=record,
                    history=history,
                    event_id=event_id,
                    user_id=row_user,
                    tally=tally,
                )
            if judged % PROGRESS_EVERY == 0:
                progress(judged, total)
    tally.events = judged
    progress(judged, total)


@contextmanager
def _replayed(params: dict[str, Any]) -> Iterator[tuple[int, Iterator[tuple[tuple, Any]]]]:
    """Yield the number of transactions to judge and REPLAY_SQL's rows, each with its traits."""
    if connection.vendor != "postgresql":
        yield _orm_rows(params)
        return
    with replay_connection() as reading:
        [(total,)] = reading.execute(_JUDGED_COUNT_SQL, params).fetchall()
        yield total, _stream_rows(reading, params)


def _orm_rows(params: dict[str, Any]) -> tuple[int, Iterator[tuple[tuple, Any]]]:
    """Return the count and rows `_replayed` yields, read through the ORM (not PostgreSQL)."""
    stream = Event.objects.filter(stream_q(), event_type__in=params["types"])
    judged = stream.filter(occurred_at__gte=params["start"], occurred_at__lt=params["end"])
    rows = (
        stream.filter(occurred_at__lt=params["end"], user_id__in=judged.values("user_id"))
        .order_by("user_id", "occurred_at", "id")
        .values_list(
            "id", "event_id", "user_id", "event_type", "occurred_at", "amount", "properties"
        )
    )
    traits = dict(User.objects.filter(id__in=judged.values("user_id")).values_list("id", "traits"))
    return judged.count(), ((row, traits[row[2]]) for row in rows.iterator(FETCH_ROWS))


@contextmanager
def replay_connection() -> Iterator[psycopg.Connection]:
    """Open a read-only connection to Django's database, in a transaction, for the replay.

    The replay reads for minutes; on a connection of its own, Django's stays out of its
    transaction, free for the caller to write progress that others see at once. Times and JSON
    are decoded by psycopg's own loaders (in C, and JSON decoded), not the ones Django
    registers (a Python subclass for times: a tenth of the replay's time; JSON left as text).
    """
    with psycopg.connect(**connection.get_connection_params()) as reading:
        reading.read_only = True
        for name in ("timestamptz", "jsonb"):
            oid = psycopg.postgres.types[name].oid
            reading.adapters.register_loader(name, psycopg.adapters.get_loader(oid, Format.TEXT))
        yield reading


@contextmanager
def replay_rows(reading: psycopg.Connection, params: dict[str, Any]) -> Iterator[ServerCursor]:
    """Open a server-side cursor over REPLAY_SQL's rows on `reading` (replay_connection)."""
    with reading.cursor(name="alerts_replay") as rows:
        rows.execute(REPLAY_SQL, params)
        yield rows


def _stream_rows(
    reading: psycopg.Connection, params: dict[str, Any]
) -> Iterator[tuple[tuple, dict[str, Any]]]:
    """Yield REPLAY_SQL's rows with their user's traits.

    The rows come FETCH_ROWS at a time, each fetch made in a thread while the rows of the
    previous one are judged (`_prefetched`).
    """
    with replay_rows(reading, params) as rows, reading.cursor() as users:
        for batch, traits in _prefetched(_batches(rows, users)):
            for row in batch:
                yield row, traits[row[2]]


def _batches(rows: ServerCursor, users: Any) -> Iterator[tuple[list[tuple], dict[int, Any]]]:
    """Yield each fetch of `rows` with the traits of its users.

    A transaction's record carries the user's traits as POST /event reads them: the user's
    row (transactions store none of their own). The traits of a fetch's users not in the
    previous fetch are read in one query.
    """
    traits: dict[int, Any] = {}
    while batch := rows.fetchmany(FETCH_ROWS):
        here = {row[2] for row in batch}
        known = {user: traits[user] for user in here & traits.keys()}
        if wanted := here - known.keys():
            users.execute(_TRAITS_SQL, [list(wanted)])
            known.update(users.fetchall())
        traits = known
        yield batch, traits


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """Yield `items`, each next one taken in a thread while the caller works on the last.

    The thread mostly waits for PostgreSQL (psycopg releases the GIL meanwhile), so the
    replay's wall time is about the larger of PostgreSQL's and Python's, not their sum. One
    item is taken at a time, so `items` is never advanced by two threads at once; its errors
    are raised here.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-replay") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


def _plans(
    *, active: AlertRuleEngine, candidate: AlertRuleEngine, tally: ReplayTally
) -> dict[str, _Plan]:
    """Return, per event type, its distinct conditions and its rule keys; name every rule.

    Rules of one event type with equal conditions (frozen dataclasses compare by value), such
    as a rule both versions hold alike, share one condition, compiled (rules.compiled) and
    evaluated once per event.
    """
    by_key: dict[str, dict[str, AlertRule]] = {}
    for version, engine in ((ACTIVE, active), (CANDIDATE, candidate)):
        for rule in engine.rules:
            by_key.setdefault(str(rule.code), {})[version] = rule
    plans: dict[str, tuple[list[Condition], list[_Judgement]]] = {}
    for key in sorted(by_key, key=int):
        tally.rule(key)
        rules = by_key[key]
        for event_type in sorted({rule.event_type for rule in rules.values()}):
            conditions, judgements = plans.setdefault(event_type, ([], []))
            at: dict[str, int | None] = {}
            for version in (ACTIVE, CANDIDATE):
                rule = rules.get(version)
                if rule is None or rule.event_type != event_type:
                    at[version] = None
                    continue
                if rule.condition not in conditions:
                    conditions.append(rule.condition)
                at[version] = conditions.index(rule.condition)
            judgements.append(
                _Judgement(
                    rule=key,
                    active=rules.get(ACTIVE),
                    candidate=rules.get(CANDIDATE),
                    active_at=at[ACTIVE],
                    candidate_at=at[CANDIDATE],
                )
            )
    return {
        event_type: (tuple(condition_compile(item) for item in conditions), tuple(judgements))
        for event_type, (conditions, judgements) in plans.items()
    }


def _judge(
    plan: _Plan,
    *,
    record: EventRecord,
    history: AppendedHistory,
    event_id: str,
    user_id: int,
    tally: ReplayTally,
) -> None:
    """Evaluate the event type's conditions once each and report the keys either version matches."""
    conditions, judgements = plan
    passed = [condition(record, history) for condition in conditions]
    for judgement in judgements:
        matched_active = judgement.active_at is not None and passed[judgement.active_at]
        matched_candidate = judgement.candidate_at is not None and passed[judgement.candidate_at]
        if not (matched_active or matched_candidate):
            continue
        tally.judged(
            rule=judgement.rule,
            event_id=event_id,
            user_id=user_id,
            active=matched_active,
            candidate=matched_candidate,
            why=lambda judgement=judgement, matched_candidate=matched_candidate: _why(
                judgement, candidate_matched=matched_candidate, record=record, history=history
            ),
        )


def _why(
    judgement: _Judgement, *, candidate_matched: bool, record: EventRecord, history: History
) -> str:
    """Return why the versions differ on the event: what held under the one that matched, in
    the rule core's words (rules.explain), and why the other's rule did not."""
    if candidate_matched:
        matched, other, other_version = judgement.candidate, judgement.active, ACTIVE
        version = CANDIDATE
    else:
        matched, other, other_version = judgement.active, judgement.candidate, CANDIDATE
        version = ACTIVE
    assert matched is not None
    held = f"{version}: {condition_describe(matched.condition)} holds"
    if other is None:
        return f"{held}; {other_version}: has no rule {judgement.rule}"
    if other.event_type != record.event_type:
        return f"{held}; {other_version}: rule {judgement.rule} is about {other.event_type}"
    failure = condition_failure(other.condition, event=record, history=history)
    return f"{held}; {other_version}: {failure}"
