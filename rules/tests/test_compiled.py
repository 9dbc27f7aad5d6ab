"""`condition_compile` answers what `passes` answers, for every kind of condition and value."""

import random
from decimal import Decimal

import pytest
import yaml

from rules.compiled import condition_compile
from rules.memory import AppendedHistory
from rules.parser import condition_parse
from rules.tests.records import record

CONDITIONS = [
    "{type: property_match, path: amount, op: gt, value: 100}",
    "{type: property_match, path: amount, op: lte, value: 50.5}",
    "{type: property_match, path: amount, op: eq, value: 20}",
    "{type: property_match, path: event_type, op: eq, value: withdraw}",
    "{type: property_match, path: event_type, op: neq, value: withdraw}",
    "{type: property_match, path: event_type, op: in, value: [deposit, '12']}",
    "{type: property_match, path: event_type, op: nin, value: [deposit, 12]}",
    "{type: property_match, path: event_type, op: eq, value: 12}",
    "{type: property_match, path: properties.level, op: gte, value: 2}",
    "{type: property_match, path: user_traits.vip, op: eq, value: true}",
    "{type: sequence, count: 3, event_types: [deposit, withdraw],"
    " match: {type: property_match, path: event_type, op: eq, value: withdraw}}",
    "{type: sequence, count: 3, event_types: [deposit], increasing: amount}",
    "{type: sequence, count: 2, increasing: properties.level}",
    "{type: sequence, count: 2, match: {any: [{type: property_match, path: amount, op: gt,"
    " value: 10}, {type: property_match, path: event_type, op: eq, value: deposit}]}}",
    "{type: window_aggregate, function: sum, path: amount, event_types: [deposit],"
    " window: {before_seconds: 30}, op: gt, value: 200}",
    "{type: window_aggregate, function: count, window: {before_seconds: 60, after_seconds: 5},"
    " op: eq, value: 2}",
    "{type: window_aggregate, function: max, path: amount, window: {before_seconds: 20},"
    " op: neq, value: 7}",
    "{type: proximity, event_type: deposit, window: {before_seconds: 10}}",
    "{all: [{type: property_match, path: amount, op: gt, value: 5},"
    " {not: {type: property_match, path: event_type, op: eq, value: deposit}}]}",
]
AMOUNTS = [None, "5", "7", "12", "20", "50.5", "100", "100.01", "150", "NaN", "Infinity"]


@pytest.mark.parametrize("text", CONDITIONS)
def test_a_compiled_condition_answers_what_passes_answers(text):
    condition = condition_parse(yaml.safe_load(text), path="condition")
    compiled = condition_compile(condition)
    rng = random.Random(text)
    history = AppendedHistory()
    t = 0
    for sequence in range(1, 300):
        t += rng.choice((0, 1, 5, 20))
        amount = rng.choice(AMOUNTS)
        event = record(
            rng.choice(("deposit", "withdraw", "12")),
            t=t,
            amount=amount,
            sequence=sequence,
            properties=rng.choice(({}, {"level": rng.choice((1, 2, 3, "3", None))})),
            user_traits=rng.choice(({}, {"vip": True}, {"vip": "true"})),
        )
        if amount is not None and rng.random() < 0.1:
            event = record(event.event_type, t=t, sequence=sequence)
            object.__setattr__(event, "amount", int(Decimal(amount)) if amount[0].isdigit() else 0)
        history.append(event)
        assert compiled(event, history) == condition.passes(event=event, history=history)
