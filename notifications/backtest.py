"""Replay stored product events under two versions of the notification rules: a backtest.

Each event the notifications consumer would evaluate (a user's, of a type some rule of either
version triggers on) is judged, per user in time order, as live evaluation judges it: the
rule's condition against the history as evaluation asks it (notifications.history), then the
opt-out, the address, the limit, the delay, the quiet hours and the maximum event age
(notifications.admission), at the moment the event was stored. Limits count the version's own
simulated sends, in memory, warmed up with the events before the window that the limits reach.
Nothing is written and nothing is sent. docs/rules.md, "Backtests: notifications".
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice

from django.db.models import Q

from events.models import Event
from notifications.admission import LimitCounts, Suppressed, notification_admit
from notifications.config import NotificationConfig
from notifications.history import BatchHistories, Lookback, condition_lookback, lookback_union
from rule_sets.replay import ReplayTally
from rules.explain import condition_describe, condition_failure
from rules.history import EventRecord, History
from rules.schema import NotificationRule
from users.models import User

ACTIVE = "active"
CANDIDATE = "candidate"
SENT = "sent"
# Events read and judged together: one query for their users, one for their histories.
CHUNK_SIZE = 1000
# How far before an event a calendar day's limit reaches: to the local midnight before it,
# 25 hours at most (a day that ends daylight saving time).
_CALENDAR_DAY_REACH = timedelta(hours=25)


@dataclass(frozen=True)
class _Judged:
    """One rule of one version on one event: whether it matched, and what came of it."""

    rule: NotificationRule
    record: EventRecord
    history: History
    matched: bool
    outcome: str | None


class _Judging:
    """An event as both versions judge it: its record, its traits and its histories, each
    made once and only when a rule asks for it."""

    def __init__(self, event: Event, user: User, histories: BatchHistories) -> None:
        self.event = event
        self.user = user
        self.traits = event.user_traits or user.traits
        self.record = histories.record(event)
        self._histories = histories

    @cached_property
    def preloaded(self) -> History:
        return self._histories.preloaded(self.event)

    @cached_property
    def store(self) -> History:
        return self._histories.store(self.event, user_traits=self.traits)


class _Version:
    """One version's rules as the replay runs them, with the sends it simulated."""

    def __init__(self, config: NotificationConfig) -> None:
        self.config = config
        self.lookbacks = {rule.name: condition_lookback(rule.condition) for rule in config.rules}
        self.limits = LimitCounts()
        self.limited_types = {
            rule.notification_type for rule in config.rules if rule.debounce.limit is not None
        }

    def judge(self, judging: _Judging, *, only_limited: bool = False) -> list[_Judged]:
        """Judge the event under each rule it triggers (`only_limited`: those whose sends
        count against a limit), as live evaluation does when the event is stored."""
        judged = []
        for rule in self.config.rules_for(judging.event.event_type):
            if only_limited and rule.notification_type not in self.limited_types:
                continue
            bounded = self.lookbacks[rule.name] is not None
            history = judging.preloaded if bounded else judging.store
            matched = rule.condition.passes(event=judging.record, history=history)
            outcome = self._outcome(rule, judging) if matched else None
            judged.append(_Judged(rule, judging.record, history, matched, outcome))
        return judged

    def _outcome(self, rule: NotificationRule, judging: _Judging) -> str:
        admitted = notification_admit(
            rule=rule,
            template=self.config.templates[rule.notification_type],
            user_id=judging.user.pk,
            email=judging.user.email,
            account_traits=judging.traits,
            traits=judging.traits,
            occurred_at=judging.event.occurred_at,
            now=judging.event.received_at,
            limits=self.limits,
        )
        if isinstance(admitted, Suppressed):
            return f"suppressed: {admitted.outcome}"
        return SENT


def notification_replay(
    *,
    active: NotificationConfig,
    candidate: NotificationConfig,
    start: datetime,
    end: datetime,
    tally: ReplayTally,
    progress: Callable[[int, int], None],
) -> None:
    """Replay the product events in [start, end) under `active` and `candidate` into `tally`.

    The rule key is the notification type. Reads the events, their users and their
    histories; writes nothing.
    """
    versions = {ACTIVE: _Version(active), CANDIDATE: _Version(candidate)}
    for config in (active, candidate):
        for rule in config.rules:
            tally.rule(rule.notification_type)
    in_window = _in_window(active.event_types | candidate.event_types, start, end)
    total = Event.objects.filter(in_window).count()
    progress(0, total)
    lookback = lookback_union(
        lookback
        for version in versions.values()
        for lookback in version.lookbacks.values()
        if lookback is not None
    )
    events = Event.objects.filter(in_window | _warm_up(versions.values(), start))
    replayed = 0
    user_id = None
    for chunk in _chunks(events.order_by("user_id", "occurred_at", "id").iterator(CHUNK_SIZE)):
        users, histories = _chunk_context(chunk, lookback)
        for event in chunk:
            if event.user_id != user_id:
                # Limits are a user's own: the previous user's sends are counted no more.
                user_id = event.user_id
                for version in versions.values():
                    version.limits = LimitCounts()
            judging = _Judging(event, users[event.user_id], histories)
            if event.occurred_at < start:
                for version in versions.values():
                    version.judge(judging, only_limited=True)
                continue
            _tally(tally, event, {name: v.judge(judging) for name, v in versions.items()})
            replayed += 1
        progress(replayed, total)
    tally.events = replayed


