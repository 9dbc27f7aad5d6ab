"""Tests of the history plan: the questions stated up front, and `PlannedHistory`'s answers."""

from decimal import Decimal

from rules.evaluator import alert_codes_evaluate
from rules.history import EventFilter, EventRecord, History
from rules.memory import InMemoryHistory
from rules.parser import alert_rules_parse
from rules.plan import (
    AggregateQuestion,
    ExistsQuestion,
    LastQuestion,
    PlannedHistory,
    Question,
    history_plan,
)
from rules.tests.records import at, record
from rules.tests.test_default_alert_rules import DEFAULT_RULES

TRANSACTIONS = EventFilter(event_types=frozenset({"deposit", "withdraw"}))
DEPOSITS = EventFilter(event_types=frozenset({"deposit"}))


def answers(history: History, questions: tuple[Question, ...]) -> dict:
    """Answer each question from `history`, as a store answers a batch."""
    answered: dict = {}
    for question in questions:
        if isinstance(question, LastQuestion):
            answered[question] = history.last(count=question.count, events=question.events)
        elif isinstance(question, AggregateQuestion):
            answered[question] = history.aggregate(
                function=question.function,
                path=question.path,
                events=question.events,
                start=question.start,
                end=question.end,
            )
        else:
            answered[question] = history.exists(
                events=question.events, start=question.start, end=question.end
            )
    return answered


class CountingHistory:
    """Pass every question to `history` and count them: what reaches the fallback."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.asked: list[str] = []

    def last(self, **kwargs):
        self.asked.append("last")
        return self.history.last(**kwargs)

    def aggregate(self, **kwargs):
        self.asked.append("aggregate")
        return self.history.aggregate(**kwargs)

    def exists(self, **kwargs):
        self.asked.append("exists")
        return self.history.exists(**kwargs)


def test_the_default_rules_plan_one_last_and_one_sum_for_a_deposit():
    event = record("deposit", t=100, amount="10")

    questions = history_plan(rules=DEFAULT_RULES, event_type="deposit").questions(event)

    assert questions == (
        LastQuestion(count=3, events=DEPOSITS),
        AggregateQuestion(
            function="sum", path="amount", events=DEPOSITS, start=at(70), end=at(100)
        ),
    )


def test_the_default_rules_plan_one_last_for_a_withdraw():
    event = record("withdraw", t=100, amount="10")

    questions = history_plan(rules=DEFAULT_RULES, event_type="withdraw").questions(event)

    assert questions == (LastQuestion(count=3, events=TRANSACTIONS),)


def test_lasts_about_the_same_events_merge_into_the_longest_and_combinators_are_walked():
    rules = alert_rules_parse("""
        version: 1
        rules:
          - code: 1
            name: nested
            event_type: deposit
            condition:
              any:
                - {type: sequence, count: 2, event_types: [deposit], increasing: amount}
                - not:
                    all:
                      - {type: sequence, count: 5, event_types: [deposit], increasing: amount}
                      - type: proximity
                        event_types: [withdraw]
                        window: {before_seconds: 10, after_seconds: 5}
        """)
    event = record("deposit", t=100, amount="10")

    questions = history_plan(rules=rules, event_type="deposit").questions(event)

    withdraws = EventFilter(event_types=frozenset({"withdraw"}))
    assert questions == (
        LastQuestion(count=5, events=DEPOSITS),
        ExistsQuestion(events=withdraws, start=at(90), end=at(105)),
    )


def test_other_event_types_rules_ask_nothing():
    event = record("login", t=100)

    assert history_plan(rules=DEFAULT_RULES, event_type="login").questions(event) == ()


def test_planned_answers_raise_the_same_codes_as_the_history_and_ask_it_nothing():
    steps = [("deposit", "10"), ("deposit", "20"), ("withdraw", "150"), ("deposit", "190")]
    steps += [("withdraw", "5"), ("withdraw", "6"), ("withdraw", "7"), ("deposit", "300")]
    stored: list[EventRecord] = []
    for sequence, (event_type, amount) in enumerate(steps, start=1):
        event = record(event_type, t=sequence * 5, amount=amount, sequence=sequence)
        stored.append(event)
        history = InMemoryHistory(events=stored, anchor=event)
        plan = history_plan(rules=DEFAULT_RULES, event_type=event_type)
        fallback = CountingHistory(history)
        planned = PlannedHistory(answers=answers(history, plan.questions(event)), fallback=fallback)

        codes = alert_codes_evaluate(rules=DEFAULT_RULES, event=event, history=planned)

        assert codes == alert_codes_evaluate(rules=DEFAULT_RULES, event=event, history=history)
        assert fallback.asked == []


def test_history_inside_a_sequence_match_goes_to_the_fallback():
    rules = alert_rules_parse("""
        version: 1
        rules:
          - code: 7
            name: two_deposits_each_with_a_withdraw_nearby
            event_type: deposit
            condition:
              type: sequence
              count: 2
              event_types: [deposit]
              match:
                type: proximity
                event_types: [withdraw]
                window: {before_seconds: 3}
        """)
    stored = [
        record("withdraw", t=9, amount="1", sequence=1),
        record("deposit", t=10, amount="1", sequence=2),
        record("withdraw", t=19, amount="1", sequence=3),
        record("deposit", t=20, amount="1", sequence=4),
    ]
    event = stored[-1]
    history = InMemoryHistory(events=stored, anchor=event)
    plan = history_plan(rules=rules, event_type="deposit")
    fallback = CountingHistory(history)
    planned = PlannedHistory(answers=answers(history, plan.questions(event)), fallback=fallback)

    assert alert_codes_evaluate(rules=rules, event=event, history=planned) == (7,)
    assert fallback.asked == ["exists", "exists"]


def test_a_shorter_last_is_the_prefix_of_the_planned_one_and_a_longer_one_is_asked():
    stored = [record("deposit", t=t, amount=str(t), sequence=t) for t in range(1, 6)]
    history = InMemoryHistory(events=stored, anchor=stored[-1])
    fallback = CountingHistory(history)
    planned = PlannedHistory(
        answers=answers(history, (LastQuestion(count=3, events=DEPOSITS),)), fallback=fallback
    )

    shorter = planned.last(count=2, events=DEPOSITS)
    longer = planned.last(count=4, events=DEPOSITS)

    assert [item.amount for item in shorter] == [Decimal(5), Decimal(4)]
    assert [item.amount for item in longer] == [Decimal(5), Decimal(4), Decimal(3), Decimal(2)]
    assert fallback.asked == ["last"]
