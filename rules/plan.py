"""The history questions a rule set will ask about an event, known before it is evaluated.

A store answers a plan's questions in one batch (on PostgreSQL in the same round trip that
stores the event), and `PlannedHistory` serves the rule core from those answers. A question the
plan could not foresee goes to an on-demand `History`: history asked inside a sequence's `match`
(its window is around each matched event, not the anchor), and condition kinds this module does
not know. A plan may ask more than the evaluation needs (`any` stops at the first condition that
passes); it never changes an answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Sequence as Ordered
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rules.conditions import AllOf, AnyOf, Condition, Not, Proximity, Sequence, WindowAggregate
from rules.history import AggregateFunction, EventFilter, EventRecord, History
from rules.schema import AlertRule


@dataclass(frozen=True, kw_only=True)
class LastQuestion:
    """`History.last`: the newest `count` matching events up to and including the anchor."""

    count: int
    events: EventFilter


@dataclass(frozen=True, kw_only=True)
class AggregateQuestion:
    """`History.aggregate` over matching events with start <= occurred_at <= end."""

    function: AggregateFunction
    path: str
    events: EventFilter
    start: datetime
    end: datetime


@dataclass(frozen=True, kw_only=True)
class ExistsQuestion:
    """`History.exists`: a matching event other than the anchor in [start, end]."""

    events: EventFilter
    start: datetime
    end: datetime


Question = LastQuestion | AggregateQuestion | ExistsQuestion
Answer = Ordered[EventRecord] | Decimal | bool | None
_Asking = Sequence | WindowAggregate | Proximity


@dataclass(frozen=True)
class HistoryPlan:
    """The conditions of one event type's rules that ask history about the anchor."""

    asking: tuple[_Asking, ...]

    def questions(self, event: EventRecord) -> tuple[Question, ...]:
        """Return the questions evaluating `event` will ask, each once.

        `last` questions about the same events are merged into the one with the largest
        count: a shorter one is its prefix.
        """
        counts: dict[EventFilter, int] = {}
        others: dict[Question, None] = {}
        for condition in self.asking:
            if isinstance(condition, Sequence):
                counts[condition.events] = max(counts.get(condition.events, 0), condition.count)
            elif isinstance(condition, WindowAggregate):
                start, end = condition.window.bounds(event.occurred_at)
                question: Question = AggregateQuestion(
                    function=condition.function,
                    path=condition.path,
                    events=condition.events,
                    start=start,
                    end=end,
                )
                others[question] = None
            else:
                start, end = condition.window.bounds(event.occurred_at)
                others[ExistsQuestion(events=condition.events, start=start, end=end)] = None
        lasts = tuple(LastQuestion(count=count, events=events) for events, count in counts.items())
        return lasts + tuple(others)


def history_plan(*, rules: Iterable[AlertRule], event_type: str) -> HistoryPlan:
    """Return the plan of the history questions `rules` ask about an event of `event_type`."""
    return HistoryPlan(
        tuple(
            condition
            for rule in rules
            if rule.event_type == event_type
            for condition in _asking(rule.condition)
        )
    )


def _asking(condition: Condition) -> Iterator[_Asking]:
    """Yield the conditions under `condition` that ask history about the anchor itself."""
    if isinstance(condition, (Sequence, WindowAggregate, Proximity)):
        # A sequence's `match` is evaluated on each matched event: not foreseeable.
        yield condition
    elif isinstance(condition, (AllOf, AnyOf)):
        for item in condition.conditions:
            yield from _asking(item)
    elif isinstance(condition, Not):
        yield from _asking(condition.condition)


class PlannedHistory:
    """A `History` that answers from a plan's answers and asks `fallback` anything else."""

    def __init__(self, *, answers: Mapping[Question, Answer], fallback: History) -> None:
        self._answers = answers
        self._lasts = {
            question.events: (question.count, answer)
            for question, answer in answers.items()
            if isinstance(question, LastQuestion)
        }
        self._fallback = fallback

    def last(self, *, count: int, events: EventFilter) -> Ordered[EventRecord]:
        planned = self._lasts.get(events)
        if planned is not None and planned[0] >= count and isinstance(planned[1], Ordered):
            return planned[1][:count]
        return self._fallback.last(count=count, events=events)

    def aggregate(
        self,
        *,
        function: AggregateFunction,
        path: str,
        events: EventFilter,
        start: datetime,
        end: datetime,
    ) -> Decimal | None:
        question = AggregateQuestion(
            function=function, path=path, events=events, start=start, end=end
        )
        if question in self._answers:
            answer = self._answers[question]
            return answer if isinstance(answer, Decimal) else None
        return self._fallback.aggregate(
            function=function, path=path, events=events, start=start, end=end
        )

    def exists(self, *, events: EventFilter, start: datetime, end: datetime) -> bool:
        question = ExistsQuestion(events=events, start=start, end=end)
        if question in self._answers:
            return bool(self._answers[question])
        return self._fallback.exists(events=events, start=start, end=end)