def _in_window(event_types: Iterable[str], start: datetime, end: datetime) -> Q:
    """Return the events the consumer would evaluate in [start, end)."""
    return Q(
        user__isnull=False,
        event_type__in=sorted(event_types),
        occurred_at__gte=start,
        occurred_at__lt=end,
    )


def _warm_up(versions: Iterable["_Version"], start: datetime) -> Q:
    """Return the events before `start` whose sends count against a limit some event in the
    window is judged by: those of the limited types' rules, as far back as the limits reach
    (every earlier one for a limit of "ever")."""
    event_types: set[str] = set()
    reach = timedelta(0)
    for version in versions:
        for rule in version.config.rules:
            if rule.notification_type not in version.limited_types:
                continue
            event_types.add(rule.event_type)
            debounce = rule.debounce
            if debounce.limit is None:
                continue
            if debounce.period_seconds is None:
                reach = timedelta.max
            elif debounce.calendar_day:
                reach = max(reach, _CALENDAR_DAY_REACH)
            else:
                reach = max(reach, timedelta(seconds=debounce.period_seconds))
    if not event_types:
        return Q(pk__in=[])
    since = Q() if reach == timedelta.max else Q(occurred_at__gte=start - reach)
    return Q(since, user__isnull=False, event_type__in=sorted(event_types), occurred_at__lt=start)


def _chunks(events: Iterator[Event]) -> Iterator[list[Event]]:
    while chunk := list(islice(events, CHUNK_SIZE)):
        yield chunk


def _chunk_context(
    chunk: list[Event], lookback: Lookback
) -> tuple[dict[int, User], BatchHistories]:
    """Return the users of `chunk`'s events, by id, and the events' histories."""
    users = {
        user.pk: user
        for user in User.objects.filter(pk__in={event.user_id for event in chunk}).only(
            "email", "traits"
        )
    }
    traits = {pk: user.traits for pk, user in users.items()}
    return users, BatchHistories(chunk, lookback, traits=traits)


def _tally(tally: ReplayTally, event: Event, judged: dict[str, list[_Judged]]) -> None:
    """Report each notification type `event` triggers: which version matched, and outcomes."""
    by_type: dict[str, dict[str, list[_Judged]]] = {}
    for version, items in judged.items():
        for item in items:
            by_type.setdefault(item.rule.notification_type, {ACTIVE: [], CANDIDATE: []})
            by_type[item.rule.notification_type][version].append(item)
    for notification_type, versions in by_type.items():
        matched = {
            version: any(item.matched for item in items) for version, items in versions.items()
        }
        tally.judged(
            rule=notification_type,
            event_id=event.event_id,
            user_id=event.user_id,
            active=matched[ACTIVE],
            candidate=matched[CANDIDATE],
            why=lambda versions=versions, matched=matched: _why(event, versions, matched),
        )
        for version, items in versions.items():
            for item in items:
                if item.outcome is not None:
                    tally.outcome(rule=notification_type, version=version, outcome=item.outcome)


def _why(event: Event, versions: dict[str, list[_Judged]], matched: dict[str, bool]) -> str:
    """Say why one version matched and the other did not, in the rule core's sentences: what
    the matching rule requires, and why the other version's rule did not match."""
    winner = CANDIDATE if matched[CANDIDATE] else ACTIVE
    loser = ACTIVE if winner == CANDIDATE else CANDIDATE
    match = next(item for item in versions[winner] if item.matched)
    held = (
        f"the {winner} rule {match.rule.name} matches ({condition_describe(match.rule.condition)})"
    )
    if not versions[loser]:
        return (
            f"{held}; the {loser} rules send no {match.rule.notification_type} "
            f"on {event.event_type} events"
        )
    failures = "; ".join(f"{item.rule.name}: {_failure(item)}" for item in versions[loser])
    return f"{held}; the {loser} rule does not: {failures}"


def _failure(judged: _Judged) -> str:
    """Return the sentence a decision records for a rule that did not match (the audit's)."""
    # Not None: the rule did not match.
    return (
        condition_failure(judged.rule.condition, event=judged.record, history=judged.history) or ""
    )
