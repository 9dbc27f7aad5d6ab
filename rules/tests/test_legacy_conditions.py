"""The existing notification format's conditions, evaluated against an in-memory history."""

from decimal import Decimal
from typing import Any

import pytest

from rules.notification_parser import notification_rules_parse
from rules.history import EventRecord
from rules.memory import InMemoryHistory
from rules.tests.records import record

DAY = 86_400


def rule_text(conditions: str) -> str:
    """Return a rules file with one rule for `trigger` events and `conditions` (YAML)."""
    return f"""
rules:
  - notification_type: NOTE
    event_type: trigger
    event_conditions:
{conditions}
"""


def match_text(path: str, operator: str, value: str, *, indent: int = 6) -> str:
    """Return one `event_conditions` item holding a property_match, indented `indent` spaces."""
    item = f"""- property_match:
    property_xpath: {path}
    operator: {operator}
    value: {value}
  event_proximity: null
  event_logic: null
"""
    return "".join(" " * indent + line for line in item.splitlines(keepends=True))


def condition_of(conditions: str) -> Any:
    (rule,) = notification_rules_parse(rule_text(conditions))
    return rule.condition


def passes(condition: Any, events: list[EventRecord]) -> bool:
    """Return whether the last of `events` passes `condition` over all of them."""
    anchor = events[-1]
    return condition.passes(event=anchor, history=InMemoryHistory(events=events, anchor=anchor))


def trigger(**properties: Any) -> EventRecord:
    return record("trigger", t=10 * DAY, sequence=100, properties=properties)


@pytest.mark.parametrize(
    "actual, value, expected",
    [
        (True, '"true"', True),
        ("true", '"true"', True),
        ("True", '"true"', True),
        ("TRUE", "true", True),
        (False, '"true"', False),
        ("false", '"true"', False),
        (1, '"true"', False),
        (True, "True", True),
        ("INSUFFICIENT_FUNDS", "INSUFFICIENT_FUNDS", True),
        ("insufficient_funds", "INSUFFICIENT_FUNDS", True),
        ("CARD_EXPIRED", "INSUFFICIENT_FUNDS", False),
        (3, '"3"', True),
        ("3", "3", True),
        (3.0, '"3"', False),
        (3.0, "3.0", True),
        (1.5, '"1.5"', True),
        ({"a": 1}, '"a"', False),
        ([1], '"1"', False),
    ],
)
def test_eq_compares_both_sides_as_text_in_any_case(actual, value, expected):
    condition = condition_of(match_text("properties.x", "EQ", value))

    assert passes(condition, [trigger(x=actual)]) is expected


@pytest.mark.parametrize("actual", [None, "absent"])
def test_eq_on_a_missing_or_null_value_fails(actual):
    condition = condition_of(match_text("properties.x", "EQ", '"None"'))
    properties = {} if actual == "absent" else {"x": None}

    assert passes(condition, [trigger(**properties)]) is False


@pytest.mark.parametrize(
    "operator, actual, expected",
    [
        ("GTE", 3, True),
        ("GTE", "3", True),
        ("GTE", 2, False),
        ("GTE", 4.5, True),
        ("GTE", "2.99", False),
        ("GTE", " 3 ", True),
        ("GTE", "1e1", True),
        ("GTE", "three", False),
        ("GTE", "", False),
        ("GTE", "NaN", False),
        ("GTE", True, False),
        ("GTE", None, False),
        ("GT", 3, False),
        ("GT", "3.01", True),
        ("LT", 3, False),
        ("LT", -1, True),
        ("LTE", 3, True),
        ("LTE", "3.0", True),
        ("LTE", 3.5, False),
    ],
)
def test_ordering_operators_compare_as_numbers(operator, actual, expected):
    condition = condition_of(match_text("properties.n", operator, '"3"'))

    assert passes(condition, [trigger(n=actual)]) is expected


@pytest.mark.parametrize(
    "operator, actual, expected",
    [
        ("IN", "GB", True),
        ("IN", "gb", True),
        ("IN", "FR", True),
        ("IN", "DE", False),
        ("IN", None, False),
        ("NIN", "DE", True),
        ("NIN", "gb", False),
        ("NIN", None, True),
    ],
)
def test_in_and_nin_compare_with_each_item_as_text(operator, actual, expected):
    condition = condition_of(match_text("user_traits.country", operator, "[GB, fr]"))
    event = record("trigger", user_traits={} if actual is None else {"country": actual})

    assert passes(condition, [event]) is expected


def test_operator_is_read_in_any_case():
    condition = condition_of(match_text("properties.n", "gte", "3"))

    assert passes(condition, [trigger(n=3)]) is True


def test_property_xpath_reads_the_event_type_and_nested_properties():
    by_type = condition_of(match_text("event_type", "EQ", "TRIGGER"))
    nested = condition_of(match_text("properties.card.kind", "EQ", "debit"))

    assert passes(by_type, [trigger()]) is True
    assert passes(nested, [trigger(card={"kind": "DEBIT"})]) is True
    assert passes(nested, [trigger(card="DEBIT")]) is False


def test_an_empty_list_of_conditions_always_passes():
    (rule,) = notification_rules_parse(
        "rules: [{notification_type: N, event_type: trigger, event_conditions: []}]"
    )

    assert passes(rule.condition, [trigger()]) is True


def test_the_list_of_conditions_is_a_conjunction():
    condition = condition_of(
        match_text("properties.a", "EQ", "1") + match_text("properties.b", "EQ", "2")
    )

    assert passes(condition, [trigger(a=1, b=2)]) is True
    assert passes(condition, [trigger(a=1, b=3)]) is False
    assert passes(condition, [trigger(a=0, b=2)]) is False


def test_an_item_with_several_non_null_keys_needs_all_of_them():
    condition = condition_of(
        """      - property_match: {property_xpath: properties.a, operator: EQ, value: "1"}
        event_proximity: {event_type: signup, time_proximity: 1d}
"""
    )
    signup = record("signup", t=10 * DAY - 5, sequence=1)

    assert passes(condition, [signup, trigger(a=1)]) is True
    assert passes(condition, [trigger(a=1)]) is False
    assert passes(condition, [signup, trigger(a=2)]) is False


def logic(kind: str) -> Any:
    both = match_text("properties.a", "EQ", "1", indent=12) + match_text(
        "properties.b", "EQ", "1", indent=12
    )
    return condition_of(f"""      - property_match: null
        event_proximity: null
        event_logic:
          logic: {kind}
          event_conditions:
{both}""")


@pytest.mark.parametrize(
    "kind, a, b, expected",
    [
        ("AND", 1, 1, True),
        ("AND", 1, 0, False),
        ("AND", 0, 0, False),
        ("OR", 1, 0, True),
        ("OR", 0, 1, True),
        ("OR", 0, 0, False),
        ("NOT", 1, 1, False),
        ("NOT", 1, 0, True),
        ("NOT", 0, 0, True),
        ("not", 0, 0, True),
    ],
)
def test_event_logic_combines_its_conditions(kind, a, b, expected):
    assert passes(logic(kind), [trigger(a=a, b=b)]) is expected


def proximity(duration: str, nested: str = "[]") -> Any:
    return condition_of(f"""      - property_match: null
        event_proximity:
          event_type: signup_completed
          time_proximity: {duration}
          event_conditions: {nested}
        event_logic: null
""")


@pytest.mark.parametrize(
    "seconds_before, expected",
    [(0, True), (1, True), (DAY - 1, True), (DAY, True), (DAY + 1, False), (-1, False)],
)
def test_proximity_looks_back_inclusively_and_never_forward(seconds_before, expected):
    link = record("trigger", t=10 * DAY, sequence=2)
    signup = record("signup_completed", t=10 * DAY - seconds_before, sequence=1)

    assert passes(proximity("1d"), [signup, link]) is expected


def test_proximity_never_matches_a_later_event_even_when_it_is_stored_first():
    link = record("trigger", t=10 * DAY, sequence=2)
    later_signup = record("signup_completed", t=10 * DAY + 60, sequence=1)
    history = InMemoryHistory(events=[later_signup, link], anchor=link)

    assert proximity("1d").passes(event=link, history=history) is False


def test_proximity_never_matches_the_event_itself():
    (rule,) = notification_rules_parse("""
rules:
  - notification_type: N
    event_type: signup_completed
    event_conditions:
      - event_proximity: {event_type: signup_completed, time_proximity: 1d}
""")
    signup = record("signup_completed", t=DAY, sequence=1)

    assert passes(rule.condition, [signup]) is False
    assert passes(rule.condition, [record("signup_completed", sequence=0), signup]) is True


@pytest.mark.parametrize(
    "duration, seconds",
    [
        ("1d", DAY),
        ("24h", DAY),
        ("30m", 1800),
        ("1h30m", 5400),
        ("90s", 90),
        ("1d2h3m4s", DAY + 7384),
        ('"90"', 90),
        ("3600", 3600),
        ("0", 0),
    ],
)
def test_durations_are_read_in_days_hours_minutes_seconds(duration, seconds):
    (rule,) = notification_rules_parse(f"""
rules:
  - notification_type: N
    event_type: trigger
    event_conditions:
      - event_proximity: {{event_type: signup_completed, time_proximity: {duration}}}
""")

    assert rule.condition.conditions[0].seconds == seconds


def test_nested_conditions_of_a_proximity_apply_to_the_other_event():
    condition = proximity(
        "1h", "[{property_match: {property_xpath: properties.plan, operator: EQ, value: PRO}}]"
    )
    pro = record("signup_completed", t=10 * DAY - 60, sequence=1, properties={"plan": "pro"})
    basic = record("signup_completed", t=10 * DAY - 60, sequence=1, properties={"plan": "basic"})

    assert passes(condition, [pro, trigger(plan="basic")]) is True
    assert passes(condition, [basic, trigger(plan="pro")]) is False


def test_a_rule_may_use_the_rule_language_instead():
    (rule,) = notification_rules_parse("""
rules:
  - notification_type: BIG_SPENDER
    event_type: payment
    condition:
      type: window_aggregate
      function: sum
      path: amount
      event_type: payment
      window: {before_seconds: 3600}
      op: gt
      value: 100
""")
    first = record("payment", t=0, amount="60", sequence=1)
    second = record("payment", t=60, amount="50", sequence=2)

    assert passes(rule.condition, [first]) is False
    assert passes(rule.condition, [first, second]) is True


def test_a_sequence_works_in_a_notification_rule():
    (rule,) = notification_rules_parse("""
rules:
  - notification_type: THIRD_FAILURE
    event_type: payment_failed
    condition:
      type: sequence
      count: 3
      event_types: [payment_failed, payment_succeeded]
      match: {type: property_match, path: event_type, op: eq, value: payment_failed}
""")
    failures = [record("payment_failed", t=t, sequence=t) for t in range(3)]
    success = record("payment_succeeded", t=1, sequence=10)

    assert passes(rule.condition, failures) is True
    assert passes(rule.condition, [*failures[:2], success, failures[2]]) is False


def test_numbers_in_values_are_exact_decimals():
    condition = condition_of(match_text("properties.amount", "GT", "0.1"))

    assert condition.conditions[0].value == Decimal("0.1")
    assert passes(condition, [trigger(amount=0.1)]) is False
    assert passes(condition, [trigger(amount="0.10000001")]) is True
